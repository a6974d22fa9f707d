// Package enrich turns a webhook payload into the facts a message reports, looking the
// resource up through the Tableau REST API. Lookups that fail are retried, then the
// event goes on with what the payload says: enrichment degrades, it never drops.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/seen"
	"github.com/tabhook/tabhook/internal/tableau"
	"github.com/tabhook/tabhook/internal/text"
)

// Facts are what is known about one event.
type Facts struct {
	Payload payload.Payload
	Event   string // API name as delivered
	Known   bool   // the event is in Tableau's catalogue
	Kind    string // workbook, datasource, flow, user, view, label, site
	// Site names the event's site when the relay serves several ("" otherwise): set by
	// delivery, shown by every destination.
	Site     string `json:",omitempty"`
	Name     string
	Project  string
	Owner    string // full name when known
	URL      string
	Tags     []string
	SiteRole string
	// OwnerEmail is the owner's e-mail address, when Tableau has one (on Tableau Cloud
	// the user name is the address).
	OwnerEmail string
	Preview    []byte `json:"-"` // PNG to upload into the message's thread
	// Degraded says why Tableau's details are missing, when they are.
	Degraded string
	// Rejected is set when Tableau refused the PAT itself: no lookup can work until
	// the credential is fixed.
	Rejected error `json:"-"`

	// Failure is Tableau's record of a failed refresh (its job), when found; NoReason
	// says in one line why it is not shown otherwise.
	Failure  *Failure `json:",omitempty"`
	NoReason string   `json:",omitempty"`

	// At is when the event happened: Tableau's created_at, or — when that is not a
	// time — zero, AtNote saying so, and delivery sets the time it received the event.
	At     time.Time `json:",omitzero"`
	AtNote string    `json:",omitempty"`

	// Set by delivery from what the store remembers of the item, not by lookups.
	OwnerSlackID string    `json:",omitempty"` // the owner's Slack user, to mention
	Streak       int       `json:",omitempty"` // refreshes failed in a row, this one included
	LastSuccess  time.Time `json:",omitzero"`  // the item's last successful refresh, when known
	Recovered    int       `json:",omitempty"` // a success ending this many failures in a row
	// EarlierFailure links the failure a recovery ends, when the recovery is told in
	// its own refresh's thread (Slack's message link).
	EarlierFailure string `json:",omitempty"`
	// Warning says what tabhook did to the item's data quality warnings in Tableau.
	Warning string `json:",omitempty"`
	// Actions: the message offers buttons to act on the item (--actions).
	Actions bool `json:",omitempty"`
	// HeldWhileMuted is how many of the item's alerts a mute that has ended held back.
	HeldWhileMuted int `json:",omitempty"`
}

// IsRefresh reports whether the event is an extract refresh's start or outcome.
func (f Facts) IsRefresh() bool { return strings.Contains(f.Event, "Refresh") }

// IsOutcome reports whether the event ends an extract refresh: it succeeded or failed.
func (f Facts) IsOutcome() bool { return IsRefreshOutcome(f.Event) }

// IsRefreshOutcome reports whether an event (its API name) ends an extract refresh.
func IsRefreshOutcome(event string) bool {
	return strings.Contains(event, "Refresh") && (strings.HasSuffix(event, "Failed") || strings.HasSuffix(event, "Succeeded"))
}

// IsFailure reports whether the event is a failed extract refresh.
func (f Facts) IsFailure() bool { return f.IsRefresh() && strings.HasSuffix(f.Event, "Failed") }

// Source is the part of the Tableau client enrichment reads.
type Source interface {
	Workbook(ctx context.Context, id string) (tableau.Workbook, error)
	WorkbookPreview(ctx context.Context, id string) ([]byte, error)
	Datasource(ctx context.Context, id string) (tableau.Datasource, error)
	User(ctx context.Context, id string) (tableau.User, error)
	Jobs(ctx context.Context, f tableau.JobFilter) ([]tableau.JobSummary, error)
	Job(ctx context.Context, id string) (tableau.Job, error)
}

// Options tune the enricher.
type Options struct {
	Attempts  int           // tries per lookup; default 3
	Backoff   time.Duration // first wait between tries, doubled each time; default 500ms
	CacheTTL  time.Duration // how long a looked-up item is reused; default 60s
	CacheSize int           // the most looked-up items kept; default 10,000
	NoPreview bool          // skip preview images
	// OwnerEmails looks the owner up for an e-mail address even when the item names
	// them (for mentions in Slack): one more cached call per owner.
	OwnerEmails bool
	Logger      *slog.Logger
}

