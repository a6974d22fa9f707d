package relay

import (
	"context"
	"errors"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/slackout"
)

// credentialRefused pauses delivery when Slack refuses the bot token or Tableau the
// PAT: a property of the set-up, not of any event, so events stay pending instead of
// becoming dead letters (or being posted without Tableau's details). It says so once,
// turns /readyz and the metric at once, and checks the credential again — every
// CredentialCheck, and at once after a reload — until it works; then delivery resumes
// by itself.
//
// A refusal of a request begun before a reload replaced the credential (since) is the
// old credential's: it is ignored, and the event is tried again with the new one.
func (r *relay) credentialRefused(ctx context.Context, err error, since time.Time) {
	who, comp, what, fix := "slack", CompSlack, "Slack refused the bot token ("+slackout.Code(err)+")",
		"put a valid token in the token file (SLACK_TOKEN_FILE) and reload: systemctl reload tabhook, or send SIGHUP; tabhook also checks again by itself"
	var ce *credentialsError
	if errors.As(err, &ce) && ce.destination == "tableau" {
		s := ce.site
		if s == nil {
			s = r.siteOf(ce.event)
		}
		if s == nil && r.multi {
			return // a site no longer served
		}
		if s == nil {
			s = r.sites[0]
		}
		if s.multi {
			if r.pauseSite(s, err, since) {
				r.bg.Add(1)
				go func() {
					defer r.bg.Done()
					r.recheckSite(ctx, s)
				}()
			}
			return
		}
		who, comp, what, fix = "tableau", CompTableau, "Tableau refused the personal access token",
			"create a new PAT, put its secret in the secret file (TS_PAT_SECRET_FILE) and reload: systemctl reload tabhook, or send SIGHUP; tabhook also checks again by itself"
	}
	r.mu.Lock()
	if r.paused[who] || since.Before(r.renewed[who]) {
		r.mu.Unlock()
		return
	}
	r.paused[who] = true
	r.mu.Unlock()
	if r.svc != nil {
		r.svc.Pause(who)
	}
	r.health.Set(comp, what)
	r.log.Error(what+"; delivery is paused and every event is kept", "err", err, "fix", fix)
	r.cfg.Observe.emit(Event{Type: EvPaused, Destination: who, Reason: reason(err), Detail: what + ": delivery paused, events kept; fix it and reload"})
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.recheck(ctx, who, comp)
	}()
}

// recheck waits until the credential works again, then resumes delivery (once no
// other credential holds it paused).
//
// The first check comes after a second, not a minute: a refusal may answer a request
// sent with the credential a reload has just replaced — the new one works, and
// delivery should not wait for the next tick (nor, in the worst case, for a reload
// whose signal was already taken).
func (r *relay) recheck(ctx context.Context, who, comp string) {
	t := time.NewTicker(orMinute(r.cfg.CredentialCheck))
	defer t.Stop()
	first := time.NewTimer(time.Second)
	defer first.Stop()
	for {
		select {
		case <-first.C:
		case <-t.C:
		case <-r.recheckOf(who):
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var err error
		if who == "tableau" {
			err = r.sites[0].Tableau.SignIn(cctx)
		} else {
			var auth slackout.Auth
			if auth, err = r.cfg.Slack.AuthTest(cctx); err == nil {
				err = slackout.CheckScopes(auth)
			}
		}
		cancel()
		if err != nil {
			r.log.Debug("the credential is still refused", "destination", who, "err", err)
			continue
		}
		r.mu.Lock()
		delete(r.paused, who)
		r.mu.Unlock()
		r.health.Set(comp, "")
		r.svc.Resume(who)
		r.log.Info("the credential works again: delivery resumes", "destination", who)
		r.cfg.Observe.emit(Event{Type: EvResumed, Destination: who, Detail: who + " accepts the credential again: delivery resumes"})
		return
	}
}

// orMinute is d, or a minute when unset.
func orMinute(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Minute
	}
	return d
}

// recheckOf is the channel a reload pokes to try a credential again.
func (r *relay) recheckOf(who string) <-chan struct{} {
	if who == "tableau" {
		return r.sites[0].recheck
	}
	return r.rechecks[who]
}

// pauseSite holds the events of one site of several whose credential Tableau refuses
// (the others flow): said once with the fix, on /readyz and in the metric. It reports
// whether the site was not paused before. A refusal of a request begun before a reload
// replaced the secret (since) is the old secret's, and ignored.
func (r *relay) pauseSite(s *site, err error, since time.Time) bool {
	r.mu.Lock()
	if s.paused || since.Before(s.renewed) {
		r.mu.Unlock()
		return false
	}
	s.paused = true
	r.mu.Unlock()
	what := "Tableau refused the personal access token of site " + s.Label()
	r.health.Set(s.comp(CompTableau), what)
	r.log.Error(what+"; its events are kept, the other sites' flow", "err", err, "site", s.Label(),
		"fix", "create a new PAT for the site, put its secret in the site's pat-secret-file and reload: systemctl reload tabhook, or send SIGHUP; tabhook also checks again by itself")
	r.cfg.Observe.emit(Event{Type: EvPaused, Destination: "tableau", Site: s.Label(), Reason: "credentials_rejected",
		Detail: what + ": its delivery paused, events kept; fix it and reload"})
	return true
}

// resumeSite ends a site's pause once its credential works again.
func (r *relay) resumeSite(s *site) {
	r.mu.Lock()
	was := s.paused
	s.paused = false
	r.mu.Unlock()
	if !was {
		return
	}
	// Its events were put off by the pause's hold: due now, not at its end. (Others
	// waiting on a retry go too: the cost is a try early.)
	if r.store != nil {
		for _, dest := range append([]string{""}, destinationNames(r.cfg.Destinations)...) {
			_, _ = r.store.Expedite(dest, time.Now())
		}
	}
	r.log.Info("the site's credential works again: delivery resumes", "site", s.Label())
	r.cfg.Observe.emit(Event{Type: EvResumed, Destination: "tableau", Site: s.Label(), Detail: "site " + s.Label() + " accepts the credential again: delivery resumes"})
}

func (r *relay) isSitePaused(s *site) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return s.paused
}

// recheckSite signs in to a paused site every CredentialCheck, and at once after a
// reload, until it works (signIn resumes it).
func (r *relay) recheckSite(ctx context.Context, s *site) {
	t := time.NewTicker(orMinute(r.cfg.CredentialCheck))
	defer t.Stop()
	for r.isSitePaused(s) {
		select {
		case <-t.C:
		case <-s.recheck:
		case <-ctx.Done():
			return
		}
		if err := r.signIn(ctx, s); err != nil {
			r.log.Debug("the site's credential is still refused", "site", s.Label(), "err", err)
		}
	}
}

func destinationNames(ds []destination.Config) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}
