package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

func setup(t *testing.T) (*tableausim.Sim, *tableau.Client, string) {
	t.Helper()
	dest := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(dest.Close)
	sim := tableausim.New(tableausim.Options{DeliveryTLS: dest.Client().Transport.(*http.Transport).TLSClientConfig, RetryDelay: time.Millisecond})
	sim.AddPAT(tableausim.PAT{Name: "p", Secret: "s"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	c, _ := tableau.New(tableau.Config{Server: srv.URL, PATName: "p", PATSecret: "s"})
	if err := c.SignIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sim, c, dest.URL
}

func TestFilter(t *testing.T) {
	w := tableau.Webhook{Name: "tabhook-workbook-updated", Event: "WorkbookUpdated", URL: "https://relay/x"}
	for _, tc := range []struct {
		f    admin.Filter
		want bool
	}{
		{admin.Filter{}, true},
		{admin.Filter{Events: []string{"WorkbookCreated", "WorkbookUpdated"}}, true},
		{admin.Filter{Events: []string{"WorkbookCreated"}}, false},
		{admin.Filter{Name: "tabhook-workbook-updated"}, true},
		{admin.Filter{Name: "tabhook"}, false},
		{admin.Filter{NamePrefix: "tabhook-"}, true},
		{admin.Filter{NamePrefix: "other-"}, false},
		{admin.Filter{URLPrefix: "https://relay/"}, true},
		{admin.Filter{URLPrefix: "https://old/"}, false},
	} {
		if got := tc.f.Match(w); got != tc.want {
			t.Errorf("%+v.Match = %v", tc.f, got)
		}
	}
	if !(admin.Filter{}).Empty() || (admin.Filter{URLPrefix: "x"}).Empty() {
		t.Error("Empty")
	}
}

func TestEnsureAdoptsAndReEnables(t *testing.T) {
	sim, c, dest := setup(t)
	ctx := context.Background()
	url := dest + "/hook"
	left := sim.AddWebhook("tabhook-workbook-updated", "WorkbookUpdated", url) // a crashed run's
	sim.DisableWebhook(left, "too many failures")
	other := sim.AddWebhook("tabhook-datasource-created", "DatasourceCreated", "https://127.0.0.1:1/other")
	reg := admin.Registration{Prefix: "tabhook", URL: url, Events: []string{"WorkbookUpdated", "DatasourceCreated"}}
	managed, err := reg.Ensure(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(managed) != 2 || !managed[0].Adopted || managed[0].Webhook.ID != left || !managed[0].Webhook.Enabled {
		t.Fatalf("managed = %+v", managed)
	}
	if managed[1].Adopted || managed[1].Webhook.ID == other {
		t.Fatalf("another instance's webhook was adopted: %+v", managed[1])
	}
	again, _ := reg.Ensure(ctx, c, nil)
	if !again[0].Adopted || !again[1].Adopted || len(sim.Webhooks()) != 3 {
		t.Fatalf("second start created duplicates: %+v", sim.Webhooks())
	}
	// A create whose answer was lost: the relay never learned its ID, Remove finds it.
	lost := sim.AddWebhook("tabhook-workbook-updated", "WorkbookUpdated", url)
	gone, err := reg.Remove(ctx, c)
	if err != nil || len(gone) != 3 || gone[2].ID != lost {
		t.Fatalf("remove: %v %v", gone, err)
	}
	if hooks := sim.Webhooks(); len(hooks) != 1 || hooks[0].ID != other {
		t.Fatalf("left after remove: %+v", hooks)
	}
	if _, err := reg.Remove(ctx, c); err != nil {
		t.Errorf("removing webhooks already gone: %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if got, err := reg.Ensure(ctx, c, stop); err != admin.ErrStopped || len(got) != 0 || len(sim.Webhooks()) != 1 {
		t.Errorf("a stopped Ensure created webhooks: %v %v", got, err)
	}
	if admin.ManagedName("tabhook", "DatasourceRefreshFailed") != "tabhook-datasource-refresh-failed" {
		t.Error("ManagedName")
	}
}

func TestByNameAndOrphans(t *testing.T) {
	sim, c, dest := setup(t)
	ctx := context.Background()
	sim.AddWebhook("live", "WorkbookUpdated", dest+"/a")
	sim.AddWebhook("dead", "WorkbookUpdated", "https://127.0.0.1:1/gone")
	sim.AddWebhook("twin", "WorkbookUpdated", dest+"/b")
	sim.AddWebhook("twin", "WorkbookUpdated", dest+"/c")
	if w, err := admin.ByName(ctx, c, "live"); err != nil || w.Name != "live" {
		t.Fatalf("ByName: %+v %v", w, err)
	}
	if _, err := admin.ByName(ctx, c, "none"); err == nil || !strings.Contains(err.Error(), "no webhook is named") {
		t.Errorf("missing: %v", err)
	}
	if _, err := admin.ByName(ctx, c, "twin"); err == nil || !strings.Contains(err.Error(), "2 webhooks are named") {
		t.Errorf("ambiguous: %v", err)
	}
	hooks, _ := admin.Select(ctx, c, admin.Filter{})
	hooks = append(hooks, tableau.Webhook{ID: "missing", Name: "ghost"})
	orphans, errs := admin.Orphans(admin.TestAll(ctx, c, hooks))
	if len(orphans) != 1 || orphans[0].Webhook.Name != "dead" || len(errs) != 1 {
		t.Fatalf("orphans = %+v, errs = %v", orphans, errs)
	}
	deleted, err := admin.DeleteAll(ctx, c, []tableau.Webhook{orphans[0].Webhook, {ID: "missing"}})
	if len(deleted) != 1 || err == nil || !strings.Contains(err.Error(), "1 of 2 deletions failed") {
		t.Fatalf("DeleteAll: %v %v", deleted, err)
	}
}

// lossyAPI loses the answer to its first create: once after doing it (done=true),
// or before (done=false).
type lossyAPI struct {
	admin.API
	done    bool
	creates int
}

func (l *lossyAPI) CreateWebhook(ctx context.Context, spec tableau.WebhookSpec) (tableau.Webhook, error) {
	l.creates++
	if l.creates > 1 {
		return l.API.CreateWebhook(ctx, spec)
	}
	if l.done {
		_, _ = l.API.CreateWebhook(ctx, spec)
	}
	return tableau.Webhook{}, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
}

// TestEnsureSurvivesALostCreateAnswer: a create that got no answer is looked for and
// adopted if it happened, sent once more if not — one webhook either way.
func TestEnsureSurvivesALostCreateAnswer(t *testing.T) {
	for _, done := range []bool{true, false} {
		sim, c, dest := setup(t)
		api := &lossyAPI{API: c, done: done}
		reg := admin.Registration{Prefix: "tabhook", URL: dest + "/hook", Events: []string{"WorkbookUpdated"}}
		managed, err := reg.Ensure(context.Background(), api, nil)
		if err != nil || len(managed) != 1 {
			t.Fatalf("done=%v: %v %+v", done, err, managed)
		}
		if n := len(sim.Webhooks()); n != 1 {
			t.Errorf("done=%v: %d webhooks, want 1", done, n)
		}
		if want := map[bool]int{true: 1, false: 2}[done]; api.creates != want {
			t.Errorf("done=%v: %d creates sent, want %d", done, api.creates, want)
		}
	}
}

// TestRepairPutsBackWhatDrifted: one of a registration's webhooks deleted, one
// disabled, one pointed elsewhere: each is put right, once; another instance's webhook
// of the same name is never touched.
func TestRepairPutsBackWhatDrifted(t *testing.T) {
	sim, c, dest := setup(t)
	ctx := context.Background()
	url := dest + "/hook"
	reg := admin.Registration{Prefix: "tabhook", URL: url, Events: []string{"WorkbookUpdated", "WorkbookCreated", "DatasourceUpdated"}}
	managed, err := reg.Ensure(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := sim.AddWebhook("tabhook-workbook-updated", "WorkbookUpdated", "https://127.0.0.1:1/staging") // another instance
	known := make([]tableau.Webhook, len(managed))
	for i, m := range managed {
		known[i] = m.Webhook
	}
	if err := c.DeleteWebhook(ctx, known[0].ID); err != nil {
		t.Fatal(err)
	}
	sim.DisableWebhook(known[1].ID, "too many failed deliveries")
	moved, event := "https://127.0.0.1:2/elsewhere", "DatasourceCreated"
	if _, err := c.UpdateWebhook(ctx, known[2].ID, tableau.WebhookSpec{URL: &moved, Event: &event}); err != nil {
		t.Fatal(err)
	}
	repairs, now, err := reg.Repair(ctx, c, known)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, r := range repairs {
		reasons[r.Reason] = true
	}
	if len(repairs) != 3 || !reasons[admin.RepairMissing] || !reasons[admin.RepairDisabled] || !reasons[admin.RepairChanged] {
		t.Fatalf("repairs %+v", repairs)
	}
	for _, w := range now {
		got, err := c.GetWebhook(ctx, w.ID)
		if err != nil || !got.Enabled || got.URL != url || !reg.Owns(got) {
			t.Errorf("after repair: %+v %v", got, err)
		}
	}
	if got, _ := c.GetWebhook(ctx, other); got.URL != "https://127.0.0.1:1/staging" {
		t.Errorf("another instance's webhook was touched: %+v", got)
	}
	if again, _, err := reg.Repair(ctx, c, now); err != nil || len(again) != 0 {
		t.Errorf("a second check repaired %+v (%v), want nothing", again, err)
	}
}

// TestJudgeAsksMoreThanOnce: a destination down for the first test but up for a later
// one is kept; one down for every test is an orphan; a live relay's and an untestable
// webhook are kept; Tableau's own disabling is enough.
func TestJudgeAsksMoreThanOnce(t *testing.T) {
	sim, c, dest := setup(t)
	ctx := context.Background()
	flaky := sim.AddWebhook("flaky", "WorkbookUpdated", "https://127.0.0.1:1/down-then-up")
	sim.AddWebhook("dead", "WorkbookUpdated", "https://127.0.0.1:1/dead")
	sim.AddWebhook("relay", "WorkbookUpdated", "https://relay.example.com/tableau/x")
	off := sim.AddWebhook("off", "WorkbookUpdated", dest+"/hook")
	sim.DisableWebhook(off, "Webhook disabled after 5 consecutive failed deliveries")
	hooks, _ := c.ListWebhooks(ctx)
	rounds := 0
	j := admin.Judge{
		ConfirmAfter: time.Minute,
		Probe: func(_ context.Context, u string) (string, bool) {
			return "https://relay.example.com/healthz", strings.HasPrefix(u, "https://relay.example.com/")
		},
		Sleep: func(context.Context, time.Duration) error {
			rounds++
			if rounds == 1 { // the flaky destination is back for the second test
				up := dest + "/hook"
				_, _ = c.UpdateWebhook(ctx, flaky, tableau.WebhookSpec{URL: &up})
			}
			return nil
		},
	}
	verdicts := map[string]admin.Evidence{}
	for _, e := range j.Judge(ctx, c, hooks) {
		verdicts[e.Webhook.Name] = e
	}
	if e := verdicts["flaky"]; e.Orphan || len(e.Trials) != 2 {
		t.Errorf("flaky: %+v, want kept after its second test", e)
	}
	if e := verdicts["dead"]; !e.Orphan || len(e.Trials) != 3 {
		t.Errorf("dead: %+v, want an orphan after 3 failed tests", e)
	}
	if e := verdicts["relay"]; e.Orphan || e.Relay == "" || len(e.Trials) != 0 {
		t.Errorf("relay: %+v, want kept, untested: a tabhook relay answers", e)
	}
	if e := verdicts["off"]; !e.Orphan || e.Disabled == "" {
		t.Errorf("off: %+v, want an orphan: Tableau disabled it", e)
	}
}
