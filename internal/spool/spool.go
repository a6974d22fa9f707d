// Package spool is the relay's durable store: every accepted event is committed to disk
// (bbolt, fsync'd) before Tableau gets its 200, and keeps its delivery state until it
// has been posted and its retention has passed.
package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	PreviewDone bool      `json:"preview_done,omitempty"`
	Digest      bool      `json:"digest,omitempty"` // posted as part of a digest message
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
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
}

// Spool is an open spool file.
type Spool struct {
	db *bolt.DB
}

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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, ReadOnly: o.ReadOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open spool %s: another tabhook process holds it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	// Concurrent deliveries share one commit (and one fsync); a short delay keeps the
	// acknowledgement fast while still grouping bursts.
	db.MaxBatchDelay = 2 * time.Millisecond
	s := &Spool{db: db}
	if !o.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketEvents, bucketKeys, bucketQueue} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("initialise spool: %w", err)
		}
	}
	return s, nil
}

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

// Path is the spool file.
func (s *Spool) Path() string { return s.db.Path() }

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

// Accept stores a new event durably and returns its record. When an identical event is
// already stored, it returns that record and dup=true and stores nothing.
func (s *Spool) Accept(p payload.Payload, now time.Time) (rec Record, dup bool, err error) {
	key := p.Key()
	err = s.db.Batch(func(tx *bolt.Tx) error {
		events, keys := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys)
		if v := keys.Get([]byte(key)); v != nil {
			// Batch may run this function again; decide from the data, not from a flag.
			if err := json.Unmarshal(events.Get(v), &rec); err != nil {
				return fmt.Errorf("decode event: %w", err)
			}
			dup = true
			return nil
		}
		dup = false
		id, err := events.NextSequence()
		if err != nil {
			return err
		}
		rec = Record{ID: id, Key: key, Payload: p, ReceivedAt: now.UTC(), State: Pending}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := events.Put(idKey(id), b); err != nil {
			return err
		}
		if err := tx.Bucket(bucketQueue).Put(idKey(id), nil); err != nil {
			return err
		}
		return keys.Put([]byte(key), idKey(id))
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("store event: %w", err)
	}
	return rec, dup, nil
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

// Counts returns how many records are in each state.
func (s *Spool) Counts() (map[State]int, error) {
	recs, err := s.List("")
	if err != nil {
		return nil, err
	}
	c := map[State]int{Pending: 0, Delivered: 0, Dead: 0}
	for _, r := range recs {
		c[r.State]++
	}
	return c, nil
}

// Prune deletes delivered records (and their dedup keys) delivered before cutoff. Dead
// records stay until retried or deleted by hand.
func (s *Spool) Prune(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		events, keys := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys)
		c := events.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
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
			n++
		}
		return nil
	})
	return n, err
}
