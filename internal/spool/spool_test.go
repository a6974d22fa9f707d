package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/store/storetest"
)

func pl(i int) payload.Payload {
	return payload.Payload{EventType: "WorkbookUpdated", Resource: "WORKBOOK", SiteLUID: "site", ResourceLUID: fmt.Sprint("wb-", i), CreatedAt: "2026-11-30T07:00:00Z"}
}

func open(t *testing.T, dir string) *Spool {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAcceptDedupAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	now := time.Now()
	a, dup, err := s.Accept(pl(1), now)
	if err != nil || dup || a.ID == 0 || a.State != Pending {
		t.Fatalf("accept: %+v %v %v", a, dup, err)
	}
	again, dup, err := s.Accept(pl(1), now) // not yet indexed: found among the in-flight
	if err != nil || !dup || again.ID != a.ID {
		t.Fatalf("duplicate in flight: %+v %v %v", again, dup, err)
	}
	s.Flush()
	again, dup, err = s.Accept(pl(1), now) // indexed: found in bbolt
	if err != nil || !dup || again.ID != a.ID {
		t.Fatalf("duplicate: %+v %v %v", again, dup, err)
	}
	if _, err := s.Update(a.ID, func(r *store.Record) error { r.MessageTS = "123.456"; r.Attempts = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	got, err := s.Get(a.ID)
	if err != nil || got.MessageTS != "123.456" || got.Attempts != 2 || got.Payload != pl(1) {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if _, _, err := s.Accept(pl(1), now); err != nil {
		t.Fatal(err)
	}
	if recs, _ := s.List(store.ListQuery{State: Pending}); len(recs) != 1 {
		t.Fatalf("pending = %d, want 1", len(recs))
	}
	if _, err := s.Get(999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(999) = %v", err)
	}
}

func TestConcurrentAcceptsAreUnique(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	ids := make(chan uint64, 200)
	for i := range 100 {
		for range 2 { // every event delivered twice, concurrently
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, dup, err := s.Accept(pl(i), time.Now())
				if err != nil {
					t.Error(err)
				}
				if !dup {
					ids <- r.ID
				}
			}()
		}
	}
	wg.Wait()
	close(ids)
	s.Flush()
	seen := map[uint64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 100 {
		t.Fatalf("%d events stored, want 100", len(seen))
	}
	if pending, _ := s.List(store.ListQuery{State: Pending}); len(pending) != 100 {
		t.Fatalf("%d pending, want 100", len(pending))
	}
}

// TestPruneKeepsPendingAndRecent: past the retention, delivered records and dead
// letters go; pending ones and recently delivered ones stay.
func TestPruneKeepsPendingAndRecent(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	old := time.Now().Add(-48 * time.Hour)
	var ids []uint64
	for i := range 4 {
		r, _, _ := s.Accept(pl(i), old)
		ids = append(ids, r.ID)
	}
	s.Flush()
	_, _ = s.Update(ids[0], func(r *store.Record) error { r.State, r.DeliveredAt = Delivered, old; return nil })
	_, _ = s.Update(ids[1], func(r *store.Record) error { r.State, r.DeliveredAt = Delivered, time.Now(); return nil })
	_, _ = s.Update(ids[2], func(r *store.Record) error { r.State, r.DeadReason = Dead, "channel_not_found"; return nil })
	if p, _ := s.PendingIDs(); len(p) != 1 || p[0] != ids[3] {
		t.Fatalf("pending ids = %v, want [%d]", p, ids[3])
	}
	n, err := s.Prune(time.Now().Add(-24 * time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if _, err := s.Get(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Error("old delivered record kept")
	}
	if _, err := s.Get(ids[2]); !errors.Is(err, ErrNotFound) {
		t.Error("old dead letter kept past the retention")
	}
	// Its dedup key is gone too: the same event would be accepted as new.
	if _, dup, _ := s.Accept(pl(0), time.Now()); dup {
		t.Error("dedup key of a pruned record kept")
	}
	for _, id := range []uint64{ids[1], ids[3]} {
		if _, err := s.Get(id); err != nil {
			t.Errorf("record %d pruned: %v", id, err)
		}
	}
}

// TestBacklogCapClearsWhenDelivered: at the cap the spool refuses new events (the
// listener answers 503) — and takes them again, without a restart, once the backlog is
// delivered, however large the files grew. Dead letters count; delivered ones do not.
func TestBacklogCapClearsWhenDelivered(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var heard []bool
	opts := Options{MaxSize: 64 << 10, Reserve: -1, OnRefusing: func(refusing bool, why error) {
		mu.Lock()
		heard = append(heard, refusing)
		mu.Unlock()
		if refusing && !errors.Is(why, ErrAtCap) {
			t.Errorf("refusing for %v, want ErrAtCap", why)
		}
	}}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	fill := func(from int) int {
		for i := from; i < from+5000; i++ {
			rec, _, err := s.Accept(pl(i), time.Now())
			switch {
			case errors.Is(err, ErrAtCap):
				return i
			case err != nil:
				t.Fatal(err)
			}
			ids = append(ids, rec.ID)
		}
		t.Fatal("the backlog grew past its cap")
		return 0
	}
	next := fill(0)
	if !s.Full() || s.Backlog() < opts.MaxSize {
		t.Fatalf("at the cap: Full=%v backlog=%d", s.Full(), s.Backlog())
	}
	s.Flush()
	// Everything delivered: the cap clears, though the files only grew.
	if err := s.UpdateMany(ids, func(r *store.Record) error { r.State, r.DeliveredAt = Delivered, time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Full() || s.Backlog() != 0 {
		t.Fatalf("everything delivered: Full=%v backlog=%d", s.Full(), s.Backlog())
	}
	if _, _, err := s.Accept(pl(next), time.Now()); err != nil {
		t.Fatalf("a new event after the backlog was delivered: %v", err)
	}
	mu.Lock()
	if len(heard) != 2 || !heard[0] || heard[1] {
		t.Errorf("OnRefusing heard %v, want [true false]", heard)
	}
	mu.Unlock()

	// Dead letters are backlog, also after a restart.
	ids = ids[:0]
	fill(next + 1)
	s.Flush()
	if err := s.UpdateMany(ids, func(r *store.Record) error { r.State, r.DeadReason = Dead, "channel_not_found"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{MaxSize: 64 << 10, Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Full() {
		t.Fatalf("dead letters at the cap after a restart: backlog %d not counted", s.Backlog())
	}
	if n, err := s.Prune(time.Now().Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("prune: %d %v", n, err)
	}
	// What is left is the one pending event accepted after the first clearing.
	if p, _ := s.Pending(); s.Full() || p != 1 || s.Backlog() <= 0 || s.Backlog() > 1024 {
		t.Fatalf("after the dead letters were pruned: Full=%v pending=%d backlog=%d", s.Full(), p, s.Backlog())
	}
}

// TestCompactionShrinksTheIndex: after a storm is delivered and pruned, the index file
// shrinks back, and everything left is intact and writable.
func TestCompactionShrinksTheIndex(t *testing.T) {
	dir := t.TempDir()
	var before, after int64
	s, err := Open(dir, Options{Reserve: -1, CompactMin: 1 << 20, OnCompact: func(b, a int64) { before, after = b, a }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []uint64
	for i := range 20000 {
		rec, _, err := s.Accept(pl(i), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	s.Flush()
	keep := ids[len(ids)-1]
	if err := s.UpdateMany(ids[:len(ids)-1], func(r *store.Record) error {
		r.State, r.DeliveredAt = Delivered, time.Now().Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(time.Now()); err != nil {
		t.Fatal(err)
	}
	if before == 0 || after*4 > before {
		t.Fatalf("compaction: %d → %d bytes, want at least 4× smaller", before, after)
	}
	st, err := os.Stat(dir + "/" + FileName)
	if err != nil || st.Size() != after {
		t.Fatalf("the state directory's index is %v bytes (%v), want %d", st.Size(), err, after)
	}
	if rec, err := s.Get(keep); err != nil || rec.State != Pending {
		t.Fatalf("the undelivered event after compaction: %+v %v", rec, err)
	}
	if _, _, err := s.Accept(pl(999999), time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Flush()
	if _, dup, _ := s.Accept(pl(19999), time.Now()); !dup {
		t.Error("a deduplication key of a kept event was lost in compaction")
	}
}

// TestHistoryGivesWay: when space is needed, delivered history goes first, oldest
// first; undelivered events stay.
func TestHistoryGivesWay(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []uint64
	for i := range 3000 {
		rec, _, err := s.Accept(pl(i), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	s.Flush()
	if err := s.UpdateMany(ids[:2000], func(r *store.Record) error { r.State, r.DeliveredAt = Delivered, time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	n, err := s.dropHistory()
	if err != nil || n != 1000 {
		t.Fatalf("dropped %d (%v), want 1000 (a quarter of 3000, at least 1000)", n, err)
	}
	if _, err := s.Get(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("the oldest delivered record stayed: %v", err)
	}
	if _, err := s.Get(ids[1000]); err != nil {
		t.Errorf("a newer delivered record went: %v", err)
	}
	if p, _ := s.Pending(); p != 1000 {
		t.Errorf("pending after history gave way: %d, want 1000", p)
	}
}

func TestSecondWriterRefusedReadOnlyAllowed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if _, err := Open(dir, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("a second writer opened the spool")
	}
}

// TestStoreContract runs the store contract suite on the spool. A crash is a copy of
// the state directory taken while the spool is open — what kill -9 leaves on disk —
// opened once the original is closed.
func TestStoreContract(t *testing.T) {
	dirs := map[store.Store]string{}
	openIn := func(t *testing.T, dir string) store.Store {
		s := open(t, dir)
		dirs[s] = dir
		return s
	}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store { return openIn(t, t.TempDir()) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return openIn(t, dirs[s])
		},
		Crash: func(t *testing.T, s store.Store) store.Store {
			image := t.TempDir()
			if err := os.CopyFS(image, os.DirFS(dirs[s])); err != nil {
				t.Fatal(err)
			}
			_ = s.Close()
			return openIn(t, image)
		},
	})
}

// TestItemsWrittenBeforeStampsKeepTheirStory: an item value written by an earlier
// version (no time stamp) reads as it was, and a prune starts its retention instead of
// deleting it.
func TestItemsWrittenBeforeStampsKeepTheirStory(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	if err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).Put([]byte("refresh/legacy"), []byte(`{"streak":2}`))
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Item("refresh/legacy"); err != nil || string(got) != `{"streak":2}` {
		t.Fatalf("a legacy item reads %q %v", got, err)
	}
	if n, err := s.PruneItems(time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("the first prune deleted %d legacy items (%v): their retention starts now", n, err)
	}
	if n, _ := s.PruneItems(time.Now().Add(time.Hour)); n != 1 {
		t.Fatalf("the next prune past its retention deleted %d, want 1", n)
	}
}
