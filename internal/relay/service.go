package relay

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/spool"
)

// Slack is what delivery needs from Slack; *slackout.Client implements it.
type Slack interface {
	ChannelID(ctx context.Context, channel string) (string, error)
	// Post sends a message standing for the events with these identities
	// (payload.Identity), recorded in its metadata.
	Post(ctx context.Context, channelID string, m render.Message, identities ...string) (string, error)
	// FindPosted searches this bot's messages in the channel since oldest for one
	// standing for the event with this identity.
	FindPosted(ctx context.Context, channelID, identity string, oldest time.Time) (string, bool, error)
	Upload(ctx context.Context, channelID, threadTS, filename, title string, data []byte) error
}

// Enricher looks events up; *enrich.Enricher implements it.
type Enricher interface {
	Enrich(ctx context.Context, p payload.Payload) enrich.Facts
}

// ServiceConfig configures delivery.
type ServiceConfig struct {
	Spool    *spool.Spool
	Enricher Enricher
	Slack    Slack
	Routing  Routing       // which channel each event goes to
	SiteID   func() string // signed-in site; "" while Tableau has not answered
	Workers  int           // default 4
	// Retries of transient failures back off from MinBackoff (default 1s) to
	// MaxBackoff (default 5m), with jitter; they never give up.
	MinBackoff, MaxBackoff time.Duration
	Retention              time.Duration // how long delivered records are kept; default 7 days
	Sweep                  time.Duration // how often pending records are re-examined; default 15s
	// When more than DigestAfter events wait for one channel (default 10: ten seconds
	// of Slack's pace), they are posted together, up to DigestMax (default 50) a message.
	DigestAfter, DigestMax int
	Observe                Observer
	Logger                 *slog.Logger
}

// Service delivers spooled events with a pool of workers.
type Service struct {
	cfg   ServiceConfig
	log   *slog.Logger
	queue chan uint64

	mu        sync.Mutex
	routing   Routing              // where posts go; changed by a reload
	scheduled map[uint64]bool      // queued or being delivered
	notBefore map[uint64]time.Time // waiting for a retry

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// NewService builds a service; Start runs it.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 15 * time.Second
	}
	if cfg.DigestAfter <= 0 {
		cfg.DigestAfter = 10
	}
	if cfg.DigestMax <= 1 {
		cfg.DigestMax = 50
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SiteID == nil {
		cfg.SiteID = func() string { return "" }
	}
	return &Service{cfg: cfg, log: cfg.Logger, routing: cfg.Routing, queue: make(chan uint64, 1024), scheduled: map[uint64]bool{}, notBefore: map[uint64]time.Time{}}
}

// Start runs the workers and the sweeper until Stop. Pending events left by an earlier
// run are picked up at once.
func (s *Service) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	for range s.cfg.Workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case id := <-s.queue:
					s.process(ctx, id)
					s.done(id)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sweep()
		s.prune()
		t := time.NewTicker(s.cfg.Sweep)
		defer t.Stop()
		lastPrune := time.Now()
		for {
			select {
			case <-t.C:
				s.sweep()
				if time.Since(lastPrune) > pruneEvery {
					s.prune()
					lastPrune = time.Now()
				}
			case <-ctx.Done():
				return
			}
		}
	}()
}

// pruneEvery is how often delivered records past their retention are deleted.
const pruneEvery = 10 * time.Minute

// SetRouting sends the following posts where the new routing says (a reload).
func (s *Service) SetRouting(r Routing) {
	s.mu.Lock()
	s.routing = r
	s.mu.Unlock()
}

// channel is where an event with these facts goes, by the current routing.
func (s *Service) channel(f enrich.Facts) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routing.Channel(f)
}

// Notify schedules a newly stored event. It never blocks: when the queue is full the
// event waits in the spool for the next sweep.
func (s *Service) Notify(id uint64) { s.enqueue(id) }

func (s *Service) enqueue(id uint64) {
	s.mu.Lock()
	if s.scheduled[id] {
		s.mu.Unlock()
		return
	}
	s.scheduled[id] = true
	delete(s.notBefore, id)
	s.mu.Unlock()
	select {
	case s.queue <- id:
	default:
		s.done(id)
	}
}

func (s *Service) done(id uint64) {
	s.mu.Lock()
	delete(s.scheduled, id)
	s.mu.Unlock()
}

// later schedules a retry after d.
func (s *Service) later(id uint64, d time.Duration) {
	s.mu.Lock()
	s.notBefore[id] = time.Now().Add(d)
	s.mu.Unlock()
	time.AfterFunc(d, func() { s.enqueue(id) })
}

// sweep enqueues pending events that are neither scheduled nor waiting for a retry:
// those left by a previous run, and any the full queue turned away.
func (s *Service) sweep() {
	ids, err := s.cfg.Spool.PendingIDs()
	if err != nil {
		s.log.Error("read pending events", "err", err)
		return
	}
	now := time.Now()
	for _, id := range ids {
		s.mu.Lock()
		wait, waiting := s.notBefore[id]
		s.mu.Unlock()
		if !waiting || !now.Before(wait) {
			s.enqueue(id)
		}
	}
}

func (s *Service) prune() {
	n, err := s.cfg.Spool.Prune(time.Now().Add(-s.cfg.Retention))
	if err != nil {
		s.log.Warn("prune delivered events", "err", err)
	} else if n > 0 {
		s.log.Debug("pruned delivered events", "count", n)
	}
}

// Idle reports whether nothing is queued or being delivered.
func (s *Service) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.scheduled) == 0
}

// Stop keeps delivering — retries included — until nothing is pending or ctx ends,
// then stops the workers. What is not delivered stays pending in the spool for the
// next start.
func (s *Service) Stop(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !s.drained() {
		select {
		case <-t.C:
		case <-ctx.Done():
			s.log.Warn("drain timeout: undelivered events stay in the spool for the next start")
			s.cancel()
			s.wg.Wait()
			return
		}
	}
	s.cancel()
	s.wg.Wait()
}

// drained reports whether no event is being delivered or waits to be.
func (s *Service) drained() bool {
	if !s.Idle() || s.cfg.Spool.Unindexed() > 0 {
		return false
	}
	ids, err := s.cfg.Spool.PendingIDs()
	return err != nil || len(ids) == 0
}

// backoff is the wait before the attempt-th retry: exponential, capped, jittered.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
