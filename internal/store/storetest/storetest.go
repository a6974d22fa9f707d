// Package storetest is the contract suite every store.Store must pass: the embedded
// spool runs it, and so must any other store (PostgreSQL for replicas).
package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
)

// Harness makes the stores the suite works on.
type Harness struct {
	// Open returns a new, empty store; the suite closes it.
	Open func(t *testing.T) store.Store
	// Reopen closes s cleanly and opens the same store again.
	Reopen func(t *testing.T, s store.Store) store.Store
	// Crash ends s as kill -9 would (nothing flushed or closed on purpose) and opens
	// what it left.
	Crash func(t *testing.T, s store.Store) store.Store
}

// Event is the i-th distinct test delivery.
func Event(i int) payload.Payload {
	return payload.Payload{Resource: "WORKBOOK", EventType: "WorkbookUpdated", ResourceName: fmt.Sprint("Workbook ", i),
		SiteLUID: "site-1", ResourceLUID: fmt.Sprintf("wb-%d", i), CreatedAt: time.Date(2026, 11, 30, 7, 0, i, 0, time.UTC).Format(time.RFC3339)}
}

// Run runs the contract suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AcceptDeduplicatesAcrossReopen", acceptDedup},
		{"ConcurrentIdenticalAcceptsStoreOne", concurrentAccepts},
		{"ClaimLeasesEachEventOnce", claimOnce},
		{"LeaseExpires", leaseExpires},
		{"ExtendRenewsTheLease", extend},
		{"NotDueIsNotClaimed", notDue},
		{"HoldKeepsUnclaimed", hold},
		{"UpdatesAreDurable", updatesDurable},
		{"ChangedSignals", changedSignals},
		{"RequeueAndErrors", requeue},
		{"ListAndPending", listAndPending},
		{"PruneDeliveredOnly", prune},
		{"CrashKeepsAcceptedEvents", crash},
		{"ItemsAreAtomicAndDurable", items},
		{"DestinationsAreSeparateRecords", destinations},
		{"ItemsArePrunedByAge", itemsPruned},
		{"StaleClaimsAreFenced", fenced},
		{"ExpediteBringsOneDestinationsRetriesForward", expedite},
		{"UpdateItemsInOneGoInOrder", updateItems},
		{"ListBySite", listBySite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func accept(t *testing.T, s store.Store, i int) store.Record {
	t.Helper()
	r, dup, err := s.Accept(Event(i), time.Now())
	if err != nil || dup {
		t.Fatalf("accept %d: dup=%v err=%v", i, dup, err)
	}
	return r
}

// claimAll claims what is due now, waiting briefly for accepted events to be claimable
// (a store may index them just after Accept returns).
func claimAll(t *testing.T, s store.Store, want int) []store.Record {
	t.Helper()
	var got []store.Record
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		recs, err := s.Claim(time.Now(), want-len(got), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, recs...)
		if len(got) < want {
			select {
			case <-s.Changed():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if len(got) != want {
		t.Fatalf("claimed %d events, want %d", len(got), want)
	}
	return got
}

func acceptDedup(t *testing.T, h Harness) {
	s := h.Open(t)
	a := accept(t, s, 1)
	if a.ID == 0 || a.State != store.Pending || a.Key != Event(1).Key() || a.Identity() != Event(1).Identity() {
		t.Fatalf("accepted %+v", a)
	}
	again, dup, err := s.Accept(Event(1), time.Now())
	if err != nil || !dup || again.ID != a.ID {
		t.Fatalf("identical delivery: %+v dup=%v err=%v", again, dup, err)
	}
	s = h.Reopen(t, s)
	defer s.Close()
	again, dup, err = s.Accept(Event(1), time.Now())
	if err != nil || !dup || again.ID != a.ID {
		t.Fatalf("identical delivery after reopen: %+v dup=%v err=%v", again, dup, err)
	}
	if b := accept(t, s, 2); b.ID == a.ID {
		t.Fatal("a new event got an old ID")
	}
}

func concurrentAccepts(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	var wg sync.WaitGroup
	ids := make([]uint64, 16)
	dups := make([]bool, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, dup, err := s.Accept(Event(7), time.Now())
			if err != nil {
				t.Error(err)
			}
			ids[i], dups[i] = r.ID, dup
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("identical deliveries got IDs %v", ids)
		}
		if !dups[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d deliveries stored as new, want 1", fresh)
	}
}

func claimOnce(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	for i := range 5 {
		accept(t, s, i)
	}
	all := claimAll(t, s, 5) // waits until a store that indexes after Accept has them all
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Errorf("not oldest first: %d before %d", all[i-1].ID, all[i].ID)
		}
	}
	if more, _ := s.Claim(time.Now(), 10, time.Minute); len(more) != 0 {
		t.Fatalf("claimed %d leased events", len(more))
	}
	s.Release(all[3].ID, all[4].ID)
	rest, _ := s.Claim(time.Now(), 10, time.Minute)
	if len(rest) != 2 || rest[0].ID != all[3].ID || rest[1].ID != all[4].ID {
		t.Fatalf("after releasing two, claimed %+v", rest)
	}
	if more, _ := s.Claim(time.Now(), 10, time.Minute); len(more) != 0 {
		t.Fatalf("claimed %d leased events", len(more))
	}
	// Leaving pending ends the claim for good.
	if _, err := s.Update(all[1].ID, func(r *store.Record) error { r.State = store.Delivered; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Release(all[1].ID)
	if more, _ := s.Claim(time.Now(), 10, time.Minute); len(more) != 0 {
		t.Fatalf("a delivered event was claimed: %+v", more)
	}
}

func leaseExpires(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	accept(t, s, 1)
	claimAll(t, s, 1)
	later := time.Now().Add(2 * time.Minute) // past the lease: the holder died
	got, err := s.Claim(later, 10, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("after the lease: %v %v", got, err)
	}
}

func extend(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	accept(t, s, 1)
	r := claimAll(t, s, 1)[0]
	s.Extend(time.Now().Add(3*time.Minute), r.ID) // the holder is still at work
	if got, _ := s.Claim(time.Now().Add(2*time.Minute), 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed while the holder renewed its lease: %+v", got)
	}
	if got, _ := s.Claim(time.Now().Add(4*time.Minute), 10, time.Minute); len(got) != 1 {
		t.Fatalf("not claimable once the renewed lease ended: %+v", got)
	}
}

func notDue(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	r := accept(t, s, 1)
	claimAll(t, s, 1)
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if _, err := s.Update(r.ID, func(r *store.Record) error { r.NextTry, r.Attempts = at, 1; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Release(r.ID)
	if got, _ := s.Claim(time.Now(), 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed before it was due: %+v", got)
	}
	next, ok := s.NextDue()
	if !ok || !next.Equal(at) {
		t.Fatalf("NextDue = %v %v, want %v", next, ok, at)
	}
	if got, _ := s.Claim(at, 10, time.Minute); len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("claim when due: %+v", got)
	}
	if next, ok := s.NextDue(); !ok || next.Before(at.Add(time.Minute)) {
		t.Errorf("NextDue = %v %v: a leased event is due no sooner than its lease ends (%v)", next, ok, at.Add(time.Minute))
	}
}

func hold(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	r := accept(t, s, 1)
	claimAll(t, s, 1)
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond) // stores may keep µs
	s.Hold(until, r.ID)                                           // the outcome could not be recorded: not again before then
	if got, _ := s.Claim(time.Now(), 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed a held event: %+v", got)
	}
	if next, ok := s.NextDue(); !ok || !next.Equal(until) {
		t.Errorf("NextDue = %v %v, want the hold's end %v", next, ok, until)
	}
	if got, _ := s.Claim(until, 10, time.Minute); len(got) != 1 {
		t.Fatalf("not claimable when the hold ends: %+v", got)
	}
}

func updatesDurable(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := accept(t, s, 1), accept(t, s, 2)
	claimAll(t, s, 2)
	sent := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.Update(a.ID, func(r *store.Record) error {
		r.PostStarted, r.SentAt, r.Channel, r.MessageTS = true, sent, "C1", "1.000100"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMany([]uint64{a.ID, b.ID}, func(r *store.Record) error { r.Attempts++; r.LastError = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateMany([]uint64{b.ID, 1 << 60}, func(r *store.Record) error { r.Attempts = 99; return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateMany with an unknown ID: %v", err)
	}
	s = h.Reopen(t, s)
	defer s.Close()
	got, err := s.Get(a.ID)
	if err != nil || !got.PostStarted || !got.SentAt.Equal(sent) || got.MessageTS != "1.000100" || got.Attempts != 1 || got.LastError != "x" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if got, _ := s.Get(b.ID); got.Attempts != 1 {
		t.Fatalf("a failed UpdateMany changed a record: %+v", got)
	}
	if _, err := s.Update(1<<60, func(*store.Record) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update of an unknown ID: %v", err)
	}
}

func changedSignals(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	drain := func() {
		for {
			select {
			case <-s.Changed():
			default:
				return
			}
		}
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-s.Changed():
		case <-time.After(5 * time.Second):
			t.Fatalf("no signal after %s", what)
		}
	}
	drain()
	r := accept(t, s, 1)
	wait("an accept")
	claimAll(t, s, 1)
	if _, err := s.Update(r.ID, func(r *store.Record) error { r.State, r.DeadReason = store.Dead, "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Release(r.ID)
	drain()
	if _, err := s.Requeue(r.ID); err != nil {
		t.Fatal(err)
	}
	wait("a requeue")
}

func requeue(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	a, b := accept(t, s, 1), accept(t, s, 2)
	claimAll(t, s, 2)
	if _, err := s.Update(a.ID, func(r *store.Record) error {
		r.State, r.DeadReason, r.NextTry = store.Dead, "channel_not_found", time.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(b.ID, func(r *store.Record) error { r.State = store.Delivered; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Release(a.ID, b.ID)
	got, err := s.Requeue(a.ID)
	if err != nil || got.State != store.Pending || got.DeadReason != "" {
		t.Fatalf("requeue dead: %+v %v", got, err)
	}
	if c, _ := s.Claim(time.Now(), 10, time.Minute); len(c) != 1 || c[0].ID != a.ID {
		t.Fatalf("a requeued event is due now: %+v", c)
	}
	if _, err := s.Requeue(b.ID); !errors.Is(err, store.ErrDelivered) {
		t.Fatalf("requeue delivered: %v", err)
	}
	if _, err := s.Requeue(1 << 60); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("requeue unknown: %v", err)
	}
	if _, err := s.Get(1 << 60); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func listAndPending(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	var ids []uint64
	for i := range 4 {
		ids = append(ids, accept(t, s, i).ID)
	}
	claimAll(t, s, 4)
	if _, err := s.Update(ids[1], func(r *store.Record) error { r.State = store.Dead; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Pending(); err != nil || n != 3 {
		t.Fatalf("Pending = %d %v, want 3", n, err)
	}
	all, _ := s.List(store.ListQuery{})
	if len(all) != 4 || all[0].ID != ids[0] || all[3].ID != ids[3] {
		t.Fatalf("List all: %+v", all)
	}
	dead, _ := s.List(store.ListQuery{State: store.Dead})
	if len(dead) != 1 || dead[0].ID != ids[1] {
		t.Fatalf("List dead: %+v", dead)
	}
	// Pages: a cursor and a limit, in order, each record once.
	var paged []uint64
	for after := uint64(0); ; {
		page, err := s.List(store.ListQuery{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("a page of %d records, limit 3", len(page))
		}
		for _, r := range page {
			paged = append(paged, r.ID)
		}
		after = page[len(page)-1].ID
	}
	if len(paged) != 4 || paged[0] != ids[0] || paged[3] != ids[3] {
		t.Fatalf("paged through %v, want %v", paged, ids)
	}
	if got, _ := s.List(store.ListQuery{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Fatalf("received since an hour from now: %+v", got)
	}
	if got, _ := s.List(store.ListQuery{Destination: "slack", State: store.Pending}); len(got) != 3 {
		t.Fatalf("Slack's pending records: %d, want 3", len(got))
	}
	if got, _ := s.List(store.ListQuery{Destination: "ops-teams"}); len(got) != 0 {
		t.Fatalf("another destination's records: %+v", got)
	}
}

func prune(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	old := time.Now().Add(-48 * time.Hour)
	var ids []uint64
	for i := range 3 {
		r, _, err := s.Accept(Event(i), old)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	claimAll(t, s, 3)
	if _, err := s.Update(ids[0], func(r *store.Record) error { r.State, r.DeliveredAt = store.Delivered, old; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ids[1], func(r *store.Record) error { r.State = store.Dead; return nil }); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(time.Now().Add(-24 * time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d %v, want 2 (the old delivered and the old dead letter)", n, err)
	}
	for _, id := range ids[:2] {
		if _, err := s.Get(id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record %d is still there past its retention", id)
		}
	}
	if _, err := s.Get(ids[2]); err != nil {
		t.Errorf("the pending record was pruned: %v", err)
	}
}

func crash(t *testing.T, h Harness) {
	if h.Crash == nil {
		t.Skip("the harness cannot crash this store")
	}
	s := h.Open(t)
	var ids []uint64
	for i := range 20 {
		ids = append(ids, accept(t, s, i).ID)
	}
	s = h.Crash(t, s)
	defer s.Close()
	for _, id := range ids {
		if r, err := s.Get(id); err != nil || r.State != store.Pending {
			t.Fatalf("event %d after the crash: %+v %v", id, r, err)
		}
	}
	if _, dup, _ := s.Accept(Event(3), time.Now()); !dup {
		t.Error("an event accepted before the crash was stored again")
	}
	claimAll(t, s, 20)
}

// items: concurrent changes of one item are serialised (no lost update), values
// survive a reopen, an error from fn changes nothing, nil deletes.
func items(t *testing.T, h Harness) {
	s := h.Open(t)
	const writers = 16
	incr := func(old []byte) ([]byte, error) {
		n, _ := strconv.Atoi(string(old))
		return []byte(strconv.Itoa(n + 1)), nil
	}
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateItem("refresh/a", incr); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	boom := errors.New("boom")
	if _, err := s.UpdateItem("refresh/a", func([]byte) ([]byte, error) { return []byte("lost"), boom }); !errors.Is(err, boom) {
		t.Fatalf("an error from fn: %v", err)
	}
	if _, err := s.UpdateItem("refresh/b", func(old []byte) ([]byte, error) { return []byte("b"), nil }); err != nil {
		t.Fatal(err)
	}
	s = h.Reopen(t, s)
	defer s.Close()
	read := func(key string) []byte {
		v, err := s.UpdateItem(key, func(old []byte) ([]byte, error) { return old, nil })
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := string(read("refresh/a")); got != strconv.Itoa(writers) {
		t.Fatalf("after %d concurrent increments and a reopen: %q", writers, got)
	}
	if _, err := s.UpdateItem("refresh/b", func([]byte) ([]byte, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if got := read("refresh/b"); got != nil {
		t.Fatalf("deleted item reads %q", got)
	}
	if got := read("refresh/none"); got != nil {
		t.Fatalf("unknown item reads %q", got)
	}
}

// fenced: a claim taken over after its lease ended carries a new token; a write that
// checks the old one (the relay's fence, inside the store's transaction) is refused
// and changes nothing; the new holder's write goes through.
func fenced(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	accept(t, s, 1)
	var a []store.Record
	deadline := time.Now().Add(5 * time.Second)
	for len(a) == 0 && time.Now().Before(deadline) {
		var err error
		if a, err = s.Claim(time.Now(), 1, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if len(a) != 1 || a[0].Lease == 0 {
		t.Fatalf("claim A: %+v", a)
	}
	time.Sleep(100 * time.Millisecond) // A is frozen past its lease
	b, err := s.Claim(time.Now(), 1, time.Minute)
	if err != nil || len(b) != 1 || b[0].Lease == a[0].Lease {
		t.Fatalf("claim B after A's lease: %+v %v", b, err)
	}
	fence := func(held store.Record, change func(*store.Record)) func(*store.Record) error {
		return func(r *store.Record) error {
			if r.Lease != held.Lease {
				return store.ErrLeaseLost
			}
			change(r)
			return nil
		}
	}
	_, err = s.Update(a[0].ID, fence(a[0], func(r *store.Record) { r.PostStarted, r.MessageTS = true, "A" }))
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("A's write after B's claim: %v, want ErrLeaseLost", err)
	}
	if err := s.UpdateMany([]uint64{a[0].ID}, fence(a[0], func(r *store.Record) { r.State = store.Delivered })); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("A's batch write after B's claim: %v, want ErrLeaseLost", err)
	}
	if got, _ := s.Get(a[0].ID); got.PostStarted || got.MessageTS != "" || got.State != store.Pending {
		t.Fatalf("a refused write changed the record: %+v", got)
	}
	if _, err := s.Update(b[0].ID, fence(b[0], func(r *store.Record) { r.MessageTS = "B" })); err != nil {
		t.Fatalf("B's write: %v", err)
	}
	s.Release(b[0].ID) // a release keeps the token: B's late write still holds
	if _, err := s.Update(b[0].ID, fence(b[0], func(r *store.Record) { r.State, r.DeliveredAt = store.Delivered, time.Now() })); err != nil {
		t.Fatalf("B's write after its release: %v", err)
	}
	if got, _ := s.Get(b[0].ID); got.MessageTS != "B" || got.State != store.Delivered {
		t.Fatalf("B's record: %+v", got)
	}
}

// itemsPruned: items quiet since before the cutoff are deleted, others stay; Item
// reads without writing (a read keeps an item's age).
func itemsPruned(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	set := func(key, v string) {
		if _, err := s.UpdateItem(key, func([]byte) ([]byte, error) { return []byte(v), nil }); err != nil {
			t.Fatal(err)
		}
	}
	set("refresh/old", "o")
	set("refresh/new", "n")
	if got, err := s.Item("refresh/old"); err != nil || string(got) != "o" {
		t.Fatalf("Item: %q %v", got, err)
	}
	if got, err := s.Item("refresh/none"); err != nil || got != nil {
		t.Fatalf("Item of nothing: %q %v", got, err)
	}
	if n, err := s.PruneItems(time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune before anything was written: %d %v", n, err)
	}
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)
	set("refresh/new", "n2") // written after the cutoff
	if n, err := s.PruneItems(cutoff); err != nil || n != 1 {
		t.Fatalf("prune: %d %v, want the one quiet item", n, err)
	}
	if got, _ := s.Item("refresh/old"); got != nil {
		t.Errorf("a quiet item stayed: %q", got)
	}
	if got, _ := s.Item("refresh/new"); string(got) != "n2" {
		t.Errorf("a recent item went: %q", got)
	}
}

// destinations: an event's record for a destination is its own record (its own
// retries and dead letters), deduplicated like any other, with the event's identity.
func destinations(t *testing.T, h Harness) {
	s := h.Open(t)
	p := Event(1)
	slack := accept(t, s, 1)
	teams, dup, err := s.AcceptFor(p, "ops-teams", time.Now())
	if err != nil || dup || teams.ID == slack.ID || teams.Destination != "ops-teams" {
		t.Fatalf("AcceptFor: %+v dup=%v %v", teams, dup, err)
	}
	again, dup, err := s.AcceptFor(p, "ops-teams", time.Now())
	if err != nil || !dup || again.ID != teams.ID {
		t.Fatalf("the same destination again: %+v dup=%v %v", again, dup, err)
	}
	if teams.Identity() != slack.Identity() || teams.Identity() != p.Identity() {
		t.Fatalf("identities differ: %s %s %s", teams.Identity(), slack.Identity(), p.Identity())
	}
	s = h.Reopen(t, s)
	defer s.Close()
	got, err := s.Get(teams.ID)
	if err != nil || got.Destination != "ops-teams" || got.Identity() != p.Identity() {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if n, _ := s.Pending(); n != 2 {
		t.Fatalf("%d pending, want 2 (Slack's record and the destination's)", n)
	}
}

// expedite: the retries of one destination become due at once; another destination's,
// a claimed event and one due anyway are left alone.
func expedite(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	now := time.Now()
	var recs []store.Record
	for i, dest := range []string{"", "", "oncall", ""} {
		r, _, err := s.AcceptFor(Event(i+1), dest, now)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	claimAll(t, s, 4)
	later := now.Add(time.Hour)
	for _, r := range recs[:3] {
		if _, err := s.Update(r.ID, func(x *store.Record) error { x.NextTry, x.Attempts = later, 1; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// recs[3] stays claimed; recs[0..2] wait for their retry.
	s.Release(recs[0].ID, recs[1].ID, recs[2].ID)
	if got, _ := s.Claim(now, 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed %d before their retry time", len(got))
	}
	n, err := s.Expedite("", now)
	if err != nil || n != 2 {
		t.Fatalf("Expedite: %d, %v; want Slack's 2 waiting events", n, err)
	}
	got, err := s.Claim(now, 10, time.Minute)
	if err != nil || len(got) != 2 || got[0].ID != recs[0].ID || got[1].ID != recs[1].ID {
		t.Fatalf("claimed %+v %v, want Slack's two retries", got, err)
	}
	if n, _ := s.Expedite("oncall", now); n != 1 {
		t.Fatalf("Expedite(oncall): %d, want 1", n)
	}
}

// updateItems: several item changes in one call, in order — a later change of a key
// sees the earlier one; a change whose Fn fails leaves its key as it was, the others are
// made; a nil value deletes.
func updateItems(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	if _, err := s.UpdateItem("b", func([]byte) ([]byte, error) { return []byte("b0"), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateItem("d", func([]byte) ([]byte, error) { return []byte("d0"), nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	appendTo := func(x string) func([]byte) ([]byte, error) {
		return func(old []byte) ([]byte, error) { return append(old, x...), nil }
	}
	errs, err := s.UpdateItems([]store.ItemUpdate{
		{Key: "c", Fn: appendTo("1")},
		{Key: "a", Fn: appendTo("1")},
		{Key: "c", Fn: appendTo("2")},
		{Key: "b", Fn: func([]byte) ([]byte, error) { return nil, boom }},
		{Key: "d", Fn: func([]byte) ([]byte, error) { return nil, nil }},
		{Key: "e", Fn: func([]byte) ([]byte, error) { return nil, boom }},
	})
	if err != nil || len(errs) != 6 || !errors.Is(errs[3], boom) || !errors.Is(errs[5], boom) || errs[0] != nil || errs[4] != nil {
		t.Fatalf("UpdateItems: %v %v", errs, err)
	}
	for key, want := range map[string]string{"a": "1", "b": "b0", "c": "12", "d": "", "e": ""} {
		got, err := s.Item(key)
		if err != nil || string(got) != want || (want == "" && got != nil) {
			t.Errorf("item %s = %q (%v), want %q", key, got, err, want)
		}
	}
}

// listBySite: the site an event was taken for (payload.Site) is kept, and a listing
// selects by it — by content URL in any case, "default" for the Default site's.
func listBySite(t *testing.T, h Harness) {
	s := h.Open(t)
	defer s.Close()
	for i, site := range []string{"", "finance", "finance", "sales"} {
		p := Event(i)
		p.Site = site
		if _, _, err := s.Accept(p, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	claimAll(t, s, 4) // indexed
	for _, tc := range []struct {
		site string
		want int
	}{{"", 4}, {"finance", 2}, {"FINANCE", 2}, {"sales", 1}, {"default", 1}, {"hr", 0}} {
		got, err := s.List(store.ListQuery{Site: tc.site})
		if err != nil || len(got) != tc.want {
			t.Errorf("site %q: %d records (%v), want %d", tc.site, len(got), err, tc.want)
		}
		for _, r := range got {
			if tc.site != "" && !store.SiteIs(r.Payload.Site, tc.site) {
				t.Errorf("site %q listed an event of site %q", tc.site, r.Payload.Site)
			}
		}
	}
}
