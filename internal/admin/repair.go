package admin

import (
	"context"
	"fmt"

	"github.com/tabhook/tabhook/internal/tableau"
)

// Repair reasons, as the metric labels them.
const (
	RepairMissing  = "missing"  // deleted by someone: created again
	RepairDisabled = "disabled" // disabled (by a person, or by Tableau): enabled again
	RepairChanged  = "changed"  // its URL or event changed: put back
)

// Repair is one webhook put right.
type Repair struct {
	Reason  string
	Webhook tableau.Webhook // as it is now
	Before  string          // what was wrong, in words
}

// Repair checks the registration's webhooks against the site and puts right what
// drifted: a webhook deleted is created again, one disabled is enabled, one whose URL
// or event was changed is put back. Known (the IDs this relay created or adopted)
// decides what is its own: a webhook of the same name with another URL and an unknown
// ID belongs to another instance and is never touched. It returns the repairs and the
// webhooks that are the registration's now.
func (r Registration) Repair(ctx context.Context, api API, known []tableau.Webhook) ([]Repair, []tableau.Webhook, error) {
	all, err := api.ListWebhooks(ctx)
	if err != nil {
		return nil, known, fmt.Errorf("list webhooks: %w", err)
	}
	byID := map[string]tableau.Webhook{}
	for _, w := range all {
		byID[w.ID] = w
	}
	mine := map[string]tableau.Webhook{} // by event, as known
	for _, w := range known {
		mine[w.Event] = w
	}
	var repairs []Repair
	var now []tableau.Webhook
	enabled := true
	for _, ev := range r.Events {
		name := ManagedName(r.Prefix, ev)
		k, wasKnown := mine[ev]
		cur, exists := byID[k.ID]
		switch {
		case !wasKnown || !exists:
			// Gone (or never known): adopt one of the same name and URL, else create.
			m, err := ensureOne(ctx, api, all, name, ev, r.URL)
			if err != nil {
				return repairs, append(now, knownOthers(known, r.Events[len(now):])...), err
			}
			if !m.Adopted { // one of the same name and URL is back: nothing to repair
				repairs = append(repairs, Repair{Reason: RepairMissing, Webhook: m.Webhook, Before: "it was deleted"})
			}
			now = append(now, m.Webhook)
		case cur.URL != r.URL || cur.Event != ev:
			url, event := r.URL, ev
			up, err := api.UpdateWebhook(ctx, cur.ID, tableau.WebhookSpec{URL: &url, Event: &event, Enabled: &enabled})
			if err != nil {
				return repairs, append(now, knownOthers(known, r.Events[len(now):])...), fmt.Errorf("put back webhook %q: %w", name, err)
			}
			repairs = append(repairs, Repair{Reason: RepairChanged, Webhook: up, Before: fmt.Sprintf("it was changed to %s → %s", cur.Event, cur.URL)})
			now = append(now, up)
		case !cur.Enabled:
			up, err := api.UpdateWebhook(ctx, cur.ID, tableau.WebhookSpec{Enabled: &enabled})
			if err != nil {
				return repairs, append(now, knownOthers(known, r.Events[len(now):])...), fmt.Errorf("enable webhook %q: %w", name, err)
			}
			why := "it was disabled"
			if cur.StatusChangeReason != "" {
				why += " (" + cur.StatusChangeReason + ")"
			}
			repairs = append(repairs, Repair{Reason: RepairDisabled, Webhook: up, Before: why})
			now = append(now, up)
		default:
			now = append(now, cur)
		}
	}
	return repairs, now, nil
}

// knownOthers are the known webhooks of these events: what stays known when a repair
// stops half-way.
func knownOthers(known []tableau.Webhook, events []string) []tableau.Webhook {
	var out []tableau.Webhook
	for _, w := range known {
		for _, ev := range events {
			if w.Event == ev {
				out = append(out, w)
			}
		}
	}
	return out
}
