package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/tabhook/tabhook/internal/tableau"
)

// Managed is a webhook that a running relay created or adopted, and so deletes on exit.
type Managed struct {
	Webhook tableau.Webhook
	Adopted bool // it existed already: left behind by a crashed run with the same URL
}

// ManagedName is the name run gives the webhook of an event: <prefix>-<event-kebab>.
func ManagedName(prefix, event string) string {
	return prefix + "-" + tableau.Kebab(event)
}

// EnsureWebhooks makes sure one webhook per event points at url, creating the missing
// ones and adopting those a previous run left (same name and same URL), re-enabling
// them if Tableau disabled them. Webhooks of the same name with another URL belong to
// another instance and are left alone.
func EnsureWebhooks(ctx context.Context, api API, prefix, url string, events []string) ([]Managed, error) {
	existing, err := api.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	var out []Managed
	for _, ev := range events {
		name := ManagedName(prefix, ev)
		m, err := ensureOne(ctx, api, existing, name, ev, url)
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

func ensureOne(ctx context.Context, api API, existing []tableau.Webhook, name, event, url string) (Managed, error) {
	for _, w := range existing {
		if w.Name != name || w.URL != url {
			continue
		}
		if w.Enabled && w.Event == event {
			return Managed{Webhook: w, Adopted: true}, nil
		}
		enabled := true
		up, err := api.UpdateWebhook(ctx, w.ID, tableau.WebhookSpec{Enabled: &enabled, Event: &event})
		if err != nil {
			return Managed{}, fmt.Errorf("re-enable webhook %q: %w", name, err)
		}
		return Managed{Webhook: up, Adopted: true}, nil
	}
	enabled := true
	w, err := api.CreateWebhook(ctx, tableau.WebhookSpec{Name: &name, Event: &event, URL: &url, Enabled: &enabled})
	if err != nil {
		return Managed{}, err
	}
	return Managed{Webhook: w}, nil
}

// RemoveWebhooks deletes the managed webhooks and returns those gone; one already
// deleted by someone else counts as gone.
func RemoveWebhooks(ctx context.Context, api API, managed []Managed) ([]Managed, error) {
	var errs []string
	var gone []Managed
	for _, m := range managed {
		if err := api.DeleteWebhook(ctx, m.Webhook.ID); err != nil && !tableau.IsNotFound(err) {
			errs = append(errs, err.Error())
			continue
		}
		gone = append(gone, m)
	}
	if len(errs) > 0 {
		return gone, fmt.Errorf("delete webhooks: %s", strings.Join(errs, "; "))
	}
	return gone, nil
}
