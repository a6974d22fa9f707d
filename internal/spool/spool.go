// Package spool is the relay's durable store: every accepted event is on disk (in the
// intake log, fdatasync'd with group commit) before Tableau gets its 200, is indexed in
// bbolt right after, and keeps its delivery state there until it has been posted and
// its retention has passed.
package spool

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tabhook/tabhook/internal/diskspace"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
)

var _ store.Store = (*Spool)(nil)

// The states and errors of the store contract, for this package's callers.
const (
	Pending   = store.Pending
	Delivered = store.Delivered
	Dead      = store.Dead
)

// Errors of the store contract.
var (
	ErrNotFound  = store.ErrNotFound
	ErrDelivered = store.ErrDelivered
	ErrClosed    = store.ErrClosed
)

// record is the on-disk form of a store.Record, in the index and the intake log.
type record = store.Stored

func toDisk(r store.Record) record { return record(r) }

var (
	bucketEvents = []byte("events")
	bucketKeys   = []byte("keys")    // dedup key → event ID
	bucketQueue  = []byte("pending") // IDs of pending events, so a sweep reads only those
	bucketItems  = []byte("items")   // store.UpdateItem's values
)

// Options tune the spool.
type Options struct {
	ReadOnly bool          // open for inspection while a relay holds the spool
	Timeout  time.Duration // how long to wait for another process's lock; default 1s
	// Sync makes a file durable; default fdatasync. Tests inject failures here.
	Sync func(*os.File) error
	// OnError, when set, hears about index failures (the records stay in the log).
	OnError func(error)
	// MaxSize caps the backlog: the stored size of the events not yet delivered
	// (pending and dead). At the cap intake is refused (503, Tableau retries) until
	// deliveries, retries or the pruning of old dead letters bring it under. Delivered
	// history does not count: it gives way on its own (retention, and first when the
	// disk fills). 0: no cap.
	MaxSize int64
	// OnRefusing, when set, hears when intake starts or stops being refused (the
	// backlog at MaxSize, or the disk full), with the reason while it is.
	OnRefusing func(refusing bool, why error)
	// OnCompact, when set, hears the index's size before and after a compaction.
	OnCompact func(before, after int64)
	// CompactMin is the index size from which a mostly empty index is compacted after
	// a prune (so the state directory shrinks back after a storm); default 8 MiB.
	CompactMin int64
	// Reserve is the headroom kept for the index (reserve.go); default 4 MiB, at most
	// an eighth of the file system; negative: none.
	Reserve int64

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
	indexed  *sync.Cond            // signalled when inflight shrinks (Flush)
	known    map[keyHash]uint64    // every indexed dedup key's hash → event ID: the index's keys, in memory
	nextID   uint64
	closed   bool
	// The pending events' due times and the leases on them, in memory: claims are
	// answered without reading the index. One process holds the spool, so leases
	// need not be durable: a crash ends them all.
	due map[uint64]time.Time // pending event → NextTry
	// dests are the pending events of destinations other than Slack (most are Slack's,
	// which are not kept here), for Expedite.
	dests   map[uint64]string
	leases  map[uint64]time.Time // claimed event → lease end
	held    map[uint64]bool      // leases that are holds (Hold), which Release keeps
	tokens  map[uint64]uint64    // pending event → the token of its latest claim (fencing)
	token   uint64               // the last token given
	changed chan struct{}

	full    bool             // the reserve is released: intake refused (under mu)
	damage  []string         // damaged state found at open and set aside
	atCap   bool             // the backlog is at MaxSize: intake refused (under mu)
	sizes   map[uint64]int64 // undelivered (pending and dead) event → its stored size
	backlog int64            // the sum of sizes
	dir     string
	// dbMu lets compaction swap the index file: every use of db holds it for reading,
	// compaction for writing. Intake does not wait on it (the intake log acknowledges).
	dbMu    sync.RWMutex
	quit    chan struct{} // closed by Close: stops the reserve's restorer
	restore sync.WaitGroup

	index chan logged
	done  chan struct{}
}

