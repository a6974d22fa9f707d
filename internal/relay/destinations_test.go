package relay_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/destination/builtin"
	"github.com/tabhook/tabhook/internal/fakes/destfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

const (
	pdKey         = "R0UT1NGKEY0123456789abcdef012345" // 32 characters
	webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// receivers are the three fake destinations of a test.
type receivers struct {
	teams, pd, hook *destfake.Receiver
}

func newReceivers(t *testing.T) receivers {
	r := receivers{destfake.NewTeams(), destfake.NewPagerDuty(), destfake.NewWebhook()}
	t.Cleanup(r.teams.Close)
	t.Cleanup(r.pd.Close)
	t.Cleanup(r.hook.Close)
	return r
}

func (r receivers) configure(t *testing.T, cfg *relay.Config) {
	cfg.Destinations = []destination.Config{
		build(t, "ops-teams", "teams", map[string]string{"url": r.teams.URL()}),
		build(t, "oncall", "pagerduty", map[string]string{"routing-key": pdKey, "api-url": r.pd.URL()}),
		build(t, "audit", "webhook", map[string]string{"url": r.hook.URL(), "secret": webhookSecret}),
	}
	cfg.Routes = []relay.Route{{Events: []string{"WorkbookRefreshFailed", "WorkbookRefreshSucceeded"}, Channel: "#alerts", To: []string{"ops-teams", "oncall", "audit"}}}
}

// TestFailureReachesEveryDestination: a failed refresh routed to Slack, Teams,
// PagerDuty and a webhook arrives at all four; the success after it resolves the
// incident; the webhook verifies with the Standard Webhooks algorithm. No secret shows
// in the log.
func TestFailureReachesEveryDestination(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	var logs syncBuffer
	cfg := w.config(t.TempDir(), "WorkbookRefreshFailed", "WorkbookRefreshSucceeded")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.configure(t, &cfg)
	w.start(cfg)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at})
	eventually(t, "the failure at all four", func() bool {
		return len(w.slack.Messages()) == 1 && len(r.teams.Accepted()) == 1 && len(r.pd.Accepted()) == 1 && len(r.hook.Accepted()) == 1
	})
	key := "tabhook/" + w.sim.SiteID() + "/workbook/" + tableausim.WorkbookID
	if open, _ := r.pd.Incident(key); !open {
		t.Fatalf("no open incident for %s", key)
	}
	card := string(r.teams.Accepted()[0].Body)
	for _, want := range []string{`"version":"1.4"`, "Workbook extract refresh failed", "Login failed for user 'tableau\\\\_svc'.", "Open in Tableau"} {
		if !strings.Contains(card, want) {
			t.Errorf("the Teams card lacks %s:\n%s", want, card)
		}
	}
	hook := r.hook.Accepted()[0]
	wh, err := standardwebhooks.NewWebhook(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(hook.Body, hook.Header); err != nil {
		t.Fatalf("the webhook's signature does not verify: %v", err)
	}
	var body struct {
		Type string `json:"type"`
		Data struct {
			Enrichment struct {
				Name    string `json:"name"`
				Failure struct {
					Headline string `json:"headline"`
				} `json:"failure"`
			} `json:"enrichment"`
		} `json:"data"`
	}
	if err := json.Unmarshal(hook.Body, &body); err != nil || body.Type != "WorkbookRefreshFailed" || body.Data.Enrichment.Name != "SafariSample" ||
		body.Data.Enrichment.Failure.Headline != "Login failed for user 'tableau_svc'." {
		t.Fatalf("webhook body %s: %v", hook.Body, err)
	}

	w.fire(tableausim.Event{Type: "WorkbookRefreshSucceeded", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(time.Hour)})
	eventually(t, "the incident resolved", func() bool { open, _ := r.pd.Incident(key); return !open && len(r.pd.Accepted()) == 2 })
	eventually(t, "the success at the other three", func() bool {
		return len(w.slack.Messages()) == 2 && len(r.teams.Accepted()) == 2 && len(r.hook.Accepted()) == 2
	})
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"FAKE-teams-signature-3e9d", pdKey, strings.TrimPrefix(webhookSecret, "whsec_")} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a secret %q", secret)
		}
		for _, e := range w.events {
			if strings.Contains(e.Detail+e.Channel, secret) {
				t.Errorf("an event shows a secret: %+v", e)
			}
		}
	}
}

