package spool

import (
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/store/storetest"
)

// TestDestinationsOfPendingOnly: the spool remembers a destination's name only while
// its event is pending (for Expedite): delivered and dead events leave no entry, so
// the map is bounded by the backlog, not by the traffic.
func TestDestinationsOfPendingOnly(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for i := range 10 {
		if _, _, err := s.AcceptFor(storetest.Event(i), "oncall", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	recs, err := s.Claim(time.Now(), 10, time.Minute)
	if err != nil || len(recs) != 10 {
		t.Fatalf("claim: %d %v", len(recs), err)
	}
	s.mu.Lock()
	held := len(s.dests)
	s.mu.Unlock()
	if held != 10 {
		t.Fatalf("%d destinations remembered for 10 pending events", held)
	}
	ids := make([]uint64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	if err := s.UpdateMany(ids[:5], func(r *store.Record) error { r.State = store.Delivered; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMany(ids[5:], func(r *store.Record) error { r.State = store.Dead; return nil }); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	left := len(s.dests)
	s.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d destinations remembered with nothing pending", left)
	}
}
