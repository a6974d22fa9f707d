// Package pagerduty pages through PagerDuty's Events API v2: a failed extract refresh
// triggers an incident, the next success of the same item resolves it. One dedup key
// per site and item groups the repeats of a failing refresh into one incident.
//
// Events are sent with PagerDuty's own Go client (github.com/PagerDuty/go-pagerduty),
// whose V2Event is the API's shape; the endpoint is the configured api-url (the EU
// region's events.eu.pagerduty.com, a proxy, a test receiver).
package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"
	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// Takes reports whether PagerDuty can take the event: a refresh's failure (trigger) or
// success (resolve). Anything else has nothing to page about.
func Takes(event string) bool { return enrich.IsRefreshOutcome(event) }

// maxDedupKey is the Events API's limit on a dedup_key.
const maxDedupKey = 255

// DedupKey is the incident key of an item: the same for its failures and its recovery,
// and on every retry. Within PagerDuty's 255 characters: a key that would be longer
// (hostile or odd IDs) ends in a hash of its site, kind and item instead.
func DedupKey(f enrich.Facts) string {
	return ItemKey(f.Payload.SiteLUID, f.Kind, f.Payload.ResourceLUID)
}

// ItemKey is the dedup key of a site's item of a kind (workbook, datasource).
func ItemKey(site, kind, id string) string {
	key := "tabhook/" + site + "/" + kind + "/" + id
	if len(key) <= maxDedupKey {
		return key
	}
	sum := sha256.Sum256([]byte(site + "\x00" + kind + "\x00" + id))
	return "tabhook/sha256/" + hex.EncodeToString(sum[:])
}

// timestamp is the event's time in RFC 3339, as the Events API requires: Tableau's
// created_at, or when tabhook received the event (the details then say so).
func timestamp(f enrich.Facts) string {
	at := f.At
	if at.IsZero() {
		at = time.Now()
	}
	return at.UTC().Format(time.RFC3339)
}

// Event is the Events API v2 event for one Tableau event.
func Event(routingKey string, f enrich.Facts) pd.V2Event {
	e := pd.V2Event{RoutingKey: routingKey, DedupKey: DedupKey(f), Client: "tabhook", ClientURL: f.URL}
	if !strings.HasSuffix(f.Event, "Failed") {
		e.Action = "resolve"
		return e
	}
	e.Action = "trigger"
	name := f.Name
	if name == "" {
		name = f.Payload.ResourceName
	}
	summary := words.Event(f.Event) + ": " + name
	if f.Failure != nil && f.Failure.Error != "" {
		summary += " — " + words.Headline(f.Failure.Error)
	}
	e.Payload = &pd.V2Payload{
		Summary:   text.Cut(summary, 1024), // PagerDuty's limit
		Source:    text.Cut(source(f), 255),
		Severity:  "error",
		Timestamp: timestamp(f),
		Component: text.Cut(name, 255),
		Group:     text.Cut(f.Project, 255),
		Class:     "extract refresh",
		Details:   details(f),
	}
	if f.URL != "" {
		e.Links = []any{map[string]string{"href": f.URL, "text": "Open in Tableau"}}
	}
	return e
}

// source is the Tableau site: the server's host and the site's LUID.
func source(f enrich.Facts) string {
	if u, err := url.Parse(f.URL); err == nil && u.Host != "" {
		return u.Host + " site " + f.Payload.SiteLUID
	}
	return "Tableau site " + f.Payload.SiteLUID
}

// details are the enrichment, as PagerDuty shows custom details.
func details(f enrich.Facts) map[string]any {
	d := map[string]any{"event_type": f.Event, "resource_luid": f.Payload.ResourceLUID, "site_luid": f.Payload.SiteLUID}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("name", f.Name)
	set("site", f.Site)
	set("project", f.Project)
	set("owner", f.Owner)
	set("owner_email", f.OwnerEmail)
	set("url", f.URL)
	set("reason_missing", f.NoReason)
	set("time_note", f.AtNote)
	set("details_missing", f.Degraded)
	if len(f.Tags) > 0 {
		d["tags"] = f.Tags
	}
	if fl := f.Failure; fl != nil {
		set("error", text.Cut(fl.Error, 4000))
		set("job_id", fl.JobID)
		if !fl.Started.IsZero() {
			d["started_at"] = fl.Started.UTC().Format(time.RFC3339)
		}
	}
	if f.Streak > 1 {
		d["failures_in_a_row"] = f.Streak
	}
	return d
}

// Sender sends to one PagerDuty service (destination.Sender).
type Sender struct {
	name, key string
	client    *pd.Client
	pace      *rate.Limiter
}

// New builds a sender for a routing key at apiURL (the Events API host).
func New(name, routingKey, apiURL string, hc *http.Client) *Sender {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	c := pd.NewClient("", pd.WithV2EventsAPIEndpoint(strings.TrimSuffix(apiURL, "/")))
	c.HTTPClient = hc
	// The Events API takes about 120 events a minute per routing key.
	return &Sender{name: name, key: routingKey, client: c, pace: rate.NewLimiter(2, 10)}
}

// Digests: every event is its own trigger or resolve; a storm groups into incidents by
// dedup key, on PagerDuty's side.
func (s *Sender) Digests() bool { return false }

// Send triggers or resolves, one event at a time. 202 is success.
func (s *Sender) Send(ctx context.Context, events []destination.Event) error {
	for _, ev := range events {
		if !Takes(ev.Facts.Event) {
			return &destination.Error{Destination: s.name, Permanent: true, Reason: "PagerDuty takes only refresh failures and successes, not " + ev.Facts.Event}
		}
		if err := s.pace.Wait(ctx); err != nil {
			return destination.FromNetwork(s.name, err)
		}
		e := Event(s.key, ev.Facts)
		if _, err := s.client.ManageEventWithContext(ctx, &e); err != nil {
			return s.classify(err)
		}
	}
	return nil
}

// Acknowledge acknowledges the incident of a site's item (destination.Acknowledger):
// someone is on it, and PagerDuty stops escalating it until it is resolved. An item
// with no open incident is accepted and changes nothing.
func (s *Sender) Acknowledge(ctx context.Context, site, kind, id string) error {
	dedupKey := ItemKey(site, kind, id)
	if err := s.pace.Wait(ctx); err != nil {
		return destination.FromNetwork(s.name, err)
	}
	e := pd.V2Event{RoutingKey: s.key, Action: "acknowledge", DedupKey: dedupKey, Client: "tabhook"}
	if _, err := s.client.ManageEventWithContext(ctx, &e); err != nil {
		return s.classify(err)
	}
	return nil
}

// classify turns the client's errors into destination errors; the routing key is in
// the request body, never in them.
func (s *Sender) classify(err error) error {
	var ae pd.APIError
	if errors.As(err, &ae) {
		return destination.FromAnswer(s.name, ae.StatusCode, http.Header{}, ae.Error())
	}
	return destination.FromNetwork(s.name, err)
}
