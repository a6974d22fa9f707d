package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

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
	if recs, _ := s.List(Pending); len(recs) != 1 {
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
	if pending, _ := s.List(Pending); len(pending) != 100 {
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

// TestMaxSizeRefusesIntake: at its size limit the spool refuses new events (the
// listener answers 503) until pruning brings it under.
func TestMaxSizeRefusesIntake(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxSize: 64 << 10, Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refused := false
	for i := 0; i < 5000 && !refused; i++ {
		_, _, err := s.Accept(pl(i), time.Now())
		switch {
		case errors.Is(err, ErrAtCap):
			refused = true
		case err != nil:
			t.Fatal(err)
		}
		s.Flush()
	}
	if !refused || !s.Full() {
		t.Fatal("the spool grew past its limit")
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
