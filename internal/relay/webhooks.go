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
func (r *relay) register(ctx context.Context, s *site) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registrationTimeout)
	defer cancel()
	var managed []admin.Managed
	var err error
	ensure := func() error {
		managed, err = s.reg.Ensure(rctx, s.Tableau, ctx.Done())
		return nil
	}
	if c, ok := r.store.(coordinator); ok {
		// Replicas share one set of webhooks: announce this one, then create or adopt
		// them while no other replica registers or removes them.
		leave, jerr := c.Join(rctx, s.group())
		if jerr != nil {
			return fmt.Errorf("could not register the webhooks: %w", jerr)
		}
		r.mu.Lock()
		s.leave = leave
		r.mu.Unlock()
		if xerr := c.Exclusive(rctx, s.group(), ensure); xerr != nil {
			return fmt.Errorf("could not register the webhooks: %w", xerr)
		}
	} else {
		_ = ensure()
	}
	r.mu.Lock()
	s.managed = s.managed[:0]
	for _, m := range managed {
		s.managed = append(s.managed, m.Webhook)
	}
	r.mu.Unlock()
	for _, m := range managed {
		what := "created"
		if m.Adopted {
			what = "adopted"
		}
		r.cfg.Observe.emit(Event{Type: EvWebhook, ID: m.Webhook.ID, Name: m.Webhook.Name, EventType: m.Webhook.Event, OK: ok(true), Detail: what, Site: s.siteName()})
	}
	if errors.Is(err, admin.ErrStopped) {
		return err
	}
	if err != nil {
		return fmt.Errorf("could not register the webhooks: %w", err)
	}
	r.health.Clear(s.comp(CompWebhooks))
	if r.cfg.Verify {
		hooks := make([]tableau.Webhook, len(managed))
		for i, m := range managed {
			hooks[i] = m.Webhook
		}
		for _, v := range s.reg.Verify(ctx, s.Tableau, hooks) {
			r.cfg.Observe.emit(Event{Type: EvVerify, ID: v.Webhook.ID, Name: v.Webhook.Name, EventType: v.Webhook.Event, OK: ok(v.OK), Detail: v.Detail, Site: s.siteName()})
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

// group names the replicas that share a site's webhooks.
func (s *site) group() string { return s.reg.Prefix + " " + s.reg.URL }

// siteName is the site's name for lines of a relay of several sites ("" for one).
func (s *site) siteName() string {
	if !s.multi {
		return ""
	}
	return s.Label()
}

// removeAllWebhooks deletes every site's webhooks at a stop (each site that signed
// in: until Tableau has answered a sign-in, no create can have been sent), each said.
func (r *relay) removeAllWebhooks() []error {
	var errs []error
	for _, s := range r.siteList() {
		if r.siteID(s) == "" {
			continue
		}
		dctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		gone, err := r.removeWebhooks(dctx, s)
		cancel()
		if err != nil {
			if s.multi {
				err = fmt.Errorf("site %s: %w", s.Label(), err)
			}
			cleanup := s.reg.CleanupCommand()
			if s.multi {
				cleanup += " --site '" + s.Name + "'"
			}
			errs = append(errs, fmt.Errorf("%w; remove them with: %s", err, cleanup))
		}
		for _, w := range gone {
			r.cfg.Observe.emit(Event{Type: EvWebhook, ID: w.ID, Name: w.Name, EventType: w.Event, OK: ok(true), Detail: "deleted", Site: s.siteName()})
		}
	}
	return errs
}

// removeWebhooks deletes this relay's webhooks at a stop — unless other replicas of it
// still run (a shared store), or it never announced itself (stopped before Tableau
// answered: nothing of its own to delete).
func (r *relay) removeWebhooks(ctx context.Context, s *site) ([]tableau.Webhook, error) {
	c, shared := r.store.(coordinator)
	if !shared {
		return s.reg.Remove(ctx, s.Tableau)
	}
	r.mu.Lock()
	leave := s.leave
	r.mu.Unlock()
	if leave == nil {
		return nil, nil
	}
	var gone []tableau.Webhook
	err := c.Exclusive(ctx, s.group(), func() error {
		last, err := leave(ctx)
		if err != nil {
			return err
		}
		if !last {
			r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "webhooks kept: other replicas still serve them"})
			return nil
		}
		gone, err = s.reg.Remove(ctx, s.Tableau)
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
func (r *relay) keepWebhooks(ctx context.Context, s *site) {
	every(ctx, r.webhookCheckEvery(), func() { r.checkWebhooks(ctx, s) })
}

// every calls fn each interval (the first after one) until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fn()
		case <-ctx.Done():
			return
		}
	}
}