// logged is a record in the intake log, with its encoding, on its way to the index.
type logged struct {
	rec  store.Record
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
			return nil, fmt.Errorf("the state directory %s cannot be created or written (%w); choose another --state-dir, or make it writable", dir, err)
		}
	}
	s, err := openIndexed(dir, o, nil)
	if errors.Is(err, errCorrupt) && !o.ReadOnly {
		// Never a crash loop on damaged state: set the index aside (kept for
		// inspection), recover what can be read of it, and start.
		salvaged, note := setAside(dir, err)
		s, err = openIndexed(dir, o, salvaged)
		if err == nil {
			s.noteDamage(note)
		}
	}
	if err != nil {
		return nil, err
	}
	if o.ReadOnly {
		return s, nil
	}
	for _, d := range s.damage {
		if o.OnError != nil {
			o.OnError(errors.New(d))
		}
	}
	if s.reserveSize() > 0 {
		if err := makeReserve(dir, s.reserveSize()); err != nil {
			if !isNoSpace(err) {
				_ = s.Close()
				return nil, fmt.Errorf("make the disk reserve: %w", err)
			}
			s.fill() // started on a full disk: deliver what is stored, take nothing new
		}
	}
	return s, nil
}

// openIndexed opens the index and, unless read-only, brings it up to date with the
// intake log; salvaged records (from a damaged index) are put in first. A damaged index
// — an error or a panic from bbolt — is reported as errCorrupt.
func openIndexed(dir string, o Options, salvaged []store.Record) (s *Spool, err error) {
	path := filepath.Join(dir, FileName)
	defer func() {
		if p := recover(); p != nil {
			if s != nil && s.db != nil {
				_ = s.db.Close()
			}
			s, err = nil, fmt.Errorf("%w: %s: %v", errCorrupt, path, p)
		}
	}()
	if !o.ReadOnly {
		if err := precheck(path); err != nil {
			return nil, err
		}
	}
	// The freelist is rebuilt at open rather than written at every commit: the index
	// commits often and the intake log, not the index, carries durability at intake.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("open spool %s: another tabhook process holds it", path)
	case errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrChecksum) || errors.Is(err, bolt.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v", errCorrupt, path, err)
	case err != nil:
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	s = &Spool{db: db, opts: o, dir: dir, quit: make(chan struct{}), inflight: map[string]*accepting{}, known: map[keyHash]uint64{}, done: make(chan struct{}),
		due: map[uint64]time.Time{}, dests: map[uint64]string{}, leases: map[uint64]time.Time{}, held: map[uint64]bool{}, tokens: map[uint64]uint64{}, changed: make(chan struct{}, 1), sizes: map[uint64]int64{}}
	s.indexed = sync.NewCond(&s.mu)
	if o.ReadOnly {
		return s, nil
	}
	if o.Sync == nil {
		s.opts.Sync = fdatasync
	}
	if err := s.init(dir, salvaged); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// Damaged lists what was found damaged at open and set aside; empty when nothing was.
func (s *Spool) Damaged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.damage...)
}

func (s *Spool) noteDamage(note string) {
	s.mu.Lock()
	s.damage = append(s.damage, note)
	s.mu.Unlock()
}

func (s *Spool) reserveSize() int64 {
	if s.opts.Reserve != 0 {
		return max(s.opts.Reserve, 0)
	}
	size := int64(defaultReserve)
	if u, ok := diskspace.Of(s.dir); ok {
		size = min(size, int64(u.Total/8))
	}
	return size
}

// Full reports whether intake is refused: the disk filled up, or the backlog reached
// MaxSize.
func (s *Spool) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full || s.atCap
}

// Backlog is the stored size of the events not yet delivered (pending and dead): what
// MaxSize caps.
func (s *Spool) Backlog() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backlog
}

// ErrAtCap refuses intake while the backlog is at MaxSize.
var ErrAtCap = store.ErrAtCap

