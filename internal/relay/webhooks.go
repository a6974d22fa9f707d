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
	var managed []admin.Managed
	var err error
	ensure := func() error {
		managed, err = r.reg.Ensure(rctx, r.cfg.Tableau, ctx.Done())
		return nil
	}
	if c, ok := r.store.(coordinator); ok {
		// Replicas share one set of webhooks: announce this one, then create or adopt
		// them while no other replica registers or removes them.
		leave, jerr := c.Join(rctx, r.group())
		if jerr != nil {
			return fmt.Errorf("could not register the webhooks: %w", jerr)
		}
		r.mu.Lock()
		r.leave = leave
		r.mu.Unlock()
		if xerr := c.Exclusive(rctx, r.group(), ensure); xerr != nil {
			return fmt.Errorf("could not register the webhooks: %w", xerr)
		}
	} else {
		_ = ensure()
	}
	r.mu.Lock()
	r.managed = r.managed[:0]
	for _, m := range managed {
		r.managed = append(r.managed, m.Webhook)
	}
	r.mu.Unlock()
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
	r.health.Clear(CompWebhooks)
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

// coordinator is a store shared by replicas of run (pgstore): one set of webhooks for
// all of them, deleted by the last to stop.
type coordinator interface {
	Join(ctx context.Context, group string) (leave func(context.Context) (last bool, err error), err error)
	Exclusive(ctx context.Context, group string, fn func() error) error
}

// group names the replicas that share these webhooks.
func (r *relay) group() string { return r.reg.Prefix + " " + r.reg.URL }

// removeWebhooks deletes this relay's webhooks at a stop — unless other replicas of it
// still run (a shared store), or it never announced itself (stopped before Tableau
// answered: nothing of its own to delete).
func (r *relay) removeWebhooks(ctx context.Context) ([]tableau.Webhook, error) {
	c, shared := r.store.(coordinator)
	if !shared {
		return r.reg.Remove(ctx, r.cfg.Tableau)
	}
	r.mu.Lock()
	leave := r.leave
	r.mu.Unlock()
	if leave == nil {
		return nil, nil
	}
	var gone []tableau.Webhook
	err := c.Exclusive(ctx, r.group(), func() error {
		last, err := leave(ctx)
		if err != nil {
			return err
		}
		if !last {
			r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "webhooks kept: other replicas still serve them"})
			return nil
		}
		gone, err = r.reg.Remove(ctx, r.cfg.Tableau)
		return err
	})
	return gone, err
}

// DefaultWebhookCheck is how often run checks that its webhooks are still there,
// enabled and pointing at it.
const DefaultWebhookCheck = time.Minute

// webhookCheckEvery is the interval of keepWebhooks and watchWebhooks.
func (r *relay) webhookCheckEvery() time.Duration {
	if r.cfg.WebhookCheck <= 0 {
		return DefaultWebhookCheck
	}
	return r.cfg.WebhookCheck
}

// keepWebhooks checks run's webhooks on a steady interval and puts right what drifted —
// deleted by a colleague's script, disabled by Tableau after failed deliveries while
// the relay was down, pointed elsewhere — each said once (a line and a log record) and
// counted; a webhook it cannot repair is reported by /readyz until it can. Replicas
// check one at a time.
func (r *relay) keepWebhooks(ctx context.Context) {
	t := time.NewTicker(r.webhookCheckEvery())
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		r.checkWebhooks(ctx)
	}
}

func (r *relay) checkWebhooks(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, registrationTimeout)
	defer cancel()
	var repairs []admin.Repair
	check := func() error {
		r.mu.Lock()
		known := append([]tableau.Webhook(nil), r.managed...)
		r.mu.Unlock()
		var now []tableau.Webhook
		var err error
		repairs, now, err = r.reg.Repair(cctx, r.cfg.Tableau, known)
		r.mu.Lock()
		r.managed = now
		r.mu.Unlock()
		return err
	}
	var err error
	if c, ok := r.store.(coordinator); ok {
		err = c.Exclusive(cctx, r.group(), check) // the lock's error, or check's
	} else {
		err = check()
	}
	for _, rp := range repairs {
		what := map[string]string{admin.RepairMissing: "re-created", admin.RepairDisabled: "re-enabled", admin.RepairChanged: "put back"}[rp.Reason]
		r.cfg.Observe.emit(Event{Type: EvWebhook, ID: rp.Webhook.ID, Name: rp.Webhook.Name, EventType: rp.Webhook.Event, OK: ok(true), Reason: rp.Reason, Detail: what + " (" + rp.Before + ")"})
		r.log.Warn("a webhook of this relay drifted and was put right", "webhook", rp.Webhook.Name, "id", rp.Webhook.ID, "reason", rp.Reason, "was", rp.Before)
		r.cfg.Metrics.WebhookRepaired(rp.Reason)
	}
	if err != nil && ctx.Err() == nil {
		problem := "a webhook could not be checked or repaired: " + err.Error()
		r.health.Set(CompWebhooks, problem)
		r.log.Error("webhooks", "err", err)
		return
	}
	r.health.Clear(CompWebhooks)
}

// watchWebhooks is serve's view of webhooks managed elsewhere (--watch-webhooks): every
// WebhookCheck it lists the site's webhooks named with the prefix that point at this
// relay, and reports — never changes — what it finds: none, or one disabled, turns
// /readyz (webhooks) and is said once per change.
func (r *relay) watchWebhooks(ctx context.Context) {
	t := time.NewTicker(r.webhookCheckEvery())
	defer t.Stop()
	said := ""
	for {
		problem := r.watchedProblem(ctx)
		if problem == "" {
			r.health.Clear(CompWebhooks)
		} else {
			r.health.Set(CompWebhooks, problem)
		}
		if problem != said && ctx.Err() == nil {
			detail := problem
			if problem == "" {
				detail = "the watched webhooks are enabled and point at this relay again"
			}
			r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "webhooks: " + detail})
			said = problem
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// watchedProblem is what is wrong with the watched webhooks, "" when nothing.
func (r *relay) watchedProblem(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hooks, err := r.cfg.Tableau.ListWebhooks(cctx)
	if err != nil {
		return "" // Tableau's own health is /readyz's tableau check
	}
	v := admin.Watch(hooks, r.cfg.WatchWebhooks, r.cfg.PublicURL, r.cfg.Path)
	r.cfg.Metrics.WebhooksWatched(v.Enabled, v.Disabled)
	return v.Problem
}
