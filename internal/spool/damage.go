package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tabhook/tabhook/internal/store"
)

// errCorrupt marks an index that cannot be opened or read: damaged on disk.
var errCorrupt = errors.New("the spool's index is damaged")

// DamagedSuffix marks files set aside because they were damaged; doctor looks for them.
const DamagedSuffix = ".damaged"

// setAside moves a damaged index out of the way, keeping it for inspection, and reads
// back every record it still can. What the intake log holds is replayed as usual.
func setAside(dir string, cause error) ([]store.Record, string) {
	path := filepath.Join(dir, FileName)
	aside := fmt.Sprintf("%s%s-%s", path, DamagedSuffix, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Sprintf("the spool's index is damaged (%v) and could not be set aside: %v", cause, err)
	}
	recs := salvage(aside)
	return recs, fmt.Sprintf("the spool's index was damaged (%v): set aside as %s; %d records recovered from it, the intake log replayed", cause, filepath.Base(aside), len(recs))
}

// salvage reads what it can of a damaged index: bbolt may fail or panic part-way, and
// whatever was read before that is kept.
func salvage(path string) (out []store.Record) {
	defer func() { _ = recover() }()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var d record
			if json.Unmarshal(v, &d) == nil && d.ID != 0 && d.Key != "" {
				out = append(out, store.Record(d))
			}
			return nil
		})
	})
	return out
}

// putSalvaged indexes recovered records as they were (state included).
func putSalvaged(tx *bolt.Tx, recs []store.Record) error {
	events, keys, queue := tx.Bucket(bucketEvents), tx.Bucket(bucketKeys), tx.Bucket(bucketQueue)
	for _, r := range recs {
		b, err := json.Marshal(toDisk(r))
		if err != nil {
			return err
		}
		if err := events.Put(idKey(r.ID), b); err != nil {
			return err
		}
		if err := keys.Put([]byte(r.Key), idKey(r.ID)); err != nil {
			return err
		}
		if r.State == Pending {
			if err := queue.Put(idKey(r.ID), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// precheck reads every page of an existing index in this goroutine, where a damaged
// page's panic can be recovered: bbolt, opened for writing, walks the pages in a
// goroutine of its own to rebuild its free list, and a panic there ends the process —
// a crash loop at every start.
func precheck(path string) (err error) {
	if _, statErr := os.Stat(path); statErr != nil {
		return nil // a new spool
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: %v", errCorrupt, path, p)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil // held by another process: the real open says so
	case err != nil:
		return fmt.Errorf("%w: %s: %v", errCorrupt, path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	})
}

func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walk(nested)
			}
		}
		return nil
	})
}