// Enricher looks events up. It is safe for concurrent use.
type Enricher struct {
	src   Source
	opts  Options
	log   *slog.Logger
	cache *cache
	// jobsRefused: Tableau refused Query Jobs (not an administrator) — said once.
	jobsRefused atomic.Bool
	// refetched: per item, the event name that last made current fetch it again.
	refetched seen.Set[string, string]
}

// New builds an enricher over src.
func New(src Source, o Options) *Enricher {
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Enricher{src: src, opts: o, log: o.Logger, cache: newCache(o.CacheTTL, o.CacheSize)}
}

// Base returns the facts the payload alone gives.
func Base(p payload.Payload) Facts {
	f := Facts{Payload: p, Event: p.EventType, Name: text.Line(p.ResourceName)}
	if at, err := time.Parse(time.RFC3339, p.CreatedAt); err == nil {
		f.At = at.UTC()
	} else {
		f.AtNote = fmt.Sprintf("Tableau's created_at %q is not a time: the time given is when tabhook received the event", text.Cut(text.Line(p.CreatedAt), 64))
	}
	if ev, err := tableau.ParseEvent(p.EventType); err == nil {
		f.Event, f.Known = ev.Name, true
		f.Kind = kindOf(ev)
	} else {
		f.Kind = strings.ToLower(p.Resource)
	}
	return f
}

// clean makes what Tableau's content says safe to show: names, projects, owners and
// tags on one line without control or bidirectional characters; an error's notes
// without them too (its lines kept).
func (f *Facts) clean() {
	f.Name, f.Project, f.Owner = text.Line(f.Name), text.Line(f.Project), text.Line(f.Owner)
	if len(f.Tags) > 0 {
		tags := make([]string, len(f.Tags)) // a copy: the cached item shares the slice
		for i, t := range f.Tags {
			tags[i] = text.Line(t)
		}
		f.Tags = tags
	}
	if f.Failure != nil && text.Clean(f.Failure.Error) != f.Failure.Error {
		fl := *f.Failure // a copy: the cached lookup shares it
		fl.Error = text.Clean(fl.Error)
		f.Failure = &fl
	}
}

func kindOf(ev tableau.Event) string {
	switch {
	case strings.HasPrefix(ev.Name, "Workbook"):
		return "workbook"
	case strings.HasPrefix(ev.Name, "Datasource"):
		return "datasource"
	}
	return strings.ToLower(ev.Resource)
}

// Enrich looks up what the event refers to. It always returns facts; Degraded says
// what could not be learned.
func (e *Enricher) Enrich(ctx context.Context, p payload.Payload) Facts {
	f := Base(p)
	if !f.Known || strings.HasSuffix(f.Event, "Deleted") {
		return f // a deleted resource cannot be looked up; the payload names it
	}
	var err error
	switch f.Kind {
	case "workbook":
		err = e.workbook(ctx, &f)
	case "datasource":
		err = e.datasource(ctx, &f)
	case "user":
		err = e.user(ctx, &f)
	}
	if err != nil {
		f.Degraded = degradedReason(err)
		if tableau.IsCredentialsRejected(err) {
			f.Rejected = err
			return f
		}
		e.log.Debug("lookup failed", "event", f.Event, "resource_luid", p.ResourceLUID, "err", err)
	}
	if f.IsFailure() {
		e.why(ctx, &f)
	}
	f.clean()
	return f
}

func degradedReason(err error) string {
	if tableau.IsNotFound(err) {
		return "Tableau no longer has this item"
	}
	if tableau.IsTemporary(err) {
		return "Tableau did not answer"
	}
	return "Tableau refused the lookup"
}

func (e *Enricher) workbook(ctx context.Context, f *Facts) error {
	id := f.Payload.ResourceLUID
	var preview []byte
	var wg sync.WaitGroup
	if !e.opts.NoPreview && !strings.Contains(f.Event, "Refresh") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := e.retry(ctx, "preview of workbook "+id, func(ctx context.Context) (any, error) { return e.src.WorkbookPreview(ctx, id) })
			if err == nil {
				preview = img.([]byte)
			}
		}()
	}
	v, err := e.current(ctx, "workbook/"+id, f.Payload.ResourceName, func(ctx context.Context) (any, error) { return e.src.Workbook(ctx, id) },
		func(v any) string { return v.(tableau.Workbook).Name })
	wg.Wait()
	f.Preview = preview
	if err != nil {
		return err
	}
	wb := v.(tableau.Workbook)
	f.Name, f.Project, f.URL, f.Tags = wb.Name, wb.Project.Name, wb.WebpageURL, wb.Tags
	if f.Project == "" && wb.Location == "PersonalSpace" {
		f.Project = "Personal Space"
	}
	return e.owner(ctx, f, wb.Owner)
}

