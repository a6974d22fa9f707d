// Package spool is the relay's durable store: every accepted event is on disk (in the
// intake log, fdatasync'd with group commit) before Tableau gets its 200, is indexed in
// bbolt right after, and keeps its delivery state there until it has been posted and
// its retention has passed.
package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tabhook/tabhook/internal/payload"
)

// State is where an event is in its delivery.
type State string

// States.
const (
	Pending   State = "pending"
	Delivered State = "delivered"
	Dead      State = "dead"
)

// Record is one accepted event and its delivery state.
type Record struct {
	ID         uint64          `json:"id"`
	Key        string          `json:"key"`
	Payload    payload.Payload `json:"payload"`
	ReceivedAt time.Time       `json:"received_at"`
	State      State           `json:"state"`
	Attempts   int             `json:"attempts"`
	NextTry    time.Time       `json:"next_try,omitzero"`
	LastError  string          `json:"last_error,omitempty"`
	DeadReason string          `json:"dead_reason,omitempty"`
	// Channel is the Slack channel ID the message went to; MessageTS its timestamp once
	// posted, so a retry (of the preview upload, say) never posts the message again.
	Channel     string    `json:"channel,omitempty"`
	MessageTS   string    `json:"message_ts,omitempty"`
	PostStarted bool      `json:"post_started,omitempty"` // a post was sent; its answer may have been lost
	SentAt      time.Time `json:"sent_at,omitzero"`       // when the first post was sent
	PreviewDone bool      `json:"preview_done,omitempty"`
	Digest      bool      `json:"digest,omitempty"` // posted as part of a digest message
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// Identity is the event's global identity (payload.Identity), which its messages carry.
func (r Record) Identity() string {
	if r.Key == "" {
		return r.Payload.Identity()
	}
	return payload.IdentityOfKey(r.Key)
}

// IDString is the record's ID as the CLI shows it.
func (r Record) IDString() string { return strconv.FormatUint(r.ID, 10) }

var (
	bucketEvents = []byte("events")
	bucketKeys   = []byte("keys")    // dedup key → event ID
	bucketQueue  = []byte("pending") // IDs of pending events, so a sweep reads only those
)

// ErrNotFound is returned for an unknown event ID.
var ErrNotFound = errors.New("no such event in the spool")

// Options tune the spool.
type Options struct {
	ReadOnly bool          // open for inspection while a relay holds the spool
	Timeout  time.Duration // how long to wait for another process's lock; default 1s
	// Sync makes a file durable; default fdatasync. Tests inject failures here.
	Sync func(*os.File) error
	// OnError, when set, hears about index failures (the records stay in the log).
	OnError func(error)

	segmentSize int64 // intake log segment size; tests make it small
}

// Spool is an open spool.
type Spool struct {
	db   *bolt.DB
	wal  *wal // nil when read-only
	opts Options

	mu       sync.Mutex
	accepts  sync.WaitGroup        // Accept calls under way; Close waits for them
	inflight map[string]*accepting // logged, not yet indexed, by dedup key
	known    map[string]uint64     // every indexed dedup key → event ID: the index's keys, in memory
	nextID   uint64
	closed   bool
	notify   func(id uint64)

	index chan logged
	done  chan struct{}
}

// logged is a record in the intake log, with its encoding, on its way to the index.
type logged struct {
	rec  Record
	data []byte
	seg  uint64 // intake log segment holding it
}

// accepting is a delivery being logged; identical deliveries wait for its outcome.
type accepting struct {
	id   uint64
	done chan struct{}
	err  error
}

// indexWindow is how long the indexer gathers records into one commit.
const indexWindow = 100 * time.Millisecond

// FileName is the spool file inside the state directory.
const FileName = "spool.db"

// Open opens (creating when needed) the spool in dir.
func Open(dir string, o Options) (*Spool, error) {
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	path := filepath.Join(dir, FileName)
	// The freelist is rebuilt at open rather than written at every commit: the index
	// commits often and the intake log, not the index, carries durability at intake.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open spool %s: another tabhook process holds it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	s := &Spool{db: db, opts: o, inflight: map[string]*accepting{}, known: map[string]uint64{}, done: make(chan struct{})}
	if o.ReadOnly {
		return s, nil
	}
	if o.Sync == nil {
		o.Sync = fdatasync
		s.opts.Sync = fdatasync
	}
	if err := s.init(dir); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets, replays the intake log into the index, and starts the
// indexer.
func (s *Spool) init(dir string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketKeys, bucketQueue} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
			s.nextID = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("initialise spool: %w", err)
	}
	recs, last, err := replayAll(dir)
	if err == nil && len(recs) > 0 {
		items := make([]logged, len(recs))
		for i, r := range recs {
			items[i] = logged{rec: r}
		}
		err = s.db.Update(func(tx *bolt.Tx) error { return putNew(tx, items) })
	}
	if err == nil {
		// Everything intact is indexed now (and synced); a torn tail goes with the rest.
		err = removeSegments(dir, last)
	}
	if err != nil {
		return fmt.Errorf("replay intake log: %w", err)
	}
	for _, r := range recs {
		s.nextID = max(s.nextID, r.ID)
	}
	w, err := openWAL(dir, last+1, s.opts.Sync, s.opts.segmentSize)
	if err != nil {
		return err
	}
	// Deduplication asks memory, not the index, on the acknowledgement's path.
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			s.known[string(k)] = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		_ = w.close()
		return fmt.Errorf("load deduplication keys: %w", err)
	}
	s.wal = w
	s.index = make(chan logged, 4096)
	go s.indexLoop()
	return nil
}

