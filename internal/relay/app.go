package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/control"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/tableau"
)

// TableauAPI is what the relay needs from Tableau; *tableau.Client implements it.
type TableauAPI interface {
	admin.API
	enrich.Source
	Site(ctx context.Context) (tableau.Site, error)
	SignIn(ctx context.Context) error
	SignOut(ctx context.Context) error
	SiteID() string
}

// SlackAPI is what the relay needs from Slack; *slackout.Client implements it.
type SlackAPI interface {
	Slack
	AuthTest(ctx context.Context) (slackout.Auth, error)
	Channel(ctx context.Context, channel string) (slackout.ChannelInfo, error)
}

// Config configures serve and run.
type Config struct {
	Tableau  TableauAPI
	Slack    SlackAPI
	Channel  string  // the default channel
	Routes   []Route // channels for some events or projects (config file); first match wins
	StateDir string
	Server   ServerConfig // Handler is set by the relay
	Path     string       // listener path
	Allow    []netip.Prefix

	// run only: the webhooks to create (or adopt) at start and delete at exit.
	Manage       bool
	PublicURL    string
	Events       []string // API names
	NamePrefix   string
	KeepWebhooks bool
	Verify       bool

	DrainTimeout time.Duration // default 10s
	HealthEvery  time.Duration // how often /readyz's view of Tableau and Slack is refreshed; default 1m
	Service      ServiceConfig // tuning; Spool, Enricher, Slack, Channel, SiteID are set here
	Enrich       enrich.Options
	Observe      Observer
	Logger       *slog.Logger
	// Metrics, when set, counts the relay's events; MetricsListen serves them.
	Metrics       *Metrics
	MetricsListen string
	// Reload delivers SIGHUP; Reconfigure then re-reads the settings that may change
	// without a restart (the Slack channel).
	Reload      <-chan os.Signal
	Reconfigure func() (Routing, error)
	// Ready, when set, is called once the listener is up and, for run, the webhooks
	// exist: the moment to tell systemd or a test that the relay is serving.
	Ready func(addr string)
}

// StartupError is a failure at start-up that retrying cannot fix (rejected
// credentials, a channel that does not exist). Its cause tells the exit code.
type StartupError struct{ Err error }

func (e *StartupError) Error() string { return e.Err.Error() }
func (e *StartupError) Unwrap() error { return e.Err }

type relay struct {
	cfg    Config
	log    *slog.Logger
	health *Health
	sp     *spool.Spool
	svc    *Service
	srv    *Server
	mu     sync.Mutex
	siteID string
	reg    admin.Registration // run: the webhooks this relay owns
	bg     sync.WaitGroup
	fatal  chan error // a failure after start-up that ends the relay (registration)
}

// Run serves until ctx ends, then shuts down in order: stop accepting, delete the
// managed webhooks, drain deliveries for up to DrainTimeout, sign out.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	r := &relay{cfg: cfg, log: cfg.Logger, health: NewHealth(), fatal: make(chan error, 1),
		reg: admin.Registration{Prefix: cfg.NamePrefix, URL: cfg.PublicURL, Events: cfg.Events}}
	sp, err := spool.Open(cfg.StateDir, spool.Options{OnError: func(err error) { cfg.Logger.Error("spool", "err", err) }})
	if err != nil {
		return err
	}
	r.sp = sp
	r.health.Set(CompSpool, "")
	defer sp.Close()
	if cfg.Metrics != nil {
		stop, err := r.serveMetrics()
		if err != nil {
			return err
		}
		defer stop()
	}

	// Rejected credentials end the start-up; an unreachable service does not.
	tableauUp, slackUp, err := r.checkCredentials(ctx)
	if err == nil {
		err = r.listen()
	}
	if err != nil {
		r.signOut() // Tableau may have accepted us while Slack did not
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- r.srv.Serve() }()
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "listening on " + r.srv.Addr().String()})

	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	r.svc.Start(svcCtx)
	// `tabhook deliveries` talks to this process while it holds the spool.
	ctl, err := control.Serve(cfg.StateDir, sp, r.svc.Notify)
	if err != nil {
		r.log.Warn("the control socket is unavailable; tabhook deliveries cannot reach this relay", "err", err)
	} else {
		defer ctl.Close()
	}

	bgCtx, stopBg := context.WithCancel(ctx)
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.connectLater(bgCtx, tableauUp, slackUp)
	}()

	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-r.cfg.Reload:
			r.reload(ctx)
		case err := <-serveErr:
			// The listener failed: clean up as at a stop, and say why.
			stopBg()
			r.bg.Wait()
			return errors.Join(fmt.Errorf("listener: %w", err), r.shutdown())
		case err := <-r.fatal:
			stopBg()
			r.bg.Wait()
			return errors.Join(err, r.shutdown())
		}
	}
	stopBg()
	r.bg.Wait()
	return r.shutdown()
}