func (e *Enricher) datasource(ctx context.Context, f *Facts) error {
	id := f.Payload.ResourceLUID
	v, err := e.current(ctx, "datasource/"+id, f.Payload.ResourceName, func(ctx context.Context) (any, error) { return e.src.Datasource(ctx, id) },
		func(v any) string { return v.(tableau.Datasource).Name })
	if err != nil {
		return err
	}
	ds := v.(tableau.Datasource)
	f.Name, f.Project, f.URL, f.Tags = ds.Name, ds.Project.Name, ds.WebpageURL, ds.Tags
	return e.owner(ctx, f, ds.Owner)
}

func (e *Enricher) user(ctx context.Context, f *Facts) error {
	id := f.Payload.ResourceLUID
	v, err := e.cached(ctx, "user/"+id, func(ctx context.Context) (any, error) { return e.src.User(ctx, id) })
	if err != nil {
		return err
	}
	u := v.(tableau.User)
	f.Name, f.SiteRole = u.DisplayName(), u.SiteRole
	return nil
}

// owner fills the owner's full name and e-mail, from the item when the server
// embedded them, else from the user.
func (e *Enricher) owner(ctx context.Context, f *Facts, o tableau.User) error {
	if o.FullName != "" && (emailOf(o) != "" || !e.opts.OwnerEmails) || o.ID == "" {
		f.Owner, f.OwnerEmail = o.FullName, emailOf(o)
		return nil
	}
	v, err := e.cached(ctx, "user/"+o.ID, func(ctx context.Context) (any, error) { return e.src.User(ctx, o.ID) })
	if err != nil {
		if o.FullName != "" {
			f.Owner = o.FullName // the name is enough; only the e-mail is missing
			return nil
		}
		return fmt.Errorf("owner: %w", err)
	}
	u := v.(tableau.User)
	f.Owner, f.OwnerEmail = u.DisplayName(), emailOf(u)
	if o.FullName != "" {
		f.Owner = o.FullName
	}
	return nil
}

// emailOf is the user's e-mail: the email attribute, or the user name where it is one
// (Tableau Cloud signs users in by e-mail).
// EmailOf is a Tableau user's e-mail address: their e-mail, or their user name when it
// is one (Tableau Cloud's are); "" when neither.
func EmailOf(u tableau.User) string { return emailOf(u) }

func emailOf(u tableau.User) string {
	if u.Email != "" {
		return u.Email
	}
	if strings.Contains(u.Name, "@") {
		return u.Name
	}
	return ""
}

func (e *Enricher) cached(ctx context.Context, key string, fetch func(context.Context) (any, error)) (any, error) {
	return e.cache.get(key, func() (any, error) { return e.retry(ctx, key, fetch) })
}

// current is cached, but an entry whose name is not the one the event carries is
// stale — the item was renamed since — and is fetched again.
func (e *Enricher) current(ctx context.Context, key, name string, fetch func(context.Context) (any, error), nameOf func(any) string) (any, error) {
	v, err := e.cached(ctx, key, fetch)
	if err != nil || name == "" || nameOf(v) == name {
		return v, err
	}
	// Once per name: where Tableau's payload names an item otherwise than its REST
	// answer does, fetching again would not help, and the cache must still work.
	if !e.refetched.First(key, name) {
		return v, nil
	}
	e.cache.forget(key)
	return e.cached(ctx, key, fetch)
}

// retry calls fetch until it succeeds, fails for good, or runs out of attempts, waiting
// with exponential backoff and jitter between tries.
func (e *Enricher) retry(ctx context.Context, what string, fetch func(context.Context) (any, error)) (any, error) {
	wait := e.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		var v any
		v, err = fetch(ctx)
		if err == nil {
			return v, nil
		}
		if !tableau.IsTemporary(err) || attempt >= e.opts.Attempts {
			return nil, err
		}
		e.log.Debug("Tableau lookup failed; retrying", "lookup", what, "attempt", attempt, "err", err)
		jittered := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(jittered):
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		}
		wait *= 2
	}
}