// OnIndexed sets a function called with each new event's ID once it can be read back
// (Get, List): the moment to schedule its delivery.
func (s *Spool) OnIndexed(fn func(id uint64)) {
	s.mu.Lock()
	s.notify = fn
	s.mu.Unlock()
}

// Close refuses new Accept calls, waits for those under way, stops the indexer after it
// has indexed everything, removes the intake log and closes the files.
func (s *Spool) Close() error {
	if s.wal == nil {
		return s.db.Close()
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.accepts.Wait()
	close(s.index)
	<-s.done
	return errors.Join(s.wal.close(), s.db.Close())
}

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("spool is closed")

// Accept stores a new event durably and returns its record. When an identical event is
// already stored, it returns that record's ID with dup=true and stores nothing.
func (s *Spool) Accept(p payload.Payload, now time.Time) (rec Record, dup bool, err error) {
	if s.wal == nil {
		return Record{}, false, errors.New("spool is open read-only")
	}
	key := p.Key()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Record{}, false, ErrClosed
	}
	s.accepts.Add(1)
	s.mu.Unlock()
	defer s.accepts.Done()
	for {
		s.mu.Lock()
		if a, ok := s.inflight[key]; ok {
			s.mu.Unlock()
			<-a.done
			if a.err == nil {
				return Record{ID: a.id, Key: key, Payload: p, State: Pending}, true, nil
			}
			continue // the first delivery was not stored: this one tries
		}
		if id, ok := s.known[key]; ok {
			s.mu.Unlock()
			return Record{ID: id, Key: key, Payload: p}, true, nil
		}
		s.nextID++
		a := &accepting{id: s.nextID, done: make(chan struct{})}
		s.inflight[key] = a
		s.mu.Unlock()

		rec = Record{ID: a.id, Key: key, Payload: p, ReceivedAt: now.UTC(), State: Pending}
		data := encodeNew(rec)
		seg, err := s.wal.append(data)
		if err != nil {
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
			a.err = err
			close(a.done)
			return Record{}, false, fmt.Errorf("store event: %w", err)
		}
		close(a.done)
		s.index <- logged{rec: rec, data: data, seg: seg}
		return rec, false, nil
	}
}

// gather adds to batch what arrives within indexWindow, up to 4096 records.
func (s *Spool) gather(batch []logged) []logged {
	window := time.NewTimer(indexWindow)
	defer window.Stop()
	for len(batch) < 4096 {
		select {
		case r, ok := <-s.index:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-window.C:
			return batch
		}
	}
	return batch
}

// Unindexed counts accepted events not yet readable with Get and List.
func (s *Spool) Unindexed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight)
}