// TestFailingDestinationDelaysOnlyItself: Teams answering 429, then 5xx, holds up
// only Teams: Slack, PagerDuty and the webhook get every event meanwhile, and Teams
// gets them all once it answers.
func TestFailingDestinationDelaysOnlyItself(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshFailed", "WorkbookRefreshSucceeded")
	r.configure(t, &cfg)
	w.start(cfg)
	r.teams.Script(destfake.Answer{Status: 429, RetryAfter: 1})
	r.teams.Fail(destfake.Answer{Status: 503})
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	for i := range 3 {
		event := "WorkbookRefreshFailed"
		if i == 2 {
			event = "WorkbookRefreshSucceeded"
		}
		w.fire(tableausim.Event{Type: event, ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(time.Duration(i) * time.Minute)})
	}
	eventually(t, "Slack, PagerDuty and the webhook served", func() bool {
		return len(w.slack.Messages()) == 3 && len(r.pd.Accepted()) == 3 && len(r.hook.Accepted()) == 3
	})
	if n := len(r.teams.Accepted()); n != 0 {
		t.Fatalf("Teams accepted %d while failing", n)
	}
	// After the 429's second, the 503s: retried with backoff, Teams' events only.
	eventually(t, "Teams' 503 retried", func() bool { return w.count(relay.EvRetrying) > 0 })
	for _, e := range w.find(relay.EvRetrying) {
		if e.Destination != "ops-teams" || e.Reason != "http_503" {
			t.Fatalf("a retry that is not Teams' 503: %+v", e)
		}
	}
	reqs := r.teams.Requests()
	if reqs[0].Status != 429 {
		t.Fatalf("first Teams answer %d, want the scripted 429", reqs[0].Status)
	}
	if d := reqs[1].At.Sub(reqs[0].At); d < 900*time.Millisecond {
		t.Fatalf("Teams was asked again %v after its 429's Retry-After: 1", d)
	}
	r.teams.Recover()
	eventually(t, "Teams served once it answers", func() bool {
		n := 0
		for _, q := range r.teams.Accepted() {
			n += bytes.Count(q.Body, []byte("SafariSample")) / 2 // a card names the item in its title and its link
		}
		return n >= 3
	})
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.count(relay.EvDead); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

// TestRouteWithoutChannel: a route to destinations only posts nothing to Slack.
func TestRouteWithoutChannel(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	r.configure(t, &cfg)
	cfg.Routes = []relay.Route{{Events: []string{"WorkbookUpdated"}, To: []string{"audit"}}}
	w.start(cfg)
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "the webhook", func() bool { return len(r.hook.Accepted()) == 1 && w.count(relay.EvRouted) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(w.slack.Messages()); n != 0 {
		t.Fatalf("%d Slack messages for a route without a channel", n)
	}
}

// TestRevokedSlackTokenHoldsUpOnlySlack: with other destinations, Slack refusing the
// token pauses Slack's records only; the webhook keeps getting its events, and Slack
// gets its own once a new token is reloaded — no dead letter on either side.
func TestRevokedSlackTokenHoldsUpOnlySlack(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshFailed")
	r.configure(t, &cfg)
	reload := make(chan os.Signal, 1)
	var token atomic.Value
	token.Store(slackToken)
	cfg.Reload, cfg.CredentialCheck = reload, time.Hour
	routing := relay.Routing{Default: "#alerts", Routes: cfg.Routes, Destinations: relay.DestinationsByName(cfg.Destinations)}
	cfg.Reconfigure = func() (relay.Reloaded, error) {
		return relay.Reloaded{Routing: routing, SlackToken: token.Load().(string)}, nil
	}
	w.start(cfg)
	w.slack.RevokeToken()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	for i := range 3 {
		w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(time.Duration(i) * time.Minute)})
	}
	eventually(t, "Slack paused", func() bool { return w.count(relay.EvPaused) == 1 })
	eventually(t, "the webhook, PagerDuty and Teams served meanwhile", func() bool {
		return len(r.hook.Accepted()) == 3 && len(r.pd.Accepted()) == 3 && len(r.teams.Accepted()) > 0
	})
	if n := len(w.slack.Messages()); n != 0 {
		t.Fatalf("%d Slack messages with a revoked token", n)
	}
	w.slack.RotateToken("xoxb-rotated-token-77aa")
	token.Store("xoxb-rotated-token-77aa")
	reload <- syscall.SIGHUP
	eventually(t, "Slack's three once the token works", func() bool { return len(w.slack.Messages()) == 3 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.count(relay.EvDead); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

// TestTeamsStormIsDigested: events held together by a Teams 429 come due at one
// instant and go to Teams as digest cards, each event in one of them once.
func TestTeamsStormIsDigested(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	r.configure(t, &cfg)
	cfg.Routes = []relay.Route{{Events: []string{"WorkbookUpdated"}, To: []string{"ops-teams"}}}
	w.start(cfg)
	r.teams.Script(destfake.Answer{Status: 429, RetryAfter: 2})
	burst(w, 30, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	represented := func() int {
		n := 0
		for _, q := range r.teams.Accepted() {
			var count int
			if _, err := fmt.Sscanf(digestTitle(q.Body), "📦 %d Tableau events", &count); err == nil {
				n += count
			} else {
				n++
			}
		}
		return n
	}
	eventually(t, "all 30 at Teams", func() bool { return represented() == 30 })
	t.Logf("30 events in %d Teams messages", len(r.teams.Accepted()))
	if n := len(r.teams.Accepted()); n > 10 {
		t.Fatalf("%d Teams messages for 30 events held together: not digested", n)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// digestTitle is the first text of a Teams card.
func digestTitle(body []byte) string {
	var m struct {
		Attachments []struct {
			Content struct {
				Body []struct {
					Text string `json:"text"`
				} `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if json.Unmarshal(body, &m) != nil || len(m.Attachments) == 0 || len(m.Attachments[0].Content.Body) == 0 {
		return ""
	}
	return m.Attachments[0].Content.Body[0].Text
}

// build makes a destination through the registry, as the config file would.
func build(t *testing.T, name string, typ destination.Type, values map[string]string) destination.Config {
	t.Helper()
	c, err := builtin.Registry().Build(name, typ, values)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