// setSize notes an undelivered event's stored size (size < 0: it is delivered or
// gone) and whether the backlog is now at the cap. Under mu; it returns the change of
// the refusing state to announce once mu is released.
func (s *Spool) setSize(id uint64, size int64) (announce func()) {
	s.backlog -= s.sizes[id]
	if size < 0 {
		delete(s.sizes, id)
	} else {
		s.sizes[id] = size
		s.backlog += size
	}
	return s.checkCap()
}

// checkCap recomputes atCap under mu and returns the announcement of a change.
func (s *Spool) checkCap() func() {
	was := s.full || s.atCap
	s.atCap = s.opts.MaxSize > 0 && s.backlog >= s.opts.MaxSize
	return s.refusingChanged(was)
}

// refusingChanged returns, under mu, the call that tells OnRefusing of a change from
// was; nil when nothing changed.
func (s *Spool) refusingChanged(was bool) func() {
	now := s.full || s.atCap
	if now == was || s.opts.OnRefusing == nil {
		return nil
	}
	var why error
	switch {
	case s.full:
		why = ErrFull
	case s.atCap:
		why = ErrAtCap
	}
	return func() { s.opts.OnRefusing(now, why) }
}

func call(fn func()) {
	if fn != nil {
		fn()
	}
}

// fill refuses intake and tries, every few seconds, to make the reserve again: no
// signal says when space is freed, so this is the one place that polls.
func (s *Spool) fill() {
	s.mu.Lock()
	if s.full {
		s.mu.Unlock()
		return
	}
	s.full = true
	announce := s.refusingChanged(s.atCap)
	s.mu.Unlock()
	call(announce)
	if s.opts.OnError != nil {
		s.opts.OnError(fmt.Errorf("the disk of %s is full: new events are refused (503, Tableau retries) and the stored ones are still delivered; free space and intake resumes by itself", s.dir))
	}
	s.restore.Add(1)
	go func() {
		defer s.restore.Done()
		t := time.NewTicker(restoreEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
			if makeReserve(s.dir, s.reserveSize()) != nil {
				// Delivered history gives way before new events are refused for long:
				// the oldest of it goes, and the index is compacted to free the room.
				if n, _ := s.dropHistory(); n > 0 {
					s.compact()
				}
				if makeReserve(s.dir, s.reserveSize()) != nil {
					continue
				}
			}
			s.mu.Lock()
			s.full = false
			announce := s.refusingChanged(true)
			s.mu.Unlock()
			call(announce)
			return
		}
	}()
}

// restoreEvery is how often a full disk is checked for room for the reserve.
var restoreEvery = 5 * time.Second

// init creates the buckets, replays the intake log into the index, and starts the
// indexer.
func (s *Spool) init(dir string, salvaged []store.Record) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketKeys, bucketQueue, bucketItems} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := putSalvaged(tx, salvaged); err != nil {
			return err
		}
		if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
			s.nextID = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("initialise spool: %w", err)
	}
	recs, last, damage, err := replayAll(dir)
	s.damage = append(s.damage, damage...)
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
	s.signal()
	w, err := openWAL(dir, last+1, s.opts.Sync, s.opts.segmentSize)
	if err != nil {
		return err
	}
	// Deduplication asks memory, not the index, on the acknowledgement's path; so do
	// claims.
	err = s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			s.known[hashKey(string(k))] = binary.BigEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return err
		}
		events := tx.Bucket(bucketEvents)
		// The backlog's dead letters: a scan of raw values, no decoding.
		c := events.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if bytes.Contains(v, deadMark) {
				s.setSize(binary.BigEndian.Uint64(k), int64(len(v)))
			}
		}
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			v := events.Get(k)
			var d record
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			s.setSize(d.ID, int64(len(v)))
			s.due[d.ID] = d.NextTry
			if d.Destination != "" {
				s.dests[d.ID] = d.Destination
			}
			return nil
		})
	})
	if err != nil {
		_ = w.close()
		return fmt.Errorf("load deduplication keys and pending events: %w", err)
	}
	s.wal = w
	s.index = make(chan logged, 4096)
	go s.indexLoop()
	return nil
}

