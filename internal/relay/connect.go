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
		r.checkOptions()
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
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.keepWebhooks(ctx)
		}()
	}
	if !r.cfg.Manage && r.cfg.WatchWebhooks != "" {
		r.bg.Add(1)
		go func() {
			defer r.bg.Done()
			r.watchWebhooks(ctx)
		}()
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
		_, terr := r.cfg.Tableau.Site(cctx)
		_, serr := r.cfg.Slack.AuthTest(cctx)
		if p, ok := r.store.(interface{ Ping(context.Context) error }); ok {
			r.setHealth(CompSpool, p.Ping(cctx)) // a shared store can go away
		}
		cancel()
		switch {
		case tableau.IsCredentialsRejected(terr):
			r.credentialRefused(ctx, &credentialsError{destination: "tableau", err: terr}, asked) // the pause owns its health
		case !r.isPaused("tableau"):
			r.setHealth(CompTableau, terr)
		}
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
func (r *relay) checkOptions() {
	if !r.cfg.QualityWarnings {
		return
	}
	if err := r.cfg.Tableau.QualityWarningsSupported(); err != nil {
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
