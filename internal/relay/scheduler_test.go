package relay

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// batches records what a scheduler hands out, and delivers (marks delivered) each.
type batches struct {
	mu       sync.Mutex
	st       store.Store
	got      [][]store.Record
	gate     chan struct{} // when set, deliveries wait for it
	inFlight int
	most     int // the most batches under way at once
}

func (b *batches) deliver(_ context.Context, batch []store.Record) {
	b.mu.Lock()
	b.inFlight++
	b.most = max(b.most, b.inFlight)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	if b.gate != nil {
		<-b.gate
	}
	ids := make([]uint64, len(batch))
	for i, r := range batch {
		ids[i] = r.ID
	}
	_ = b.st.UpdateMany(ids, func(r *store.Record) error { r.State = store.Delivered; return nil })
	b.st.Release(ids...)
	b.mu.Lock()
	b.got = append(b.got, batch)
	b.mu.Unlock()
}

func (b *batches) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for _, g := range b.got {
		out = append(out, len(g))
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func total(sizes []int) int {
	n := 0
	for _, s := range sizes {
		n += s
	}
	return n
}

// TestSchedulerStormIsOneBatch: a backlog of DigestAfter or more due at once is handed
// out as one batch (a digest); a lone event as its own.
func TestSchedulerStormIsOneBatch(t *testing.T) {
	sp := openSpool(t)
	for i := range 20 {
		if _, _, err := sp.Accept(ev(i, "r"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sp.Flush() // all 20 due before the scheduler starts
	b := &batches{st: sp}
	s := NewScheduler(sp, b.deliver, SchedulerConfig{Workers: 4, DigestAfter: 10, DigestMax: 50})
	s.Start(context.Background())
	defer s.Stop(context.Background())
	waitFor(t, "the storm", func() bool { return total(b.sizes()) == 20 })
	if got := b.sizes(); len(got) != 1 {
		t.Fatalf("batches %v, want one of 20", got)
	}
	if _, _, err := sp.Accept(ev(99, "r"), time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lone event", func() bool { return total(b.sizes()) == 21 })
	if got := b.sizes(); got[len(got)-1] != 1 {
		t.Fatalf("batches %v: the lone event was not alone", got)
	}
}

// TestSchedulerHeldBacklogIsOneBatch: events put off to the same instant (a channel
// held by Slack's Retry-After) are handed out together when it comes, even when few.
func TestSchedulerHeldBacklogIsOneBatch(t *testing.T) {
	sp := openSpool(t)
	var ids []uint64
	for i := range 3 {
		r, _, _ := sp.Accept(ev(i, "r"), time.Now())
		ids = append(ids, r.ID)
	}
	sp.Flush()
	at := time.Now().Add(200 * time.Millisecond)
	if err := sp.UpdateMany(ids, func(r *store.Record) error { r.NextTry = at; return nil }); err != nil {
		t.Fatal(err)
	}
	b := &batches{st: sp}
	s := NewScheduler(sp, b.deliver, SchedulerConfig{Workers: 4, DigestAfter: 10, DigestMax: 50})
	s.Start(context.Background())
	defer s.Stop(context.Background())
	waitFor(t, "the held backlog", func() bool { return total(b.sizes()) == 3 })
	if got := b.sizes(); len(got) != 1 {
		t.Fatalf("batches %v, want the held backlog as one", got)
	}
}

// TestSchedulerWorkersAndDrain: no more batches than workers at once; Stop waits until
// nothing is pending.
func TestSchedulerWorkersAndDrain(t *testing.T) {
	sp := openSpool(t)
	gate := make(chan struct{})
	b := &batches{st: sp, gate: gate}
	s := NewScheduler(sp, b.deliver, SchedulerConfig{Workers: 2, DigestAfter: 10, DigestMax: 50})
	s.Start(context.Background())
	for i := range 5 {
		if _, _, err := sp.Accept(ev(i, "r"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan struct{})
	go func() {
		s.Stop(context.Background())
		close(stopped)
	}()
	for range 5 {
		gate <- struct{}{}
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return once everything was delivered")
	}
	if n, _ := sp.Pending(); n != 0 || total(b.sizes()) != 5 {
		t.Fatalf("pending %d, delivered %v", n, b.sizes())
	}
	if b.most != 2 {
		t.Errorf("%d batches under way at once with 2 workers", b.most)
	}
}

// TestSchedulerStopTimesOut: with an event that cannot be delivered, Stop gives up at
// its deadline and leaves it pending.
func TestSchedulerStopTimesOut(t *testing.T) {
	sp := openSpool(t)
	r, _, _ := sp.Accept(ev(1, "r"), time.Now())
	sp.Flush()
	_, _ = sp.Update(r.ID, func(r *store.Record) error { r.NextTry = time.Now().Add(time.Hour); return nil })
	s := NewScheduler(sp, (&batches{st: sp}).deliver, SchedulerConfig{Workers: 1, DigestAfter: 10, DigestMax: 50})
	s.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s.Stop(ctx)
	if n, _ := sp.Pending(); n != 1 {
		t.Fatalf("pending %d, want the undeliverable event kept", n)
	}
}

// TestSchedulerOneStormAtATime: a backlog bigger than DigestMax goes out as storm
// batches one after the other, never several at once (they would all wait for the same
// channels' pace, holding more records in memory); every event is handed out.
func TestSchedulerOneStormAtATime(t *testing.T) {
	sp := openSpool(t)
	for i := range 100 {
		if _, _, err := sp.Accept(ev(i, "r"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sp.Flush()
	gate := make(chan struct{})
	b := &batches{st: sp, gate: gate}
	s := NewScheduler(sp, b.deliver, SchedulerConfig{Workers: 4, DigestAfter: 10, DigestMax: 20})
	s.Start(context.Background())
	defer s.Stop(context.Background())
	for range 5 {
		gate <- struct{}{} // one batch may finish; a second must not have started meanwhile
	}
	waitFor(t, "the backlog", func() bool { return total(b.sizes()) == 100 })
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.most != 1 || len(b.got) != 5 {
		t.Errorf("%d batches, at most %d at once; want 5 batches of 20, one at a time", len(b.got), b.most)
	}
}
