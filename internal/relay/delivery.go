package relay

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/tableau"
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
	// Reply posts into a thread as Post does; FindReply searches the thread.
	Reply(ctx context.Context, channelID, threadTS string, m render.Message, identities ...string) (string, error)
	FindReply(ctx context.Context, channelID, threadTS, identity string, oldest time.Time) (string, bool, error)
	// Update rewrites a message this bot posted.
	Update(ctx context.Context, channelID, ts string, m render.Message) error
	// Permalink is a message's link, for a reader to reach it from another.
	Permalink(ctx context.Context, channelID, ts string) (string, error)
	// UserByEmail finds a Slack user to mention (slackout.ErrNoUser: none).
	UserByEmail(ctx context.Context, email string) (string, error)
	Upload(ctx context.Context, channelID, threadTS, filename, title string, data []byte) error
	// HeldUntil is when Slack's last Retry-After for the channel ends (zero: none).
	HeldUntil(channelID string) time.Time
}

// Enricher looks events up; *enrich.Enricher implements it.
type Enricher interface {
	Enrich(ctx context.Context, p payload.Payload) enrich.Facts
}

// ServiceConfig configures delivery.
type ServiceConfig struct {
	Store    store.Store
	Enricher Enricher
	Slack    Slack
	Routing  Routing       // which channel each event goes to
	SiteID   func() string // signed-in site; "" while Tableau has not answered
	// Sites, when set, says of each event's site whether it is served (else the event
	// is a dead letter) and whether delivery must wait for it. Nil: SiteID's one site.
	Sites   func(p payload.Payload) SiteCheck
	Workers int // batches delivered in parallel; default 4
	// Retries of transient failures back off from MinBackoff (default 1s) to
	// MaxBackoff (default 5m), with jitter; they never give up.
	MinBackoff, MaxBackoff time.Duration
	Retention              time.Duration // how long delivered records are kept; default 7 days
	// When DigestAfter or more events are due at once (default 10: ten seconds of
	// Slack's pace), they are posted together, up to DigestMax (default 5,000) a
	// message: a backlog after an outage drains as a few digests a channel, each naming
	// its failures first and counting the rest (--digest-max).
	DigestAfter, DigestMax int
	// Lease is how long a claim lasts unrenewed (default 30s): what a replica that
	// dies mid-delivery holds up.
	Lease   time.Duration
	Observe Observer
	Logger  *slog.Logger
	// Refused hears that Slack refused the credential itself (a revoked token) in a
	// batch begun at since: the events stay pending, and the caller pauses delivery
	// until it works again.
	Refused func(err error, since time.Time)
	// Destinations are where routes send events besides Slack, by name: each event
	// routed to one gets a record of its own there (own retries, dead letters, pace).
	Destinations map[string]destination.Sender
	// MentionOwner mentions a failed refresh's owner, found in Slack by e-mail.
	MentionOwner bool
	// ChannelDeadAfter is how long an event waits for a channel Slack refuses
	// (not_in_channel, channel_not_found, is_archived) before it becomes a dead
	// letter; default DefaultChannelDeadAfter. ChannelRecheck is how often such a
	// channel is tried again; default 30 s.
	ChannelDeadAfter time.Duration
	ChannelRecheck   time.Duration
	// ChannelState hears a refused channel's problem ("" once it works again), for
	// /readyz.
	ChannelState func(channel, problem string)
	// LeaseLost counts an event dropped because another holder took its claim.
	LeaseLost func()
	// Degraded counts an event posted with the payload's facts only, by why (a metric).
	Degraded func(why string)
	// SayOnce tells the operator something about the set-up once per process, by key
	// (shared with start-up's checks); nil: logged once.
	SayOnce func(key, msg string)
	// Warnings, when set, marks a data source whose refresh failed with a data quality
	// warning in Tableau and removes it once a refresh succeeds (--quality-warnings).
	Warnings QualityWarnings
	// WarningsOf, when set, is Warnings of an event's site (several sites).
	WarningsOf func(p payload.Payload) QualityWarnings
	// Actions offers buttons on failed refreshes' messages (--actions), and holds back
	// the alerts of items muted from them.
	Actions bool
	// Muted counts an alert held back by a mute (a metric).
	Muted func()
}

// SiteCheck is what delivery knows of an event's site.
type SiteCheck struct {
	Served bool   // this relay serves the site (else the event is a dead letter)
	Wait   string // why it cannot be delivered yet: not signed in (retried soon)
	Paused bool   // its credential is refused: held until it works, no attempt counted
}

// DefaultDigestMax is the most events one digest (and one claim) stands for.
const DefaultDigestMax = 5000

// QualityWarnings is the part of Tableau that keeps data quality warnings;
// *tableau.Client implements it.
type QualityWarnings interface {
	QualityWarningsSupported() error
	QualityWarnings(ctx context.Context, datasourceID string) ([]tableau.QualityWarning, error)
	AddQualityWarning(ctx context.Context, datasourceID, kind, message string) (tableau.QualityWarning, error)
	DeleteQualityWarning(ctx context.Context, id string) error
}

