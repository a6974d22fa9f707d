package relay

import (
	"context"
	"time"

	"github.com/tabhook/tabhook/internal/slackout"
)

// slackRefused pauses delivery when Slack refuses the credential itself (a revoked or
// rotated token): a property of the workspace, not of any event, so events stay
// pending instead of becoming dead letters. It says so once, turns /readyz and the
// metric at once, and checks the token again — every CredentialCheck, and at once
// after a reload — until Slack accepts it; then delivery resumes by itself.
func (r *relay) slackRefused(ctx context.Context, err error) {
	r.mu.Lock()
	if r.paused {
		r.mu.Unlock()
		return
	}
	r.paused = true
	r.mu.Unlock()
	if r.svc != nil {
		r.svc.Pause()
	}
	r.health.Set(CompSlack, "Slack refused the bot token ("+slackout.Code(err)+")")
	r.log.Error("Slack refused the bot token; delivery is paused and every event is kept",
		"err", err, "fix", "put a valid token in the token file (SLACK_TOKEN_FILE) and reload: systemctl reload tabhook, or send SIGHUP; tabhook also checks again by itself")
	r.cfg.Observe.emit(Event{Type: EvPaused, Reason: slackout.Code(err), Detail: "Slack refused the bot token: delivery paused, events kept; fix the token and reload"})
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.recheckSlack(ctx)
	}()
}

// recheckSlack waits until Slack accepts the token, then resumes delivery.
func (r *relay) recheckSlack(ctx context.Context) {
	every := r.cfg.CredentialCheck
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.recheck:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := r.cfg.Slack.AuthTest(cctx)
		cancel()
		if err != nil {
			r.log.Debug("Slack still refuses the token", "err", err)
			continue
		}
		r.mu.Lock()
		r.paused = false
		r.mu.Unlock()
		r.health.Set(CompSlack, "")
		r.svc.Resume()
		r.log.Info("Slack accepts the bot token again: delivery resumes")
		r.cfg.Observe.emit(Event{Type: EvResumed, Detail: "Slack accepts the bot token again: delivery resumes"})
		return
	}
}
