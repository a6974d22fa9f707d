package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/actions"
	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/control"
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/stores"
	"github.com/tabhook/tabhook/internal/tableau"
)

// TableauAPI is what the relay needs from Tableau; *tableau.Client implements it.
type TableauAPI interface {
	admin.API
	enrich.Source
	QualityWarnings
	Site(ctx context.Context) (tableau.Site, error)
	SignIn(ctx context.Context) error
	SignOut(ctx context.Context) error
	SiteID() string
	SetPATSecret(secret string)
}

// SlackAPI is what the relay needs from Slack; *slackout.Client implements it.
type SlackAPI interface {
	Slack
	AuthTest(ctx context.Context) (slackout.Auth, error)
	CanPost(ctx context.Context, a slackout.Auth, channel string) (slackout.ChannelInfo, error)
	SetToken(token string)
	SetPacer(p slackout.Pacer)
}

// Config configures serve and run.
type Config struct {
	Tableau  TableauAPI
	Slack    SlackAPI
	Channel  string  // the default channel
	Routes   []Route // channels for some events or projects (config file); first match wins
	StateDir string
	// Store, when set, is a PostgreSQL URL: the store several replicas share instead
	// of the embedded spool in StateDir.
	Store string
	// MaxSpoolSize caps the spool on disk (bytes; 0: no cap).
	MaxSpoolSize int64
	Server       ServerConfig // Handler is set by the relay
	Path         string       // listener path
	Allow        []netip.Prefix

	// run only: the webhooks to create (or adopt) at start and delete at exit.
	Manage       bool
	PublicURL    string
	Events       []string // API names
	NamePrefix   string
	KeepWebhooks bool
	Verify       bool
	// WebhookCheck is how often run checks its webhooks and repairs them; default
	// DefaultWebhookCheck.
	WebhookCheck time.Duration
	// WatchWebhooks (serve): the name prefix of webhooks managed elsewhere that point
	// at this relay; they are checked every WebhookCheck and reported, never changed.
	WatchWebhooks string

	DrainTimeout time.Duration // default 10s
	HealthEvery  time.Duration // how often /readyz's view of Tableau and Slack is refreshed; default 1m
	Service      ServiceConfig // tuning; Spool, Enricher, Slack, Channel, SiteID are set here
	Enrich       enrich.Options
	Observe      Observer
	Logger       *slog.Logger
	Version      string // tabhook's, for the list of replicas
	// Metrics, when set, counts the relay's events; MetricsListen serves them.
	Metrics       *Metrics
	MetricsListen string
	// DebugPprof serves net/http/pprof's profiles on MetricsListen too (hidden flag).
	DebugPprof bool
	// Reload delivers SIGHUP; Reconfigure then re-reads the settings that may change
	// without a restart: the routing and the Slack token.
	Reload      <-chan os.Signal
	Reconfigure func() (Reloaded, error)
	// CredentialCheck is how often a refused Slack token is tried again; default 1m.
	CredentialCheck time.Duration
	// DiskFullPercent turns /readyz when the state directory's file system is this
	// full; default DefaultDiskFullPercent.
	DiskFullPercent float64
	// Ready, when set, is called once the listener is up and, for run, the webhooks
	// exist: the moment to tell systemd or a test that the relay is serving.
	Ready func(addr string)
	// Destinations are the config file's destinations besides Slack, checked.
	Destinations []destination.Config
	// MentionOwner mentions a failed refresh's owner in Slack (--mention-owner).
	MentionOwner bool
	// QualityWarnings marks data sources whose refresh failed in Tableau
	// (--quality-warnings).
	QualityWarnings bool
	// Actions offers buttons on failed refreshes' messages and takes Slack's clicks at
	// ActionsPath(Path) (--actions); nil: none.
	Actions *ActionsConfig
	// Sites, when set, are the sites this relay serves (config file sites:), each with
	// its own Tableau client, listener path and (run) webhooks; one whose credential is
	// refused pauses alone. Empty: the one site of Tableau, at Path.
	Sites []Site
	// DiscoverSites, when set, finds the sites to serve instead (config sites: all):
	// every site the token's user can enter, at start and every WebhookCheck after, so
	// sites added on the server are served and deleted ones dropped.
	DiscoverSites func(ctx context.Context) ([]Site, error)
}