// keyHash is a deduplication key as memory keeps it: 16 bytes of its SHA-256 instead
// of the key itself (about 80 bytes) — a third of the memory per retained event, with
// a collision as likely as two UUIDs being equal.
type keyHash [16]byte

func hashKey(k string) keyHash {
	sum := sha256.Sum256([]byte(k))
	return keyHash(sum[:16])
}

// deadMark is how a dead letter's state reads in its stored JSON (store.Stored).
var deadMark = []byte(`"state":"dead"`)

// Changed is signalled when events may have become due (store.Store).
func (s *Spool) Changed() <-chan struct{} { return s.changed }

func (s *Spool) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
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
	close(s.quit)
	s.restore.Wait()
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	return errors.Join(s.wal.close(), s.db.Close())
}

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

// Accept stores a new event durably and returns its record. When an identical event is
// already stored, it returns that record's ID with dup=true and stores nothing.
func (s *Spool) Accept(p payload.Payload, now time.Time) (rec store.Record, dup bool, err error) {
	return s.AcceptFor(p, "", now)
}

// AcceptFor stores the event's record for a destination, as Accept does (store.Store).
func (s *Spool) AcceptFor(p payload.Payload, destination string, now time.Time) (rec store.Record, dup bool, err error) {
	if s.wal == nil {
		return store.Record{}, false, errors.New("spool is open read-only")
	}
	key := store.KeyFor(p, destination)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.Record{}, false, ErrClosed
	}
	if s.full {
		s.mu.Unlock()
		return store.Record{}, false, ErrFull
	}
	if s.atCap {
		s.mu.Unlock()
		return store.Record{}, false, ErrAtCap
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
				return store.Record{ID: a.id, Key: key, Destination: destination, Payload: p, State: Pending}, true, nil
			}
			continue // the first delivery was not stored: this one tries
		}
		if id, ok := s.known[hashKey(key)]; ok {
			s.mu.Unlock()
			return store.Record{ID: id, Key: key, Destination: destination, Payload: p}, true, nil
		}
		s.nextID++
		a := &accepting{id: s.nextID, done: make(chan struct{})}
		s.inflight[key] = a
		s.mu.Unlock()

		rec = store.Record{ID: a.id, Key: key, Destination: destination, Payload: p, ReceivedAt: now.UTC(), State: Pending}
		data := encodeNew(rec)
		seg, err := s.wal.append(data)
		if err != nil {
			s.mu.Lock()
			delete(s.inflight, key)
			s.indexed.Broadcast()
			s.mu.Unlock()
			a.err = err
			close(a.done)
			return store.Record{}, false, fmt.Errorf("store event: %w", err)
		}
		s.mu.Lock()
		announce := s.setSize(rec.ID, int64(len(data)))
		s.mu.Unlock()
		call(announce)
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

// Flush waits until every accepted event is indexed (readable with Get and List).
func (s *Spool) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.inflight) > 0 {
		s.indexed.Wait()
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
			if b, err = json.Marshal(toDisk(rec)); err != nil {
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
			err := s.update(func(tx *bolt.Tx) error { return putNew(tx, batch) })
			if err == nil {
				break
			}
			if isNoSpace(err) && s.reserveSize() > 0 {
				// Acknowledged events must reach the index: give it the reserve's room,
				// and take no new events until the reserve can be made again.
				if released, _ := releaseReserve(s.dir); released {
					s.fill()
					continue
				}
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
				s.known[hashKey(it.rec.Key)] = it.rec.ID
				s.due[it.rec.ID] = time.Time{}
				if it.rec.Destination != "" {
					s.dests[it.rec.ID] = it.rec.Destination
				}
			}
		}
		s.indexed.Broadcast()
		s.mu.Unlock()
		s.signal()
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
func (s *Spool) Get(id uint64) (store.Record, error) {
	var rec store.Record
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		rec, err = get(tx, id)
		return err
	})
	return s.shown(rec), err
}

