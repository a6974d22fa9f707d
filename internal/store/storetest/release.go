package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// A release's state: what a relay leaves in its store when it is stopped for an
// upgrade. WriteRelease makes it (run once per release with the store's -update flag;
// the result is committed under the store's testdata), and CheckRelease proves the
// code of today opens it and delivers from it — an upgrade keeps its data.
var (
	releaseAt   = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	releaseItem = []byte(`{"streak":2,"thread":"1733130000.000100"}`)
)

const (
	releaseItemKey = "refresh/site-1/workbook/wb-1"
	releaseTS      = "1733130000.000100"
)

// WriteRelease writes a release's state into an empty store: a delivered Slack
// record, a pending one, a pending record for a destination, a dead letter and an
// item's story.
func WriteRelease(t *testing.T, s store.Store) {
	t.Helper()
	delivered := mustAccept(t, s, 1, "")
	mustAccept(t, s, 2, "")
	mustAccept(t, s, 3, "oncall")
	dead := mustAccept(t, s, 4, "")
	// Claimed first: a store may index accepted events just after Accept returns.
	claimed := claimAll(t, s, 4)
	ids := make([]uint64, len(claimed))
	for i, r := range claimed {
		ids[i] = r.ID
	}
	if _, err := s.Update(delivered.ID, func(r *store.Record) error {
		r.State, r.Attempts, r.Channel, r.MessageTS, r.PostStarted = store.Delivered, 1, "C0ALERTS", releaseTS, true
		r.SentAt, r.DeliveredAt = releaseAt.Add(time.Second), releaseAt.Add(time.Second)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(dead.ID, func(r *store.Record) error {
		r.State, r.Attempts, r.DeadReason, r.LastError = store.Dead, 3, "channel_not_found", "Slack: channel_not_found"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Release(ids...)
	if _, err := s.UpdateItem(releaseItemKey, func([]byte) ([]byte, error) { return releaseItem, nil }); err != nil {
		t.Fatal(err)
	}
}

func mustAccept(t *testing.T, s store.Store, i int, dest string) store.Record {
	t.Helper()
	r, dup, err := s.AcceptFor(Event(i), dest, releaseAt)
	if err != nil || dup {
		t.Fatalf("accept %d for %q: dup=%v err=%v", i, dest, dup, err)
	}
	return r
}

// CheckRelease opens a release's state with today's code: every record is there as
// it was written, deduplication still knows the accepted events, the pending ones are
// claimed and delivered, the dead letter can be retried, the story is read, and new
// events are taken after the old.
func CheckRelease(t *testing.T, s store.Store) {
	t.Helper()
	all, err := s.List(store.ListQuery{})
	if err != nil || len(all) != 4 {
		t.Fatalf("records after the upgrade: %d, %v; want 4", len(all), err)
	}
	byKey := map[string]store.Record{}
	var maxID uint64
	for _, r := range all {
		byKey[r.Key] = r
		maxID = max(maxID, r.ID)
	}
	d := byKey[store.KeyFor(Event(1), "")]
	if d.State != store.Delivered || d.MessageTS != releaseTS || d.Channel != "C0ALERTS" || !d.PostStarted || !d.DeliveredAt.Equal(releaseAt.Add(time.Second)) {
		t.Errorf("the delivered record changed: %+v", d)
	}
	if dl := byKey[store.KeyFor(Event(4), "")]; dl.State != store.Dead || dl.DeadReason != "channel_not_found" || dl.Attempts != 3 {
		t.Errorf("the dead letter changed: %+v", dl)
	}
	if n, err := s.Pending(); err != nil || n != 2 {
		t.Errorf("pending after the upgrade: %d, %v; want 2", n, err)
	}
	for i, dest := range map[int]string{1: "", 2: "", 3: "oncall"} {
		if _, dup, err := s.AcceptFor(Event(i), dest, time.Now()); err != nil || !dup {
			t.Errorf("event %d for %q delivered again after the upgrade: dup=%v err=%v", i, dest, dup, err)
		}
	}
	if b, err := s.Item(releaseItemKey); err != nil || !bytes.Equal(b, releaseItem) {
		t.Errorf("the item's story after the upgrade: %s, %v", b, err)
	}
	claimed := claimAll(t, s, 2)
	for _, r := range claimed {
		want := byKey[r.Key]
		if r.Destination != want.Destination || r.Payload.ResourceLUID != want.Payload.ResourceLUID {
			t.Errorf("claimed %+v, stored as %+v", r, want)
		}
		if _, err := s.Update(r.ID, func(x *store.Record) error {
			x.State, x.DeliveredAt = store.Delivered, time.Now()
			return nil
		}); err != nil {
			t.Errorf("deliver %d after the upgrade: %v", r.ID, err)
		}
	}
	if r, err := s.Requeue(byKey[store.KeyFor(Event(4), "")].ID); err != nil || r.State != store.Pending {
		t.Errorf("retry the dead letter: %+v %v", r, err)
	}
	fresh, dup, err := s.Accept(Event(5), time.Now())
	if err != nil || dup || fresh.ID <= maxID {
		t.Errorf("a new event after the upgrade: %+v dup=%v err=%v (old IDs up to %d)", fresh, dup, err, maxID)
	}
}