// ActionsConfig is what acting from Slack's messages needs.
type ActionsConfig struct {
	SigningSecret string   // the Slack app's signing secret
	Allow         []string // who may act: Slack user and user group IDs
}

// StartupError is a failure at start-up that retrying cannot fix (rejected
// credentials, a channel that does not exist). Its cause tells the exit code.
type StartupError struct{ Err error }

func (e *StartupError) Error() string { return e.Err.Error() }
func (e *StartupError) Unwrap() error { return e.Err }

type relay struct {
	cfg      Config
	log      *slog.Logger
	health   *Health
	refused  *refusals // deliveries the store could not take
	store    store.Store
	svc      *Service
	srv      *Server
	mu       sync.Mutex
	sites    []*site // what it serves: one, or the config's sites (under mu once running)
	eo       enrich.Options
	multi    bool // several sites (fixed at start): r.sites changes only then
	bg       sync.WaitGroup
	fatal    chan error                          // a failure after start-up that ends the relay (registration)
	paused   map[string]bool                     // destinations whose credential was refused (under mu)
	leave    func(context.Context) (bool, error) // serve on a shared store: leave the replicas (under mu)
	rechecks map[string]chan struct{}            // a reload asks to try a credential again
	said     map[string]bool                     // set-up notes already given (under mu)
	renewed  map[string]time.Time                // when a reload last replaced a credential (under mu)
	acts     *actions.Handler                    // Slack's clicks (--actions); nil without
}

// Reloaded is what a reload re-reads.
type Reloaded struct {
	Routing    Routing
	SlackToken string // "" keeps the current token
	PATSecret  string // "" keeps the current secret
	// SiteSecrets are the PAT secrets of a relay of several sites, by content URL
	// (a site missing keeps its secret).
	SiteSecrets map[string]string
}

// Run serves until ctx ends, then shuts down in order: stop accepting, delete the
// managed webhooks, drain deliveries for up to DrainTimeout, sign out. It composes the
// parts — store, listener, control socket, delivery, connection to Tableau and Slack —
// and reacts to what ends or changes them.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	cfg.Observe = withMetrics(cfg.Observe, cfg.Metrics)
	if cfg.DiscoverSites != nil {
		sites, err := discover(ctx, cfg.DiscoverSites)
		if err != nil {
			return err
		}
		cfg.Sites, cfg.Tableau = sites, sites[0].Tableau
	}
	health := NewHealth()
	r := &relay{cfg: cfg, log: cfg.Logger, health: health, fatal: make(chan error, 1), paused: map[string]bool{},
		refused:  &refusals{log: cfg.Logger, metrics: cfg.Metrics, health: health, every: time.Minute},
		rechecks: map[string]chan struct{}{"slack": make(chan struct{}, 1)},
		sites:    newSites(cfg)}
	r.multi = r.sites[0].multi
	if r.multi {
		health.Clear(CompTableau)
		for _, s := range r.sites {
			health.Set(s.comp(CompTableau), "not signed in")
		}
	}
	sp, err := r.openStore(ctx)
	if err != nil {
		return err
	}
	r.store = sp
	r.health.Set(CompSpool, "")
	if cfg.Manage {
		// Ready means Tableau delivers here: not before the webhooks exist.
		for _, s := range r.sites {
			r.health.Set(s.comp(CompWebhooks), "not registered yet")
		}
	}
	defer sp.Close()
	stopMetrics, err := serveMetrics(cfg.Metrics, cfg.MetricsListen, sp, cfg.DebugPprof)
	if err != nil {
		return err
	}
	defer stopMetrics()

	// Rejected credentials end the start-up; an unreachable service does not.
	tableauUp, slackUp, err := r.checkCredentials(ctx)
	if err == nil {
		err = r.listen(ctx)
	}
	if err != nil {
		r.signOut() // Tableau may have accepted us while Slack did not
		return err
	}
	if r.acts != nil {
		defer r.acts.Wait() // clicks being acted on finish before the store closes
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- r.srv.Serve() }()
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "listening on " + r.srv.Addr().String()})

	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	bgCtx, stopBg := context.WithCancel(ctx)
	r.svc = r.delivery(bgCtx)
	r.svc.Start(svcCtx)
	// `tabhook deliveries` talks to this process while it holds the spool (a shared
	// store it reads directly).
	if cfg.Store == "" {
		ctl, err := control.Serve(cfg.StateDir, sp)
		if err != nil {
			r.log.Warn("the control socket is unavailable; tabhook deliveries cannot reach this relay", "err", err)
		} else {
			defer ctl.Close()
		}
	}

	r.bg.Add(3)
	go func() {
		defer r.bg.Done()
		r.connectLater(bgCtx, tableauUp, slackUp)
	}()
	go func() {
		defer r.bg.Done()
		r.releaseMapped(bgCtx)
	}()
	go func() {
		defer r.bg.Done()
		r.watchDisk(bgCtx)
	}()
	stop := func() { stopBg(); r.bg.Wait() }
	for {
		select {
		case <-ctx.Done():
			stop()
			return r.shutdown()
		case <-r.cfg.Reload:
			r.reload(ctx)
		case err := <-serveErr:
			// The listener failed: clean up as at a stop, and say why.
			stop()
			return errors.Join(fmt.Errorf("listener: %w", err), r.shutdown())
		case err := <-r.fatal:
			stop()
			return errors.Join(err, r.shutdown())
		}
	}
}