func (r *relay) signOut() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.cfg.Tableau.SignOut(ctx)
}

func (r *relay) site() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.siteID
}

func (r *relay) listen() error {
	svcCfg := r.cfg.Service
	svcCfg.Spool, svcCfg.Slack, svcCfg.SiteID = r.sp, r.cfg.Slack, r.site
	svcCfg.Routing = Routing{Default: r.cfg.Channel, Routes: r.cfg.Routes}
	eo := r.cfg.Enrich
	if eo.Logger == nil {
		eo.Logger = r.log
	}
	svcCfg.Enricher = enrich.New(r.cfg.Tableau, eo)
	svcCfg.Observe, svcCfg.Logger = r.cfg.Observe, r.log
	r.svc = NewService(svcCfg)
	// An event is scheduled once it is indexed, i.e. readable by the workers.
	r.sp.OnIndexed(r.svc.Notify)
	sc := r.cfg.Server
	sc.Logger = r.log
	sc.Handler = NewHandler(HandlerConfig{Path: r.cfg.Path, SiteID: r.site, Intake: r.sp, Health: r.health, Observe: r.cfg.Observe, Logger: r.log, Allow: r.cfg.Allow})
	srv, err := Listen(sc)
	if err != nil {
		return err
	}
	r.srv = srv
	return nil
}

// checkCredentials makes the first sign-in and auth.test, each bounded in time.
func (r *relay) checkCredentials(ctx context.Context) (tableauUp, slackUp bool, err error) {
	var wg sync.WaitGroup
	var terr, serr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		terr = r.signIn(ctx)
	}()
	go func() {
		defer wg.Done()
		serr = r.checkSlack(ctx)
	}()
	wg.Wait()
	for _, e := range []error{terr, serr} {
		var se *StartupError
		if errors.As(e, &se) {
			return false, false, se
		}
	}
	return terr == nil, serr == nil, nil
}

func (r *relay) signIn(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := r.cfg.Tableau.SignIn(ctx)
	if err == nil {
		r.mu.Lock()
		r.siteID = r.cfg.Tableau.SiteID()
		r.mu.Unlock()
		r.health.Set(CompTableau, "")
		return nil
	}
	var ue *tableau.UnsupportedError
	if tableau.IsCredentialsRejected(err) || errors.As(err, &ue) || !tableau.IsTemporary(err) {
		return &StartupError{Err: err}
	}
	r.health.Set(CompTableau, err.Error())
	r.log.Debug("Tableau is not reachable", "err", err)
	return err
}

func (r *relay) checkSlack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	auth, err := r.cfg.Slack.AuthTest(ctx)
	if err == nil {
		err = checkScopes(auth)
	}
	for _, ch := range (Routing{Default: r.cfg.Channel, Routes: r.cfg.Routes}).Channels() {
		if err == nil {
			err = canPost(ctx, r.cfg.Slack, auth, ch)
		}
	}
	if err == nil {
		r.health.Set(CompSlack, "")
		return nil
	}
	if slackout.IsPermanent(err) {
		return &StartupError{Err: err}
	}
	r.health.Set(CompSlack, err.Error())
	return err
}

