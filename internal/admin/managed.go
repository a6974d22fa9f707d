package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// Registration is the set of webhooks one relay owns: one per event, named
// <prefix>-<event-kebab>, pointing at URL. A webhook of one of those names with
// another URL belongs to another instance and is never touched.
type Registration struct {
	Prefix string
	URL    string
	Events []string // API names
}

// ErrStopped: a stop came before every webhook existed; those created are returned.
var ErrStopped = errors.New("stopped before every webhook was registered")

// Owns reports whether w is one of this registration's webhooks.
func (r Registration) Owns(w tableau.Webhook) bool {
	if w.URL != r.URL {
		return false
	}
	for _, ev := range r.Events {
		if w.Name == ManagedName(r.Prefix, ev) {
			return true
		}
	}
	return false
}

// Ensure makes sure one webhook per event points at URL, creating the missing ones and
// adopting those a previous run left (same name and URL), re-enabling them if Tableau
// disabled them. A request it sends is allowed to finish (ctx bounds it); once stop is
// closed it sends no more and returns ErrStopped with what exists so far.
func (r Registration) Ensure(ctx context.Context, api API, stop <-chan struct{}) ([]Managed, error) {
	existing, err := api.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	var out []Managed
	for _, ev := range r.Events {
		select {
		case <-stop:
			return out, ErrStopped
		default:
		}
		m, err := ensureOne(ctx, api, existing, ManagedName(r.Prefix, ev), ev, r.URL)
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
	spec := tableau.WebhookSpec{Name: &name, Event: &event, URL: &url, Enabled: &enabled}
	w, err := api.CreateWebhook(ctx, spec)
	var ae *tableau.APIError
	if err != nil && !errors.As(err, &ae) && ctx.Err() == nil {
		// No answer (a connection reset, a timeout): the create may or may not have
		// happened. Look, adopt it if it did, send it once more if it did not.
		if w, found := lookFor(ctx, api, name, url); found {
			return Managed{Webhook: w}, nil
		}
		w, err = api.CreateWebhook(ctx, spec)
	}
	if err != nil {
		return Managed{}, fmt.Errorf("create webhook %q: %w", name, err)
	}
	return Managed{Webhook: w}, nil
}

// lookFor finds the webhook of this name and URL, if the site has it.
func lookFor(ctx context.Context, api API, name, url string) (tableau.Webhook, bool) {
	all, err := api.ListWebhooks(ctx)
	if err != nil {
		return tableau.Webhook{}, false
	}
	for _, w := range all {
		if w.Name == name && w.URL == url {
			return w, true
		}
	}
	return tableau.Webhook{}, false
}

// Remove deletes every webhook of the site that this registration owns, found by
// listing — not only those whose IDs the caller knows, so a create whose answer was
// lost is removed too — and returns those deleted. One already deleted by someone
// else counts as gone.
func (r Registration) Remove(ctx context.Context, api API) ([]tableau.Webhook, error) {
	all, err := api.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	var errs []string
	var gone []tableau.Webhook
	for _, w := range all {
		if !r.Owns(w) {
			continue
		}
		if err := api.DeleteWebhook(ctx, w.ID); err != nil && !tableau.IsNotFound(err) {
			errs = append(errs, err.Error())
			continue
		}
		gone = append(gone, w)
	}
	if len(errs) > 0 {
		return gone, fmt.Errorf("delete webhooks: %s", strings.Join(errs, "; "))
	}
	return gone, nil
}

// CleanupCommand is the command that removes this registration's webhooks by hand once
// the relay is gone: prune deletes the webhooks whose destination no longer answers,
// and leaves other instances' live ones. It names no URL: the listener path is secret.
func (r Registration) CleanupCommand() string {
	return fmt.Sprintf("tabhook webhook prune --name-prefix %s- --yes", r.Prefix)
}

// Verification is the outcome of Tableau's test delivery to one webhook.
type Verification struct {
	Webhook tableau.Webhook
	OK      bool
	Detail  string // what happened, and what to fix when it failed
}

// Verify asks Tableau to send its test delivery to each webhook and says, for each,
// whether it arrived and what to fix when it did not.
func (r Registration) Verify(ctx context.Context, api API, hooks []tableau.Webhook) []Verification {
	var out []Verification
	for _, o := range TestAll(ctx, api, hooks) {
		v := Verification{Webhook: o.Webhook}
		switch {
		case o.Err != nil:
			v.Detail = "could not ask Tableau to test: " + o.Err.Error()
		case o.Result.OK:
			v.OK, v.Detail = true, "Tableau reached the listener"
		default:
			v.Detail = VerifyHint(r.URL, o.Result)
		}
		out = append(out, v)
	}
	return out
}

// VerifyHint explains a failed test delivery in terms of what to fix.
func VerifyHint(publicURL string, res tableau.TestResult) string {
	host := publicURL
	if u, err := url.Parse(publicURL); err == nil {
		host = u.Host
	}
	body := strings.ToLower(res.Body)
	switch {
	case strings.Contains(body, "certificate") || strings.Contains(body, "x509") || strings.Contains(body, "tls"):
		return fmt.Sprintf("Tableau does not trust the certificate served at %s: use a certificate from a CA Tableau trusts, valid for that host", host)
	case res.Status == http.StatusNotFound:
		return fmt.Sprintf("Tableau reached %s but got 404: the path of --public-url must be the listener's path", host)
	case res.Status == http.StatusRequestTimeout || strings.Contains(body, "timed out"):
		return fmt.Sprintf("Tableau timed out reaching %s: check DNS, firewalls and that --public-url points at this listener", host)
	case strings.Contains(body, "refused") || strings.Contains(body, "no such host") || strings.Contains(body, "could not reach"):
		return fmt.Sprintf("Tableau could not connect to %s: check DNS, firewalls and port forwarding to this listener", host)
	}
	return fmt.Sprintf("Tableau's test delivery to %s got HTTP %d %s", publicURL, res.Status, strings.TrimSpace(res.Body))
}