func (r *relay) signOut() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range r.siteList() {
		_ = s.Tableau.SignOut(ctx)
	}
}

// siteID is a site's LUID, "" until it signed in.
func (r *relay) siteID(s *site) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.id
}

// openStore opens the shared store when one is configured, else the spool, which tells
// r.refused when intake starts and stops refusing for lack of room.
func (r *relay) openStore(ctx context.Context) (store.Store, error) {
	st, err := stores.Open(ctx, stores.Options{
		URL: r.cfg.Store, StateDir: r.cfg.StateDir, Version: r.cfg.Version, Logger: r.log,
		MaxSize:    r.cfg.MaxSpoolSize,
		OnError:    func(err error) { r.log.Error("spool", "err", err) },
		OnRefusing: r.refused.refusing,
		OnCompact: func(before, after int64) {
			r.log.Info("spool index compacted", "before_bytes", before, "after_bytes", after)
		},
	})
	if err != nil {
		return nil, err
	}
	if shared, ok := st.(store.Shared); ok {
		r.share(ctx, st, shared)
	} else {
		r.cfg.Metrics.Info(r.cfg.Version, "")
	}
	if rec, ok := st.(store.Recovered); ok {
		if damage := rec.Damaged(); len(damage) > 0 {
			r.cfg.Metrics.SpoolDamaged(len(damage))
			for _, d := range damage {
				r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "damaged state recovered: " + d})
			}
		}
	}
	return st, nil
}

// share sets the relay up as one of the replicas of a shared store.
func (r *relay) share(ctx context.Context, st store.Store, shared store.Shared) {
	// Lines of several replicas meet in one place: each says which it is.
	r.log = r.log.With("replica", shared.Replica())
	r.cfg.Metrics.Info(r.cfg.Version, shared.Replica())
	if !r.cfg.Manage {
		// serve replicas join too, for the list of replicas (run joins when it
		// registers its webhooks).
		if leave, err := shared.Join(ctx, "serve "+r.cfg.Path); err == nil {
			r.mu.Lock()
			r.leave = leave
			r.mu.Unlock()
		} else {
			r.log.Warn("could not announce this replica", "err", err)
		}
	}
	r.log.Info("using the shared store", "store", stores.Redact(r.cfg.Store))
	// Replicas keep Slack's per-channel pace together, not each its own, and share one
	// Tableau session: each sign-in with a personal access token ends the last.
	if p, ok := st.(slackout.Pacer); ok {
		r.cfg.Slack.SetPacer(p)
	}
	for _, site := range r.sites {
		if c, ok := site.Tableau.(interface{ ShareSessions(tableau.SessionShare) }); ok {
			if s, ok := st.(tableau.SessionShare); ok {
				c.ShareSessions(s)
			}
		}
	}
}