// checkScopes fails when the token cannot post at all. Slack reports scopes only for
// some token types; none reported means nothing to check.
func checkScopes(a slackout.Auth) error {
	if len(a.Scopes) == 0 {
		return nil
	}
	for _, s := range a.Scopes {
		if s == "chat:write" {
			return nil
		}
	}
	return &slackout.Error{Op: "auth.test", Code: "missing_scope", Permanent: true, Err: errors.New("the token lacks chat:write")}
}

// canPost checks that the channel exists and the bot may post there: a member, or a
// public channel with chat:write.public.
func canPost(ctx context.Context, s SlackAPI, auth slackout.Auth, channel string) error {
	if _, err := s.ChannelID(ctx, channel); err != nil {
		return err
	}
	info, err := s.Channel(ctx, channel)
	if err != nil {
		return err
	}
	public := false
	for _, sc := range auth.Scopes {
		public = public || sc == "chat:write.public"
	}
	if !info.IsMember && (info.IsPrivate || (!public && len(auth.Scopes) > 0)) {
		return &slackout.Error{Op: "check channel " + channel, Code: "not_in_channel", Permanent: true,
			Err: fmt.Errorf("the bot is not a member of #%s", info.Name)}
	}
	return nil
}

// connectLater retries what was unreachable at start-up. Once Tableau answers (the
// site is known) the webhooks are registered (run) and the relay is ready: Slack being
// unreachable does not hold that up — events are stored and posted when it answers.
func (r *relay) connectLater(ctx context.Context, tableauUp, slackUp bool) {
	if !slackUp {
		r.log.Warn("Slack is not reachable: events are stored and will be posted when it answers")
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "Slack is not reachable: events are stored and will be posted when it answers"})
	}
	if !tableauUp {
		r.log.Warn("Tableau is not reachable; accepting events and retrying in the background")
	}
	wait := time.Second
	retry := func() bool {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false
		}
		wait = min(wait*2, time.Minute)
		return true
	}
	for !tableauUp {
		if !retry() {
			return
		}
		err := r.signIn(ctx)
		tableauUp = err == nil
		r.fatalLater(err)
		if !slackUp {
			slackUp = r.retrySlack(ctx)
		}
	}
	if r.cfg.Manage {
		if err := r.register(ctx); err != nil {
			if !errors.Is(err, admin.ErrStopped) {
				r.fatal <- err
			}
			return
		}
	}
	if r.cfg.Ready != nil {
		r.cfg.Ready(r.srv.Addr().String())
	}
	for !slackUp {
		if !retry() {
			return
		}
		slackUp = r.retrySlack(ctx)
	}
	r.monitor(ctx)
}

// retrySlack checks Slack again and says so when it answers.
func (r *relay) retrySlack(ctx context.Context) bool {
	err := r.checkSlack(ctx)
	r.fatalLater(err)
	if err != nil {
		r.log.Debug("Slack still not reachable", "err", err)
		return false
	}
	r.log.Info("Slack answers again: posting stored events")
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "Slack answers again: posting stored events"})
	return true
}

// monitor keeps /readyz true to the present: an authenticated call to each service
// every minute (which also renews an idle Tableau session before it expires).
func (r *relay) monitor(ctx context.Context) {
	every := r.cfg.HealthEvery
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, terr := r.cfg.Tableau.Site(cctx)
		_, serr := r.cfg.Slack.AuthTest(cctx)
		cancel()
		for comp, err := range map[string]error{CompTableau: terr, CompSlack: serr} {
			if err != nil {
				r.health.Set(comp, err.Error())
				r.log.Warn("health check failed", "component", comp, "err", err)
			} else {
				r.health.Set(comp, "")
			}
		}
	}
}

// fatalLater logs a start-up error found after start-up (e.g. the token was revoked
// while Slack was unreachable); the relay keeps accepting events meanwhile.
func (r *relay) fatalLater(err error) {
	var se *StartupError
	if errors.As(err, &se) {
		r.log.Error("credentials rejected; events are stored but cannot be delivered until this is fixed", "err", se.Err)
	}
}