func (c ServiceConfig) withDefaults() ServiceConfig {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.ChannelDeadAfter <= 0 {
		c.ChannelDeadAfter = DefaultChannelDeadAfter
	}
	if c.ChannelRecheck <= 0 {
		c.ChannelRecheck = defaultChannelRecheck
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.DigestAfter <= 0 {
		c.DigestAfter = 10
	}
	if c.DigestMax <= 1 {
		c.DigestMax = DefaultDigestMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.SiteID == nil {
		c.SiteID = func() string { return "" }
	}
	if c.Sites == nil {
		c.Sites = func(p payload.Payload) SiteCheck {
			switch site := c.SiteID(); site {
			case "":
				return SiteCheck{Served: true, Wait: "waiting for the Tableau sign-in to learn the site"}
			case p.SiteLUID:
				return SiteCheck{Served: true}
			}
			return SiteCheck{}
		}
	}
	if c.WarningsOf == nil && c.Warnings != nil {
		c.WarningsOf = func(payload.Payload) QualityWarnings { return c.Warnings }
	}
	return c
}

// Service delivers stored events: a scheduler hands due events to the pipeline's
// stages in batches, and a janitor prunes what was delivered long ago.
type Service struct {
	sched    *Scheduler
	pipeline *Pipeline
	janitor  *janitor

	mu     sync.Mutex
	paused map[string]bool // refused credentials: "slack", "tableau"
}

// NewService builds delivery; Start runs it.
func NewService(cfg ServiceConfig) *Service {
	cfg = cfg.withDefaults()
	p := NewPipeline(cfg)
	return &Service{
		pipeline: p,
		sched:    NewScheduler(cfg.Store, p.Deliver, SchedulerConfig{Workers: cfg.Workers, DigestAfter: cfg.DigestAfter, DigestMax: cfg.DigestMax, Lease: cfg.Lease, Logger: cfg.Logger}),
		janitor:  &janitor{store: cfg.Store, retention: cfg.Retention, log: cfg.Logger},
	}
}

// Start runs delivery until Stop. Events left pending by an earlier run are due at once.
func (s *Service) Start(ctx context.Context) {
	s.sched.Start(ctx)
	s.janitor.start(ctx)
}

// Stop keeps delivering — retries included — until nothing is pending or ctx ends,
// then stops. What is not delivered stays pending in the store for the next start.
func (s *Service) Stop(ctx context.Context) {
	s.sched.Stop(ctx)
	s.janitor.stop()
}

// SetRouting sends the following posts where the new routing says (a reload).
func (s *Service) SetRouting(r Routing) { s.pipeline.SetRouting(r) }

// Pause stops delivery for a refused credential ("slack", "tableau"): the events stay
// pending. Tableau's refusal stops everything (every destination waits for Tableau's
// details). Slack's stops everything only when Slack is the one destination; with
// others, only Slack's records wait and the others keep flowing.
func (s *Service) Pause(who string) { s.setPaused(who, true) }

// Resume ends a Pause; delivery goes on once nothing holds it paused.
func (s *Service) Resume(who string) { s.setPaused(who, false) }

func (s *Service) setPaused(who string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = map[string]bool{}
	}
	s.paused[who] = on
	// With other destinations, a Slack refusal pauses Slack's records only (the
	// others flow); with Slack alone, it pauses delivery as a whole.
	others := len(s.pipeline.cfg.Destinations) > 0
	s.pipeline.slackPaused.Store(s.paused["slack"] && others)
	if s.paused["tableau"] || (s.paused["slack"] && !others) {
		s.sched.Pause()
	} else {
		s.sched.Resume()
	}
}

// backoff is the wait before the attempt-th retry: exponential, capped, jittered.
func backoff(minWait, maxWait time.Duration, attempt int) time.Duration {
	d := minWait
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// janitor deletes delivered records and dead letters past their retention, and the
// stories of items quiet for as long, every ten minutes, and says so at info: a dead
// letter never vanishes in silence.
type janitor struct {
	store     store.Store
	retention time.Duration
	log       *slog.Logger
	cancel    context.CancelFunc
	done      chan struct{}
}

const pruneEvery = 10 * time.Minute

func (j *janitor) start(ctx context.Context) {
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	go func() {
		defer close(j.done)
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			cutoff := time.Now().Add(-j.retention)
			n, err := j.store.Prune(cutoff)
			if err != nil {
				j.log.Warn("prune old events", "err", err)
			}
			// Item stories too: one per item that ever refreshed, deleted ones included.
			m, ierr := j.store.PruneItems(cutoff)
			if ierr != nil {
				j.log.Warn("prune quiet item stories", "err", ierr)
			}
			if n > 0 || m > 0 {
				j.log.Info("pruned what is past its retention", "events", n, "item_stories", m, "retention", j.retention)
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (j *janitor) stop() {
	if j.cancel != nil {
		j.cancel()
		<-j.done
	}
}
