package relay_test

import (
	"strings"
	"testing"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

func TestRouting(t *testing.T) {
	r, err := relay.Routing{Default: "#all", Routes: []relay.Route{
		{Events: []string{"datasource-refresh-failed", "WorkbookRefreshFailed"}, Channel: "#data"},
		{Projects: []string{"Finance"}, Channel: "#finance"},
		{Events: []string{"WorkbookUpdated"}, Projects: []string{"default"}, Channel: "#default-updates"},
	}}.Check()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		event, project, want string
	}{
		{"DatasourceRefreshFailed", "Finance", "#data"}, // first match wins
		{"WorkbookUpdated", "Finance", "#finance"},
		{"WorkbookUpdated", "default", "#default-updates"},
		{"WorkbookCreated", "default", "#all"},
		{"WorkbookTeleported", "", "#all"},
	} {
		if got := r.Channel(enrich.Facts{Event: tc.event, Project: tc.project}); got != tc.want {
			t.Errorf("%s in %q → %s, want %s", tc.event, tc.project, got, tc.want)
		}
	}
	if got := strings.Join(r.Channels(), " "); got != "#all #data #finance #default-updates" {
		t.Errorf("channels = %s", got)
	}
	if _, err := (relay.Routing{Default: "#a", Routes: []relay.Route{{Events: []string{"Nope"}, Channel: "#x"}}}).Check(); err == nil || !strings.Contains(err.Error(), "route 1") {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := (relay.Routing{Default: "#a", Routes: []relay.Route{{Events: []string{"WorkbookUpdated"}}}}).Check(); err == nil {
		t.Error("a route without a channel was accepted")
	}
}

func TestRoutingToDestinations(t *testing.T) {
	dests := relay.DestinationsByName([]destination.Config{
		build(t, "ops-teams", "teams", map[string]string{"url": "https://teams.example.com/x"}),
		build(t, "oncall", "pagerduty", map[string]string{"routing-key": pdKey}),
		build(t, "audit", "webhook", map[string]string{"url": "https://audit.example.com/x", "secret": webhookSecret}),
	})
	r, err := relay.Routing{Default: "#all", Destinations: dests, Routes: []relay.Route{
		{Events: []string{"WorkbookRefreshFailed", "WorkbookRefreshSucceeded"}, Channel: "#data", To: []string{"ops-teams", "oncall", "audit"}},
		{Events: []string{"WorkbookUpdated"}, To: []string{"audit"}},
	}}.Check()
	if err != nil {
		t.Fatal(err)
	}
	if ch, to := r.Route(enrich.Facts{Event: "WorkbookRefreshFailed"}); ch != "#data" || strings.Join(to, ",") != "ops-teams,oncall,audit" {
		t.Errorf("refresh failure → %q %v", ch, to)
	}
	if ch, to := r.Route(enrich.Facts{Event: "WorkbookUpdated"}); ch != "" || strings.Join(to, ",") != "audit" {
		t.Errorf("update → %q %v: want the webhook only", ch, to)
	}
	if got := strings.Join(r.Channels(), " "); got != "#all #data" {
		t.Errorf("channels = %s", got)
	}
	for _, tc := range []struct {
		route relay.Route
		want  string
	}{
		{relay.Route{Events: []string{"WorkbookUpdated"}, To: []string{"opsteams"}}, `to names "opsteams", which is not a destination (defined: audit, oncall, ops-teams)`},
		{relay.Route{Events: []string{"WorkbookUpdated"}, To: []string{"oncall"}}, "sends WorkbookUpdated to oncall, a pagerduty destination"},
		{relay.Route{To: []string{"oncall"}}, "sends every event to oncall"},
		{relay.Route{Events: []string{"WorkbookUpdated"}}, "no channel and no to"},
	} {
		_, err := relay.Routing{Default: "#all", Destinations: dests, Routes: []relay.Route{tc.route}}.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.route, err, tc.want)
		}
	}
}

// TestRoutesEndToEnd: refresh failures go to their own channel, by event and by the
// project learnt from Tableau; the rest to the default.
func TestRoutesEndToEnd(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated", "DatasourceRefreshFailed")
	cfg.Routes = []relay.Route{{Events: []string{"DatasourceRefreshFailed"}, Channel: "#general"}}
	w.start(cfg)
	w.fire(tableausim.Event{Type: "DatasourceRefreshFailed", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource"})
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "two deliveries", func() bool { return w.count(relay.EvDelivered) == 2 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range w.slack.Messages() {
		got[m.Channel] = m.Text
	}
	if !strings.Contains(got["C0GENERAL"], "refresh failed") || !strings.Contains(got["C0ALERTS"], "Workbook updated") {
		t.Fatalf("messages by channel: %v", got)
	}
}

// TestRoutingBySite: a route's site: names sites by content URL ("Default" the
// Default site, any case); a site the relay does not serve, or a site: in a relay of
// one site, is refused naming what is.
func TestRoutingBySite(t *testing.T) {
	r, err := relay.Routing{Default: "#all", Sites: []string{"", "finance", "sales"}, Routes: []relay.Route{
		{Site: []string{"Finance"}, Channel: "#finance"},
		{Site: []string{"default", "sales"}, Events: []string{"WorkbookUpdated"}, Channel: "#updates"},
	}}.Check()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ site, event, want string }{
		{"finance", "WorkbookUpdated", "#finance"},
		{"sales", "WorkbookUpdated", "#updates"},
		{"", "WorkbookUpdated", "#updates"},
		{"sales", "DatasourceRefreshFailed", "#all"},
	} {
		f := enrich.Facts{Event: tc.event}
		f.Payload.Site = tc.site
		if got := r.Channel(f); got != tc.want {
			t.Errorf("%s of site %q → %s, want %s", tc.event, tc.site, got, tc.want)
		}
	}
	_, err = relay.Routing{Default: "#a", Sites: []string{"", "finance"}, Routes: []relay.Route{{Site: []string{"hr"}, Channel: "#x"}}}.Check()
	if err == nil || !strings.Contains(err.Error(), `site "hr" is not a site of this relay (sites: Default, finance)`) {
		t.Errorf("unknown site: %v", err)
	}
	_, err = relay.Routing{Default: "#a", Routes: []relay.Route{{Site: []string{"finance"}, Channel: "#x"}}}.Check()
	if err == nil || !strings.Contains(err.Error(), "the relay serves one site") {
		t.Errorf("site: without sites: %v", err)
	}
}
