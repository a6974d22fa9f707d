package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// SchedulerConfig tunes a Scheduler.
type SchedulerConfig struct {
	Workers     int // batches delivered at once
	DigestAfter int // this many due at once make one batch (a storm)
	DigestMax   int // the largest batch
	Lease       time.Duration
	Logger      *slog.Logger
}

// Scheduler hands due events to a deliver function in batches. It claims from the
// store whenever a worker is free and something is due, woken by the store's signal
// (events accepted, requeued or released), a timer set to the next due time, or a
// worker finishing — it never polls. A batch is one event, or, when DigestAfter or
// more are due at once, up to DigestMax together (posted as digests).
type Scheduler struct {
	store   store.Store
	deliver func(ctx context.Context, batch []store.Record)
	cfg     SchedulerConfig

	drain   chan drainRequest  // a Stop asking to be told when nothing more can be delivered
	cancel  context.CancelFunc // ends the workers' context
	stopped chan struct{}      // the loop has ended

	mu     sync.Mutex
	paused bool
	poke   chan struct{} // wakes the loop after Resume
}

// Pause stops handing out events; those under way finish. Pending events wait.
func (s *Scheduler) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume hands out events again, at once.
func (s *Scheduler) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

func (s *Scheduler) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

// NewScheduler builds a scheduler; Start runs it.
func NewScheduler(s store.Store, deliver func(context.Context, []store.Record), cfg SchedulerConfig) *Scheduler {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{store: s, deliver: deliver, cfg: cfg, drain: make(chan drainRequest), stopped: make(chan struct{}), poke: make(chan struct{}, 1)}
}

// Start runs the scheduler until Stop.
func (s *Scheduler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	go s.loop(ctx)
}

// Stop keeps scheduling until nothing is pending and no batch is under way, or until
// ctx ends; then it stops the workers and waits for them.
func (s *Scheduler) Stop(ctx context.Context) {
	drained := make(chan struct{})
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	select {
	case s.drain <- drainRequest{drained, deadline}:
		select {
		case <-drained:
		case <-ctx.Done():
			s.cfg.Logger.Warn("drain timeout: undelivered events stay in the store for the next start")
		}
	case <-s.stopped:
	}
	s.cancel()
	<-s.stopped
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.stopped)
	done := make(chan []store.Record, s.cfg.Workers)
	busy := 0
	// storming: a storm's batch (a digest of up to DigestMax) is under way. One at a
	// time: a backlog's batches all wait for the same channels' pace, so more would
	// only hold more records in memory, not drain faster.
	storming := false
	// Batches under way renew their leases: a replica that dies stops renewing and
	// another takes its events over within a lease.
	inFlight := map[*store.Record][]uint64{}
	renew := time.NewTicker(s.cfg.Lease / 3)
	defer renew.Stop()
	var drain *drainRequest
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for busy < s.cfg.Workers && !storming && ctx.Err() == nil && !s.isPaused() {
			batches := s.claim(s.cfg.Workers - busy)
			if len(batches) == 0 {
				break
			}
			for _, b := range batches {
				busy++
				storming = storming || len(b) >= s.cfg.DigestAfter
				inFlight[&b[0]] = recIDs(b)
				go func() {
					s.deliver(ctx, b)
					done <- b
				}()
			}
		}
		if drain != nil && busy == 0 && s.nothingDueBefore(drain.deadline) {
			close(drain.done)
			drain = nil
		}
		s.arm(timer, busy < s.cfg.Workers && !storming && !s.isPaused())
		select {
		case <-s.poke:
		case <-s.store.Changed():
		case b := <-done:
			busy--
			delete(inFlight, &b[0])
			if len(b) >= s.cfg.DigestAfter {
				storming = false
			}
		case <-renew.C:
			var ids []uint64
			for _, b := range inFlight {
				ids = append(ids, b...)
			}
			if len(ids) > 0 {
				s.store.Extend(time.Now().Add(s.cfg.Lease), ids...)
			}
		case <-timer.C:
		case d := <-s.drain:
			drain = &d
		case <-ctx.Done():
			for ; busy > 0; busy-- {
				<-done
			}
			return
		}
	}
}

// claim takes what is due for up to free workers: a storm as one batch; events put
// off to the same instant (a channel's backlog held by Slack's Retry-After) as one
// batch; else one event a batch. Claimed events that do not fit are released at once.
func (s *Scheduler) claim(free int) [][]store.Record {
	recs, err := s.store.Claim(time.Now(), s.cfg.DigestMax, s.cfg.Lease)
	if err != nil {
		s.cfg.Logger.Error("claim due events", "err", err)
		return nil
	}
	if len(recs) >= s.cfg.DigestAfter {
		return [][]store.Record{recs}
	}
	var out [][]store.Record
	held := map[time.Time]int{} // NextTry → its batch in out
	var extra []uint64
	for _, r := range recs {
		if i, ok := held[r.NextTry]; ok && !r.NextTry.IsZero() {
			out[i] = append(out[i], r)
			continue
		}
		if len(out) == free {
			extra = append(extra, r.ID)
			continue
		}
		held[r.NextTry] = len(out)
		out = append(out, []store.Record{r})
	}
	if len(extra) > 0 {
		s.store.Release(extra...)
	}
	return out
}

// arm sets the timer to the next due time while a worker is free (with none free, a
// worker finishing is the wake-up).
func (s *Scheduler) arm(t *time.Timer, free bool) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	if !free {
		t.Reset(time.Hour) // a worker finishing is the wake-up; no need to ask the store
		return
	}
	next, ok := s.store.NextDue()
	if !ok {
		t.Reset(time.Hour)
		return
	}
	t.Reset(max(time.Until(next), time.Millisecond))
}

// drainRequest is a Stop waiting for delivery to finish: done is closed once nothing
// pending is due before deadline — waiting longer would deliver nothing more.
type drainRequest struct {
	done     chan struct{}
	deadline time.Time
}

// nothingDueBefore: no pending event can be tried before t (none pending, or the next
// try — a backoff, a Retry-After — is later). A pause may end before t: it waits.
func (s *Scheduler) nothingDueBefore(t time.Time) bool {
	n, err := s.store.Pending()
	if err != nil || n == 0 {
		return true
	}
	// Pending but with no due time: accepted, not yet indexed — due now.
	next, ok := s.store.NextDue()
	return ok && next.After(t)
}

func recIDs(b []store.Record) []uint64 {
	out := make([]uint64, len(b))
	for i, r := range b {
		out[i] = r.ID
	}
	return out
}
