package relay

import (
	"context"
	"errors"
	"time"

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
		case <-r.rechecks[who]:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		var err error
		if who == "tableau" {
			err = r.cfg.Tableau.SignIn(cctx)
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
