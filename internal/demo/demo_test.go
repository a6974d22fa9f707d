package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/relay"
)

// TestDemo runs the demo as `tabhook demo` does and checks what it shows: every event
// posted with its facts, the preview in the thread, and the webhooks gone at the end.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	var delivered int
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, Options{Out: &out, Observe: func(e relay.Event) {
		if e.Type == relay.EvDelivered {
			delivered++
		}
	}})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"Workbook updated: SafariSample",
		"Project: default   Owner: Bob Smith",
		"in thread: SafariSample.png",
		"Data source extract refresh failed: Sample datasource",
		"Why: Login failed for user 'tableau_svc'.",
		"Owner: @U0BOBSMITH",
		"A data quality warning (stale data) was added",
		"↺ updated later (chat.update) to: Data source extract refresh failed — recovered",
		"    ↳ in thread:\n      ┌─\n      │ :white_check_mark: Data source extract refresh succeeded: Sample datasource",
		"Recovered after 1 failure",
		"Workbook deleted: Superstore (Q3 draft)",
		"User promoted to site administrator: Alice",
		"Done: 5 events posted; the relay deleted its webhooks on exit (0 left",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if delivered != 5 {
		t.Errorf("%d deliveries observed", delivered)
	}
}

func TestDemoNeedsChannelForRealSlack(t *testing.T) {
	err := Run(context.Background(), Options{Out: &bytes.Buffer{}, SlackToken: "xoxb-x"})
	if err == nil || !strings.Contains(err.Error(), "--slack-channel") {
		t.Fatalf("err = %v", err)
	}
}

// TestDemoTwoSites: with --sites the one relay serves two simulated sites; each
// site's event is posted naming its site, and both sites' webhooks are gone at the end.
func TestDemoTwoSites(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Run(ctx, Options{Out: &out, Sites: []string{"finance"}}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"Workbook updated: SafariSample (site Default,",
		"Workbook updated: Superstore (site finance,",
		"Done: 6 events posted; the relay deleted its webhooks on exit (0 left on the 2 simulated sites).",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
}