// shown adds who holds a pending record's live claim: this process (one process holds
// the spool), and until when.
func (s *Spool) shown(r store.Record) store.Record {
	if r.State != Pending {
		return r
	}
	s.mu.Lock()
	until, leased := s.leases[r.ID]
	held := s.held[r.ID]
	s.mu.Unlock()
	if leased && !held && until.After(time.Now()) {
		r.Holder, r.LeaseUntil = store.ThisProcess(), until
	}
	return r
}

func get(tx *bolt.Tx, id uint64) (store.Record, error) {
	v := tx.Bucket(bucketEvents).Get(idKey(id))
	if v == nil {
		return store.Record{}, ErrNotFound
	}
	var d record
	if err := json.Unmarshal(v, &d); err != nil {
		return store.Record{}, fmt.Errorf("event %d: %w", id, err)
	}
	return store.Record(d), nil
}

// fenced shows fn the token of the claim that holds the record now (store.Record's
// Lease), so a holder whose claim was taken can refuse its own write.
func (s *Spool) fenced(fn func(*store.Record) error) func(*store.Record) error {
	return func(r *store.Record) error {
		s.mu.Lock()
		r.Lease = s.tokens[r.ID]
		s.mu.Unlock()
		return fn(r)
	}
}

// Update changes one record durably.
func (s *Spool) Update(id uint64, fn func(*store.Record) error) (store.Record, error) {
	var rec store.Record
	fn = s.fenced(fn)
	err := s.write(func(tx *bolt.Tx) error {
		var err error
		rec, err = update(tx, id, fn)
		return err
	})
	if err == nil {
		s.track(rec)
	}
	return rec, err
}

