package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/tableau"
)

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
		r.cfg.Observe.emit(Event{Type: EvWebhook, ID: m.Webhook.ID, Name: m.Webhook.Name, EventType: m.Webhook.Event, OK: ok(true), Detail: what})
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
			r.cfg.Observe.emit(Event{Type: EvVerify, ID: v.Webhook.ID, Name: v.Webhook.Name, EventType: v.Webhook.Event, OK: ok(v.OK), Detail: v.Detail})
			if !v.OK {
				// The foreground view says it (a line, or a JSON line): once per audience.
				r.log.Debug("Tableau cannot deliver to the listener", "webhook", v.Webhook.Name, "problem", v.Detail)
			}
		}
	}
	return nil
}