// Flush waits until every accepted event is indexed (readable with Get and List).
func (s *Spool) Flush() {
	for {
		s.mu.Lock()
		n := len(s.inflight)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// putNew indexes records whose key is not indexed yet (replay may offer known ones).
func putNew(tx *bolt.Tx, items []logged) error {
	events, keys, queue := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys), tx.Bucket(bucketQueue)
	for _, it := range items {
		rec := it.rec
		if keys.Get([]byte(rec.Key)) != nil {
			continue
		}
		b := it.data
		if b == nil {
			var err error
			if b, err = json.Marshal(rec); err != nil {
				return err
			}
		}
		if err := events.Put(idKey(rec.ID), b); err != nil {
			return err
		}
		if err := queue.Put(idKey(rec.ID), nil); err != nil {
			return err
		}
		if err := keys.Put([]byte(rec.Key), idKey(rec.ID)); err != nil {
			return err
		}
	}
	return nil
}

// indexLoop moves logged records into bbolt in batches. A failed commit is retried:
// the records are safe in the log meanwhile, and replayed at the next start if need be.
func (s *Spool) indexLoop() {
	defer close(s.done)
	var batch []logged
	for first := range s.index {
		// Alone, a record is indexed at once (no added latency); when others are
		// already waiting — a burst — gather for a moment: one commit for many records
		// keeps the index's page writes and syncs from competing with the intake log's.
		batch = append(batch[:0], first)
		if len(s.index) > 0 {
			batch = s.gather(batch)
		}
		for wait := 10 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
			err := s.db.Update(func(tx *bolt.Tx) error { return putNew(tx, batch) })
			if err == nil {
				break
			}
			if s.opts.OnError != nil {
				s.opts.OnError(fmt.Errorf("index events: %w", err))
			}
			time.Sleep(wait)
		}
		s.mu.Lock()
		for _, it := range batch {
			if a, ok := s.inflight[it.rec.Key]; ok && a.id == it.rec.ID {
				delete(s.inflight, it.rec.Key)
				s.known[it.rec.Key] = it.rec.ID
			}
		}
		notify := s.notify
		s.mu.Unlock()
		if notify != nil {
			for _, it := range batch {
				notify(it.rec.ID)
			}
		}
		segs := make([]uint64, len(batch))
		for i, it := range batch {
			segs[i] = it.seg
		}
		if err := s.wal.markIndexed(segs); err != nil && s.opts.OnError != nil {
			s.opts.OnError(err)
		}
	}
}

// Get returns one record.
func (s *Spool) Get(id uint64) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEvents).Get(idKey(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &rec)
	})
	return rec, err
}

// Update changes one record durably.
func (s *Spool) Update(id uint64, fn func(*Record) error) (Record, error) {
	var rec Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		rec, err = update(tx, id, fn)
		return err
	})
	return rec, err
}

// UpdateMany changes several records in one durable transaction.
func (s *Spool) UpdateMany(ids []uint64, fn func(*Record) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if _, err := update(tx, id, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

func update(tx *bolt.Tx, id uint64, fn func(*Record) error) (Record, error) {
	var rec Record
	b := tx.Bucket(bucketEvents)
	v := b.Get(idKey(id))
	if v == nil {
		return rec, ErrNotFound
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, err
	}
	if err := fn(&rec); err != nil {
		return rec, err
	}
	out, err := json.Marshal(rec)
	if err != nil {
		return rec, err
	}
	if rec.State == Pending {
		err = tx.Bucket(bucketQueue).Put(idKey(id), nil)
	} else {
		err = tx.Bucket(bucketQueue).Delete(idKey(id))
	}
	if err != nil {
		return rec, err
	}
	return rec, b.Put(idKey(id), out)
}

// PendingIDs returns the IDs of pending events, oldest first.
func (s *Spool) PendingIDs() ([]uint64, error) {
	var ids []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			ids = append(ids, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	return ids, err
}

// List returns the records in a state (all states when state is ""), oldest first.
func (s *Spool) List(state State) ([]Record, error) {
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEvents).ForEach(func(_, v []byte) error {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if state == "" || rec.State == state {
				out = append(out, rec)
			}
			return nil
		})
	})
	return out, err
}

// Prune deletes delivered records (and their dedup keys) delivered before cutoff. Dead
// records stay until retried or deleted by hand. Records are kept in the order they
// arrived, so the scan stops at the first one received after cutoff: none after it can
// have been delivered before.
func (s *Spool) Prune(cutoff time.Time) (int, error) {
	n := 0
	var gone []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		events, keys := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys)
		c := events.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if !rec.ReceivedAt.Before(cutoff) {
				return nil
			}
			if rec.State != Delivered || !rec.DeliveredAt.Before(cutoff) {
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := keys.Delete([]byte(rec.Key)); err != nil {
				return err
			}
			gone = append(gone, rec.Key)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err // nothing was deleted: the keys stay known
	}
	s.mu.Lock()
	for _, k := range gone {
		delete(s.known, k)
	}
	s.mu.Unlock()
	return n, nil
}

// ErrDelivered refuses to retry an event that was posted: that would post it twice.
var ErrDelivered = errors.New("the event was delivered; retrying it would post it twice")

// Retry makes a dead event pending again, due now. A pending event is left as it is.
func (s *Spool) Retry(id uint64) (Record, error) {
	return s.Update(id, func(r *Record) error {
		switch r.State {
		case Delivered:
			return ErrDelivered
		case Dead:
			r.State, r.DeadReason, r.NextTry = Pending, "", time.Time{}
		}
		return nil
	})
}