// UpdateMany changes several records in one durable transaction.
func (s *Spool) UpdateMany(ids []uint64, fn func(*store.Record) error) error {
	var recs []store.Record
	fn = s.fenced(fn)
	err := s.write(func(tx *bolt.Tx) error {
		recs = recs[:0]
		for _, id := range ids {
			rec, err := update(tx, id, fn)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return nil
	})
	if err == nil {
		s.track(recs...)
	}
	return err
}

// write commits a change to the index. On a full disk it gives the index the
// reserve's room (refusing new events meanwhile) and tries once more: delivering what
// was acknowledged must not stop for lack of space.
func (s *Spool) write(fn func(*bolt.Tx) error) error {
	err := s.update(fn)
	if isNoSpace(err) && s.reserveSize() > 0 {
		if released, _ := releaseReserve(s.dir); released {
			s.fill()
			err = s.update(fn)
		}
	}
	return err
}

// track keeps the in-memory due times and the backlog in step with committed records.
func (s *Spool) track(recs ...store.Record) {
	s.mu.Lock()
	var announce func()
	for _, r := range recs {
		if r.State == Pending {
			s.due[r.ID] = r.NextTry
			if r.Destination != "" {
				s.dests[r.ID] = r.Destination
			}
			continue
		}
		delete(s.due, r.ID)
		delete(s.dests, r.ID)
		delete(s.leases, r.ID)
		delete(s.held, r.ID)
		delete(s.tokens, r.ID)
		if r.State == Delivered {
			if a := s.setSize(r.ID, -1); a != nil {
				announce = a
			}
		}
	}
	s.mu.Unlock()
	call(announce)
}

func update(tx *bolt.Tx, id uint64, fn func(*store.Record) error) (store.Record, error) {
	rec, err := get(tx, id)
	if err != nil {
		return rec, err
	}
	if err := fn(&rec); err != nil {
		return rec, err
	}
	out, err := json.Marshal(toDisk(rec))
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
	return rec, tx.Bucket(bucketEvents).Put(idKey(id), out)
}

// Claim leases up to max due, unleased pending events, oldest first (store.Store).
func (s *Spool) Claim(now time.Time, max int, lease time.Duration) ([]store.Record, error) {
	s.mu.Lock()
	var ids []uint64
	for id, at := range s.due {
		if at.After(now) {
			continue
		}
		if until, held := s.leases[id]; held && until.After(now) {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > max {
		ids = ids[:max]
	}
	tokens := make([]uint64, len(ids))
	for i, id := range ids {
		s.leases[id] = now.Add(lease)
		delete(s.held, id)
		s.token++
		s.tokens[id], tokens[i] = s.token, s.token
	}
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil, nil
	}
	out := make([]store.Record, 0, len(ids))
	err := s.view(func(tx *bolt.Tx) error {
		for i, id := range ids {
			rec, err := get(tx, id)
			if err != nil {
				return err
			}
			rec.Lease = tokens[i]
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		s.Release(ids...)
		return nil, err
	}
	return out, nil
}

// Release ends the leases of these events (store.Store); holds stay.
func (s *Spool) Release(ids ...uint64) {
	s.mu.Lock()
	for _, id := range ids {
		if !s.held[id] {
			delete(s.leases, id)
		}
	}
	s.mu.Unlock()
	s.signal()
}

// Extend renews the leases on these events (store.Store).
func (s *Spool) Extend(until time.Time, ids ...uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, leased := s.leases[id]; leased && !s.held[id] {
			s.leases[id] = until
		}
	}
}

// Hold keeps these events unclaimed until then (store.Store): a lease to no one,
// which Release does not end.
func (s *Spool) Hold(until time.Time, ids ...uint64) {
	s.mu.Lock()
	for _, id := range ids {
		s.leases[id], s.held[id] = until, true
	}
	s.mu.Unlock()
	s.signal() // the next due time may have changed
}

// Expedite makes a destination's events waiting on a retry due now (store.Store), in
// memory.
func (s *Spool) Expedite(destination string, now time.Time) (int, error) {
	s.mu.Lock()
	n := 0
	for id, at := range s.due {
		if !at.After(now) || s.dests[id] != destination {
			continue
		}
		if until, claimed := s.leases[id]; claimed && until.After(now) {
			continue
		}
		s.due[id] = time.Time{}
		n++
	}
	s.mu.Unlock()
	if n > 0 {
		s.signal()
	}
	return n, nil
}

// NextDue is when the next pending event is due (store.Store): its NextTry, or the
// end of its lease or hold when that is later.
func (s *Spool) NextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	ok := false
	for id, at := range s.due {
		if until, held := s.leases[id]; held && until.After(at) {
			at = until
		}
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	return next, ok
}

// Pending counts the events neither delivered nor dead, those not yet indexed included.
func (s *Spool) Pending() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.due) + len(s.inflight), nil
}

// Unindexed counts accepted events not yet readable with Get and List.
func (s *Spool) Unindexed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight)
}

// PendingIDs returns the IDs of pending events, oldest first.
func (s *Spool) PendingIDs() ([]uint64, error) {
	var ids []uint64
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketQueue).ForEach(func(k, _ []byte) error {
			ids = append(ids, binary.BigEndian.Uint64(k))
			return nil
		})
	})
	return ids, err
}

// List returns a page of records, oldest first (store.Store): it reads from the
// page's cursor and stops at its limit, never the whole index.
func (s *Spool) List(q store.ListQuery) ([]store.Record, error) {
	var out []store.Record
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(idKey(q.After + 1)); k != nil; k, v = c.Next() {
			if q.State != "" && !bytes.Contains(v, []byte(`"state":"`+string(q.State)+`"`)) {
				continue // cheaper than decoding every record of another state
			}
			var d record
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !q.Matches(store.Record(d)) {
				continue
			}
			out = append(out, s.shown(store.Record(d)))
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
		// A listing's pages leave the process once read: a full listing does not
		// grow the relay's memory by the store's size.
		releaseMapped(tx)
		return nil
	})
	return out, err
}

