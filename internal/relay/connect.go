package relay

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// checkCredentials makes the first sign-ins (one per site) and auth.test, each
// bounded in time. A rejected credential ends the start-up — but of one site among
// several it pauses that site only (the others are served; it is tried again).
func (r *relay) checkCredentials(ctx context.Context) (tableauUp []bool, slackUp bool, err error) {
	var wg sync.WaitGroup
	terrs := make([]error, len(r.sites))
	var serr error
	for i, s := range r.sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			terrs[i] = r.signIn(ctx, s)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		serr = r.checkSlack(ctx)
	}()
	wg.Wait()
	tableauUp = make([]bool, len(r.sites))
	for i, e := range terrs {
		tableauUp[i] = e == nil
		var se *StartupError
		if errors.As(e, &se) && !(r.sites[i].multi && tableau.IsCredentialsRejected(e)) {
			return nil, false, se
		}
	}
	var se *StartupError
	if errors.As(serr, &se) {
		return nil, false, se
	}
	return tableauUp, serr == nil, nil
}

// signIn signs in to a site; a site paused for its credential resumes.
func (r *relay) signIn(ctx context.Context, s *site) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	asked := time.Now()
	err := s.Tableau.SignIn(ctx)
	if err == nil {
		r.mu.Lock()
		s.id = s.Tableau.SiteID()
		r.mu.Unlock()
		r.health.Set(s.comp(CompTableau), "")
		r.resumeSite(s)
		r.checkOptions(s)
		return nil
	}
	var ue *tableau.UnsupportedError
	if tableau.IsCredentialsRejected(err) || errors.As(err, &ue) || !tableau.IsTemporary(err) {
		if s.multi && tableau.IsCredentialsRejected(err) {
			r.pauseSite(s, err, asked)
		}
		return &StartupError{Err: err}
	}
	r.health.Set(s.comp(CompTableau), err.Error())
	r.log.Debug("Tableau is not reachable", "err", err, "site", s.siteName())
	return err
}

func (r *relay) checkSlack(ctx context.Context) error {
	if !r.usesSlack() {
		r.health.Set(CompSlack, "") // every route sends to destinations only
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	auth, err := r.cfg.Slack.AuthTest(ctx)
	if err == nil {
		err = slackout.CheckScopes(auth)
	}
	if err == nil && r.cfg.MentionOwner && len(auth.Scopes) > 0 && !slices.Contains(auth.Scopes, "users:read.email") {
		r.sayOnce(mentionScopeKey, mentionScopeMsg)
	}
	for _, ch := range (Routing{Default: r.cfg.Channel, Routes: r.cfg.Routes}).Channels() {
		if err == nil {
			_, err = r.cfg.Slack.CanPost(ctx, auth, ch)
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

// usesSlack: the default channel or a route names a Slack channel. A relay whose every
// route goes to other destinations runs without Slack, and without a token.
func (r *relay) usesSlack() bool {
	return len((Routing{Default: r.cfg.Channel, Routes: r.cfg.Routes}).Channels()) > 0
}

// connectLater retries what was unreachable at start-up. Once a site's Tableau answers
// (the site is known) its webhooks are registered (run); once every site is — or
// refuses its credential — the relay is ready: Slack being unreachable does not hold
// that up (events are stored and posted when it answers).
func (r *relay) connectLater(ctx context.Context, tableauUp []bool, slackUp bool) {
	if !slackUp {
		r.log.Warn("Slack is not reachable: events are stored and will be posted when it answers")
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "Slack is not reachable: events are stored and will be posted when it answers"})
	}
	settled := make(chan struct{}, len(r.sites))
	for i, s := range r.sites {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.connectSite(ctx, s, tableauUp[i], func() { settled <- struct{}{} })
		}()
	}
	for range r.sites {
		select {
		case <-settled:
		case <-ctx.Done():
			return
		}
	}
	if r.cfg.Ready != nil {
		r.cfg.Ready(r.srv.Addr().String())
	}
	if r.cfg.DiscoverSites != nil {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.watchSites(ctx)
		}()
	}
	wait := time.Second
	for !slackUp {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		wait = min(wait*2, time.Minute)
		slackUp = r.retrySlack(ctx)
	}
	r.monitor(ctx)
}