// registrationTimeout bounds the registration requests, which a stop signal lets finish
// rather than cut: a create whose answer is cut off leaves a webhook behind.
const registrationTimeout = 30 * time.Second

// register creates or adopts the webhooks, then verifies them. A stop during it lets
// the request under way finish and sends no more (admin.ErrStopped).
func (r *relay) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registrationTimeout)
	defer cancel()
	managed, err := r.reg.Ensure(rctx, r.cfg.Tableau, ctx.Done())
	for _, m := range managed {
		what := "created"
		if m.Adopted {
			what = "adopted"
		}
		r.cfg.Observe.emit(Event{Type: EvWebhook, ID: m.Webhook.ID, Name: m.Webhook.Name, EventType: m.Webhook.Event, OK: true, Detail: what})
	}
	if errors.Is(err, admin.ErrStopped) {
		return err
	}
	if err != nil {
		return fmt.Errorf("could not register the webhooks: %w", err)
	}
	if r.cfg.Verify {
		hooks := make([]tableau.Webhook, len(managed))
		for i, m := range managed {
			hooks[i] = m.Webhook
		}
		for _, v := range r.reg.Verify(ctx, r.cfg.Tableau, hooks) {
			r.cfg.Observe.emit(Event{Type: EvVerify, ID: v.Webhook.ID, Name: v.Webhook.Name, EventType: v.Webhook.Event, OK: v.OK, Detail: v.Detail})
			if !v.OK {
				r.log.Warn("Tableau cannot deliver to the listener", "webhook", v.Webhook.Name, "problem", v.Detail)
			}
		}
	}
	return nil
}

func (r *relay) shutdown() error {
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "shutting down"})
	// Requests in flight are being stored and finish in milliseconds; Tableau itself
	// gives up after 3 s, so waiting longer helps no one.
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = r.srv.Shutdown(sctx)
	cancel()
	var errs []error
	// Until Tableau has answered a sign-in, no create can have been sent.
	if r.cfg.Manage && !r.cfg.KeepWebhooks && r.site() != "" {
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		gone, err := r.reg.Remove(dctx, r.cfg.Tableau)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%w; remove them with: %s", err, r.reg.CleanupCommand()))
		}
		for _, w := range gone {
			r.cfg.Observe.emit(Event{Type: EvWebhook, ID: w.ID, Name: w.Name, EventType: w.Event, OK: true, Detail: "deleted"})
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), r.cfg.DrainTimeout)
	r.svc.Stop(dctx)
	cancel()
	if n, err := r.sp.PendingIDs(); err == nil && len(n) > 0 {
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: fmt.Sprintf("%d undelivered events stay in the spool for the next start", len(n))})
	}
	r.signOut()
	return errors.Join(errs...)
}

// serveMetrics counts the relay's events and serves them on MetricsListen.
func (r *relay) serveMetrics() (stop func(), err error) {
	m := r.cfg.Metrics
	inner := r.cfg.Observe
	r.cfg.Observe = func(e Event) {
		m.Observe(e)
		if inner != nil {
			inner(e)
		}
	}
	m.Pending(func() float64 {
		ids, _ := r.sp.PendingIDs()
		return float64(len(ids))
	})
	if r.cfg.MetricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", r.cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", r.cfg.MetricsListen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}

// reload applies a changed configuration: every channel is checked with Slack first,
// so a typo keeps the old routing. Events keep flowing throughout.
func (r *relay) reload(ctx context.Context) {
	if r.cfg.Reconfigure == nil {
		return
	}
	routing, err := r.cfg.Reconfigure()
	for _, ch := range routing.Channels() {
		if err != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err = r.cfg.Slack.ChannelID(cctx, ch)
		cancel()
	}
	if err != nil {
		r.log.Error("reload failed; keeping the current configuration", "err", err)
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "reload failed, configuration unchanged: " + err.Error()})
		return
	}
	r.svc.SetRouting(routing)
	r.log.Info("configuration reloaded", "channel", routing.Default, "routes", len(routing.Routes))
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: fmt.Sprintf("configuration reloaded: posting to %s (%d routes)", routing.Default, len(routing.Routes))})
}