// Prune deletes delivered records (and their dedup keys) delivered before cutoff, and
// dead letters received before it: a dead letter nobody retried within the retention
// is not kept for ever. Records are kept in the order they arrived, so the scan stops
// at the first one received after cutoff: none after it can qualify.
func (s *Spool) Prune(cutoff time.Time) (int, error) {
	n := 0
	var gone []string
	var ids []uint64
	err := s.update(func(tx *bolt.Tx) error {
		events, keys := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys)
		c := events.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var d record
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !d.ReceivedAt.Before(cutoff) {
				return nil
			}
			expired := (d.State == Delivered && d.DeliveredAt.Before(cutoff)) || d.State == Dead
			if !expired {
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := keys.Delete([]byte(d.Key)); err != nil {
				return err
			}
			gone = append(gone, d.Key)
			ids = append(ids, d.ID)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err // nothing was deleted: the keys stay known
	}
	s.forget(gone, ids)
	s.compactIfSparse()
	return n, nil
}

// forget drops pruned records' keys and sizes from memory.
func (s *Spool) forget(keys []string, ids []uint64) {
	s.mu.Lock()
	for _, k := range keys {
		delete(s.known, hashKey(k))
	}
	var announce func()
	for _, id := range ids {
		if a := s.setSize(id, -1); a != nil {
			announce = a
		}
	}
	s.mu.Unlock()
	call(announce)
}

// Requeue makes a dead event pending again, due now. A pending event is left as it is.
func (s *Spool) Requeue(id uint64) (store.Record, error) {
	rec, err := s.Update(id, func(r *store.Record) error {
		switch r.State {
		case Delivered:
			return ErrDelivered
		case Dead:
			r.State, r.DeadReason, r.NextTry = Pending, "", time.Time{}
		}
		return nil
	})
	if err == nil {
		s.signal()
	}
	return rec, err
}

// An item's stored value is stamped with when it was last written, for PruneItems:
// itemStamp, then 8 bytes of Unix nanoseconds, then the value. A value written by an
// earlier version has no stamp (values are JSON: never a 0 byte first).
const itemStamp = 0x00

func stampItem(v []byte, at time.Time) []byte {
	out := make([]byte, 9, 9+len(v))
	out[0] = itemStamp
	binary.BigEndian.PutUint64(out[1:], uint64(at.UnixNano()))
	return append(out, v...)
}

// unstampItem is the value and when it was written (zero for an unstamped one).
func unstampItem(b []byte) ([]byte, time.Time) {
	if len(b) >= 9 && b[0] == itemStamp {
		return b[9:], time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))
	}
	return b, time.Time{}
}

// UpdateItem changes one item's value in one index transaction (store.Store).
func (s *Spool) UpdateItem(key string, fn func(old []byte) ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		old, _ := unstampItem(b.Get([]byte(key)))
		if old != nil {
			old = append([]byte(nil), old...) // bbolt's memory is valid only in the transaction
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		out = v
		if v == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), stampItem(v, time.Now()))
	})
	if err != nil {
		return nil, fmt.Errorf("update item %s: %w", key, err)
	}
	return out, nil
}