func (r *relay) checkWebhooks(ctx context.Context, s *site) {
	cctx, cancel := context.WithTimeout(ctx, registrationTimeout)
	defer cancel()
	var repairs []admin.Repair
	check := func() error {
		r.mu.Lock()
		known := append([]tableau.Webhook(nil), s.managed...)
		r.mu.Unlock()
		var now []tableau.Webhook
		var err error
		repairs, now, err = s.reg.Repair(cctx, s.Tableau, known)
		r.mu.Lock()
		s.managed = now
		r.mu.Unlock()
		return err
	}
	var err error
	if c, ok := r.store.(coordinator); ok {
		err = c.Exclusive(cctx, s.group(), check) // the lock's error, or check's
	} else {
		err = check()
	}
	for _, rp := range repairs {
		what := map[string]string{admin.RepairMissing: "re-created", admin.RepairDisabled: "re-enabled", admin.RepairChanged: "put back"}[rp.Reason]
		r.cfg.Observe.emit(Event{Type: EvWebhook, ID: rp.Webhook.ID, Name: rp.Webhook.Name, EventType: rp.Webhook.Event, OK: ok(true), Reason: rp.Reason, Detail: what + " (" + rp.Before + ")", Site: s.siteName()})
		r.log.Warn("a webhook of this relay drifted and was put right", "webhook", rp.Webhook.Name, "id", rp.Webhook.ID, "reason", rp.Reason, "was", rp.Before)
		r.cfg.Metrics.WebhookRepaired(rp.Reason)
	}
	if err != nil && ctx.Err() == nil {
		problem := "a webhook could not be checked or repaired: " + err.Error()
		r.health.Set(s.comp(CompWebhooks), problem)
		r.log.Error("webhooks", "err", err, "site", s.siteName())
		return
	}
	r.health.Clear(s.comp(CompWebhooks))
}

// watchWebhooks is serve's view of webhooks managed elsewhere (--watch-webhooks): every
// WebhookCheck it lists the site's webhooks named with the prefix that point at this
// relay, and reports — never changes — what it finds: none, or one disabled, turns
// /readyz (webhooks) and is said once per change.
func (r *relay) watchWebhooks(ctx context.Context, s *site) {
	t := time.NewTicker(r.webhookCheckEvery())
	defer t.Stop()
	said := ""
	for {
		problem := r.watchedProblem(ctx, s)
		if problem == "" {
			r.health.Clear(s.comp(CompWebhooks))
		} else {
			r.health.Set(s.comp(CompWebhooks), problem)
		}
		if problem != said && ctx.Err() == nil {
			detail := problem
			if problem == "" {
				detail = "the watched webhooks are enabled and point at this relay again"
			}
			r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "webhooks: " + detail, Site: s.siteName()})
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
func (r *relay) watchedProblem(ctx context.Context, s *site) string {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hooks, err := s.Tableau.ListWebhooks(cctx)
	if err != nil {
		return "" // Tableau's own health is /readyz's tableau check
	}
	v := admin.Watch(hooks, r.cfg.WatchWebhooks, s.PublicURL, s.Path)
	r.cfg.Metrics.WebhooksWatched(v.Enabled, v.Disabled)
	return v.Problem
}