// connectSite signs in to a site until it answers (a site that refuses its credential
// is tried every CredentialCheck, and at once after a reload), then registers its
// webhooks (run) and keeps them, or watches them (serve). settle is called once: when
// the site is registered, or — one site of several — when it first fails to answer.
func (r *relay) connectSite(ctx context.Context, s *site, up bool, settle func()) {
	ctx, stop := context.WithCancel(ctx)
	r.mu.Lock()
	s.stop = stop
	r.mu.Unlock()
	once := sync.OnceFunc(settle)
	if !up && !r.isSitePaused(s) {
		r.log.Warn("Tableau is not reachable; accepting events and retrying in the background", "site", s.siteName())
	}
	wait := time.Second
	for !up {
		if s.multi {
			// One site refused or unreachable holds up only itself: the others are
			// ready without it (/readyz names it meanwhile).
			once()
		}
		if r.isSitePaused(s) {
			wait = orMinute(r.cfg.CredentialCheck)
		}
		select {
		case <-time.After(wait):
		case <-s.recheck:
		case <-ctx.Done():
			return
		}
		wait = min(wait*2, time.Minute)
		err := r.signIn(ctx, s)
		up = err == nil
		if !s.multi {
			r.fatalLater(err)
		}
	}
	if r.cfg.Manage {
		if err := r.register(ctx, s); err != nil {
			if !errors.Is(err, admin.ErrStopped) {
				r.fatal <- err
			}
			return
		}
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.keepWebhooks(ctx, s)
		}()
	}
	if !r.cfg.Manage && r.cfg.WatchWebhooks != "" {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.watchWebhooks(ctx, s)
		}()
	}
	once()
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
	t := time.NewTicker(orMinute(r.cfg.HealthEvery))
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		asked := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		for _, site := range r.siteList() {
			if r.siteID(site) == "" || r.isSitePaused(site) {
				continue // still connecting, or its pause checks it
			}
			if c, ok := site.Tableau.(interface{ SharesToken() bool }); ok && c.SharesToken() {
				continue // a call would move the shared token (a sign-in) only to keep it warm
			}
			_, terr := site.Tableau.Site(cctx)
			if tableau.IsCredentialsRejected(terr) {
				r.credentialRefused(ctx, &credentialsError{destination: "tableau", site: site, err: terr}, asked) // the pause owns its health
				continue
			}
			r.setHealth(site.comp(CompTableau), terr)
		}
		_, serr := r.cfg.Slack.AuthTest(cctx)
		if p, ok := r.store.(interface{ Ping(context.Context) error }); ok {
			r.setHealth(CompSpool, p.Ping(cctx)) // a shared store can go away
		}
		cancel()
		switch {
		case slackout.WorkspaceRefusal(serr):
			r.credentialRefused(ctx, serr, asked)
		case !r.isPaused("slack"):
			r.setHealth(CompSlack, serr)
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

func (r *relay) isPaused(who string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused[who]
}

func (r *relay) setHealth(comp string, err error) {
	if err == nil {
		r.health.Set(comp, "")
		return
	}
	r.health.Set(comp, err.Error())
	r.log.Warn("health check failed", "component", comp, "err", err)
}

// checkOptions says at start-up, once, which options the server cannot serve.
func (r *relay) checkOptions(s *site) {
	if !r.cfg.QualityWarnings {
		return
	}
	if err := s.Tableau.QualityWarningsSupported(); err != nil {
		r.sayOnce("quality-warnings", "--quality-warnings is unavailable: "+err.Error()+"; failures are posted without marking the data source")
	}
}

// sayOnce tells the operator something about the set-up once per process.
func (r *relay) sayOnce(key, msg string) {
	r.mu.Lock()
	said := r.said[key]
	if r.said == nil {
		r.said = map[string]bool{}
	}
	r.said[key] = true
	r.mu.Unlock()
	if !said {
		// One line: the relay's status line (stdout, the journal); the log repeats it
		// only at debug.
		r.log.Debug(msg)
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: msg})
	}
}
