// Package admin holds the logic of the webhook administration commands: selecting
// webhooks by filter, and finding orphans whose destination no longer answers.
package admin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/tabhook/tabhook/internal/tableau"
)

// API is the part of the Tableau client the commands use.
type API interface {
	ListWebhooks(ctx context.Context) ([]tableau.Webhook, error)
	GetWebhook(ctx context.Context, id string) (tableau.Webhook, error)
	CreateWebhook(ctx context.Context, spec tableau.WebhookSpec) (tableau.Webhook, error)
	UpdateWebhook(ctx context.Context, id string, spec tableau.WebhookSpec) (tableau.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	TestWebhook(ctx context.Context, id string) (tableau.TestResult, error)
}

// Filter selects webhooks. Empty fields match everything.
type Filter struct {
	Events     []string // API names
	Name       string   // exact name
	NamePrefix string
	URLPrefix  string
}

// Empty reports whether the filter selects every webhook.
func (f Filter) Empty() bool {
	return len(f.Events) == 0 && f.Name == "" && f.NamePrefix == "" && f.URLPrefix == ""
}

// Match reports whether w passes the filter.
func (f Filter) Match(w tableau.Webhook) bool {
	if len(f.Events) > 0 {
		found := false
		for _, e := range f.Events {
			found = found || e == w.Event
		}
		if !found {
			return false
		}
	}
	return (f.Name == "" || w.Name == f.Name) &&
		strings.HasPrefix(w.Name, f.NamePrefix) &&
		strings.HasPrefix(w.URL, f.URLPrefix)
}

// Select returns the webhooks of the site that pass the filter, in the server's order.
func Select(ctx context.Context, api API, f Filter) ([]tableau.Webhook, error) {
	all, err := api.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := []tableau.Webhook{}
	for _, w := range all {
		if f.Match(w) {
			out = append(out, w)
		}
	}
	return out, nil
}

// ByName finds the one webhook with the given name.
func ByName(ctx context.Context, api API, name string) (tableau.Webhook, error) {
	hooks, err := Select(ctx, api, Filter{Name: name})
	if err != nil {
		return tableau.Webhook{}, err
	}
	switch len(hooks) {
	case 0:
		return tableau.Webhook{}, &NameError{fmt.Sprintf("no webhook is named %q (see `tabhook webhook list`)", name)}
	case 1:
		return hooks[0], nil
	}
	ids := make([]string, len(hooks))
	for i, h := range hooks {
		ids[i] = h.ID
	}
	return tableau.Webhook{}, &NameError{fmt.Sprintf("%d webhooks are named %q; pass one of their IDs instead: %s", len(hooks), name, strings.Join(ids, ", "))}
}

// NameError is a --name that names no webhook, or several: the caller's to fix (exit 2).
type NameError struct{ msg string }

func (e *NameError) Error() string { return e.msg }

// UsageError marks it as a usage problem.
func (e *NameError) UsageError() bool { return true }

// Orphan is a webhook whose destination did not answer Tableau's test with a 2xx.
type Orphan struct {
	Webhook tableau.Webhook
	Result  tableau.TestResult
}

// TestOutcome is one webhook's test: its result, or the error asking Tableau for it.
type TestOutcome struct {
	Webhook tableau.Webhook
	Result  tableau.TestResult
	Err     error
}

// TestAll asks Tableau to test every webhook, a few at a time (each test can take
// Tableau's full delivery timeout).
func TestAll(ctx context.Context, api API, hooks []tableau.Webhook) []TestOutcome {
	out := make([]TestOutcome, len(hooks))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, h := range hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := api.TestWebhook(ctx, h.ID)
			out[i] = TestOutcome{Webhook: h, Result: res, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// Orphans splits test outcomes into orphans and errors. A webhook whose test could not
// be run is not an orphan: prune never deletes on doubt.
func Orphans(outcomes []TestOutcome) ([]Orphan, []error) {
	var orphans []Orphan
	var errs []error
	for _, o := range outcomes {
		switch {
		case o.Err != nil:
			errs = append(errs, o.Err)
		case !o.Result.OK:
			orphans = append(orphans, Orphan{Webhook: o.Webhook, Result: o.Result})
		}
	}
	return orphans, errs
}

// DeleteAll deletes each webhook and returns those deleted; it goes on past failures and
// reports them together.
func DeleteAll(ctx context.Context, api API, hooks []tableau.Webhook) ([]tableau.Webhook, error) {
	deleted := []tableau.Webhook{}
	var errs []string
	for _, h := range hooks {
		if err := api.DeleteWebhook(ctx, h.ID); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		deleted = append(deleted, h)
	}
	if len(errs) > 0 {
		return deleted, fmt.Errorf("%d of %d deletions failed: %s", len(errs), len(hooks), strings.Join(errs, "; "))
	}
	return deleted, nil
}