// delivery builds the delivery service over the store.
func (r *relay) delivery(ctx context.Context) *Service {
	svcCfg := r.cfg.Service
	svcCfg.Store, svcCfg.Slack, svcCfg.Sites = r.store, r.cfg.Slack, r.siteState
	svcCfg.Routing = Routing{Default: r.cfg.Channel, Routes: r.cfg.Routes, Destinations: DestinationsByName(r.cfg.Destinations)}
	svcCfg.Destinations = senders(r.cfg.Destinations, r.log)
	eo := r.cfg.Enrich
	if eo.Logger == nil {
		eo.Logger = r.log
	}
	eo.OwnerEmails = eo.OwnerEmails || r.cfg.MentionOwner
	svcCfg.MentionOwner, svcCfg.SayOnce, svcCfg.Degraded = r.cfg.MentionOwner, r.sayOnce, r.cfg.Metrics.Degraded
	svcCfg.LeaseLost = r.cfg.Metrics.LeaseLost
	svcCfg.Actions, svcCfg.Muted = r.cfg.Actions != nil, r.cfg.Metrics.Muted
	svcCfg.ChannelState = func(channel, problem string) {
		if problem == "" {
			r.health.Clear("slack " + channel)
			return
		}
		r.health.Set("slack "+channel, problem)
	}
	if r.cfg.QualityWarnings {
		svcCfg.WarningsOf = r.warningsOf
	}
	r.eo = eo
	for _, s := range r.sites {
		s.enricher = enrich.New(s.Tableau, eo)
	}
	svcCfg.Enricher = siteEnricher{r}
	svcCfg.Observe, svcCfg.Logger = r.cfg.Observe, r.log
	svcCfg.Refused = func(err error, since time.Time) { r.credentialRefused(ctx, err, since) }
	return NewService(svcCfg)
}

// listen starts the listener, which stores deliveries in the store (and takes Slack's
// clicks with --actions).
func (r *relay) listen(ctx context.Context) error {
	sc := r.cfg.Server
	sc.Logger = r.log
	hc := HandlerConfig{Path: r.cfg.Path, Sites: r.intakeSites(), SiteFor: r.intakeSiteFor(), Intake: r.store, Health: r.health, Observe: r.cfg.Observe, Logger: r.log, Allow: r.cfg.Allow, Refused: r.refused.note}
	if r.cfg.Actions != nil {
		h, err := r.actions(ctx)
		if err != nil {
			return err
		}
		hc.Actions, r.acts = h, h
	}
	sc.Handler = NewHandler(hc)
	srv, err := Listen(sc)
	if err != nil {
		return err
	}
	r.srv = srv
	return nil
}

// leaveServe ends a serve replica's membership (run's ends with its webhooks').
func (r *relay) leaveServe() {
	r.mu.Lock()
	leave := r.leave
	r.mu.Unlock()
	if r.cfg.Manage || leave == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = leave(ctx)
}

func (r *relay) shutdown() error {
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "shutting down"})
	defer r.leaveServe()
	// Requests in flight are being stored and finish in milliseconds; Tableau itself
	// gives up after 3 s, so waiting longer helps no one.
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = r.srv.Shutdown(sctx)
	cancel()
	var errs []error
	// Until Tableau has answered a sign-in, no create can have been sent.
	if r.cfg.Manage && !r.cfg.KeepWebhooks {
		errs = append(errs, r.removeAllWebhooks()...)
	}
	dctx, cancel := context.WithTimeout(context.Background(), r.cfg.DrainTimeout)
	r.svc.Stop(dctx)
	cancel()
	if n, err := r.store.Pending(); err == nil && n > 0 {
		what := fmt.Sprintf("%d undelivered events stay", n)
		if n == 1 {
			what = "1 undelivered event stays"
		}
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: what + " in the store: the next try is after the restart"})
	}
	r.signOut()
	return errors.Join(errs...)
}