// UpdateItems changes several items in one transaction (store.Store).
func (s *Spool) UpdateItems(updates []store.ItemUpdate) ([]error, error) {
	errs := make([]error, len(updates))
	err := s.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		now := time.Now()
		for i, u := range updates {
			errs[i] = nil // a retried transaction starts again
			old, _ := unstampItem(b.Get([]byte(u.Key)))
			if old != nil {
				old = append([]byte(nil), old...) // bbolt's memory is valid only in the transaction
			}
			v, err := u.Fn(old)
			if err != nil {
				errs[i] = err
				continue
			}
			if v == nil {
				err = b.Delete([]byte(u.Key))
			} else {
				err = b.Put([]byte(u.Key), stampItem(v, now))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errs, fmt.Errorf("update %d items: %w", len(updates), err)
	}
	return errs, nil
}

// Item reads one item's value (store.Store).
func (s *Spool) Item(key string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v, _ := unstampItem(tx.Bucket(bucketItems).Get([]byte(key))); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// PruneItems deletes the items last written before cutoff (store.Store). An item
// written by an earlier version, with no time, is stamped now: its retention starts.
func (s *Spool) PruneItems(cutoff time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		now := time.Now()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			val, at := unstampItem(v)
			switch {
			case at.IsZero():
				if err := c.Bucket().Put(append([]byte(nil), k...), stampItem(val, now)); err != nil {
					return err
				}
			case at.Before(cutoff):
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune items: %w", err)
	}
	return n, nil
}

// view reads the index under dbMu (compaction may swap the file between reads).
func (s *Spool) view(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// update commits to the index under dbMu.
func (s *Spool) update(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.Update(fn)
}

// defaultCompactMin is the index size from which a mostly empty index is compacted.
const defaultCompactMin = 8 << 20

// compactIfSparse compacts the index when it is large and more than half of it is
// free pages: bbolt reuses free pages but never gives them back to the file system, so
// after a storm the state directory would stay at its largest.
func (s *Spool) compactIfSparse() {
	limit := s.opts.CompactMin
	if limit == 0 {
		limit = defaultCompactMin
	}
	st, err := os.Stat(filepath.Join(s.dir, FileName))
	if err != nil || st.Size() < limit {
		return
	}
	s.dbMu.RLock()
	stats := s.db.Stats()
	page := int64(s.db.Info().PageSize)
	s.dbMu.RUnlock()
	free := int64(stats.FreePageN+stats.PendingPageN) * page
	if free*2 < st.Size() {
		return
	}
	// Index commits wait while the file is copied, and intake waits once the indexer's
	// queue is full: not while deliveries are arriving (the next prune tries again).
	if s.index != nil && len(s.index) > 0 {
		return
	}
	s.compact()
}

// compact rewrites the index into a fresh file holding only live pages and swaps it in.
// Reads and index commits wait meanwhile; intake does not (it acknowledges from the
// intake log). On any failure the old file stays in use.
func (s *Spool) compact() {
	path := filepath.Join(s.dir, FileName)
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	before, _ := os.Stat(path)
	fail := func(err error) {
		_ = os.Remove(tmp)
		if s.opts.OnError != nil {
			s.opts.OnError(fmt.Errorf("compact the spool's index (it stays as it is): %w", err))
		}
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		fail(err)
		return
	}
	if err := bolt.Compact(dst, s.db, 32<<20); err != nil {
		_ = dst.Close()
		fail(err)
		return
	}
	// The new file stays open across the rename: its handle follows it, so there is
	// no moment without an index, and no reopen that could fail.
	if err := os.Rename(tmp, path); err != nil {
		_ = dst.Close()
		fail(err)
		return
	}
	_ = s.wal.syncDir()
	_ = s.db.Close() // the old, now unlinked file
	s.db = dst
	if after, err := os.Stat(path); err == nil && before != nil && s.opts.OnCompact != nil {
		s.opts.OnCompact(before.Size(), after.Size())
	}
}

// dropHistory deletes the oldest quarter of the delivered records (at least 1,000):
// room for new events when the disk is full. Their deduplication keys go with them,
// as at the end of their retention.
func (s *Spool) dropHistory() (int, error) {
	var keys []string
	var ids []uint64
	err := s.update(func(tx *bolt.Tx) error {
		events, kb := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys)
		want := max(events.Stats().KeyN/4, 1000)
		c := events.Cursor()
		for k, v := c.First(); k != nil && len(ids) < want; k, v = c.Next() {
			if !bytes.Contains(v, deliveredMark) {
				continue
			}
			var d record
			if err := json.Unmarshal(v, &d); err != nil || d.State != Delivered {
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			if err := kb.Delete([]byte(d.Key)); err != nil {
				return err
			}
			keys, ids = append(keys, d.Key), append(ids, d.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.forget(keys, ids)
	return len(ids), nil
}

// deliveredMark is how a delivered record's state reads in its stored JSON.
var deliveredMark = []byte(`"state":"delivered"`)

// ReleaseMapped drops the index's pages from the process's resident memory (Linux):
// they are read again from the file (or the page cache) when next needed. The relay
// calls it every health interval; a listing does after each page.
func (s *Spool) ReleaseMapped() {
	_ = s.view(func(tx *bolt.Tx) error {
		releaseMapped(tx)
		return nil
	})
}
