package relay_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/selfsigned"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// sitesWorld is a simulated server of several sites (a token each), a fake Slack and
// a relay of those sites between them.
type sitesWorld struct {
	server *tableausim.Server
	slack  *slackfake.Fake
	public string
	cfg    relay.Config
}

// newSitesWorld builds the world; broken names sites whose Tableau cannot be reached.
func newSitesWorld(t *testing.T, names []string, broken ...string) *sitesWorld {
	t.Helper()
	cert, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var more []string
	for _, n := range names {
		if n != "" {
			more = append(more, n)
		}
	}
	w := &sitesWorld{server: tableausim.NewServer(tableausim.Options{DeliveryTLS: &tls.Config{RootCAs: cert.Pool}, RetryDelay: 20 * time.Millisecond}, more...)}
	srv := w.server.Start()
	t.Cleanup(srv.Close)
	w.slack = slackfake.New(slackToken).Start()
	t.Cleanup(w.slack.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "/tableau/3f9c2d7e8a1b4c60"
	w.public = "https://" + ln.Addr().String() + base
	var sites []relay.Site
	for _, n := range names {
		pat := tableausim.PAT{Name: "pat-" + n, Secret: "secret-" + n}
		w.server.Site(n).AddPAT(pat)
		url := srv.URL
		if slices.Contains(broken, n) {
			url = "http://127.0.0.1:1" // nothing answers
		}
		c, err := tableau.New(tableau.Config{Server: url, Site: n, PATName: pat.Name, PATSecret: pat.Secret})
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, relay.Site{Name: n, Tableau: c, Path: relay.SitePath(base, n), PublicURL: relay.SitePath(w.public, n)})
	}
	w.cfg = relay.Config{
		Tableau: sites[0].Tableau, Sites: sites,
		Slack:   slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL(), PerChannel: rate.Inf}),
		Channel: "#alerts", StateDir: t.TempDir(),
		Server: relay.ServerConfig{Certificate: &cert.TLS, Listener: ln}, Path: base, PublicURL: w.public,
		Manage: true, Events: []string{"WorkbookUpdated"}, NamePrefix: "tabhook",
		// Events at once would be one digest: a message each shows each one's facts.
		Service: relay.ServiceConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, DigestAfter: 100},
		Enrich:  enrich.Options{Backoff: 10 * time.Millisecond, NoPreview: true},
	}
	return w
}

// start runs the relay until the test ends and waits until it says it is ready.
func (w *sitesWorld) start(t *testing.T) {
	t.Helper()
	ready := make(chan struct{})
	w.cfg.Ready = func(string) { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx, w.cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("relay stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
}

// TestTenSitesEnrichedTogether: events of ten sites arriving at once are each
// enriched by its own site (none posted with the payload's facts only), posted naming
// its site, with one sign-in per site — no site's session ends another's.
func TestTenSitesEnrichedTogether(t *testing.T) {
	names := []string{""}
	for i := 1; i < 10; i++ {
		names = append(names, fmt.Sprintf("site%02d", i))
	}
	w := newSitesWorld(t, names)
	w.start(t)
	server, slack := w.server, w.slack
	for _, n := range names {
		if got := len(server.Site(n).Webhooks()); got != 1 {
			t.Fatalf("site %q holds %d webhooks, want 1", n, got)
		}
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			ds, err := server.Site(n).Fire(context.Background(), tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
			if err != nil || len(ds) != 1 || !ds[0].OK {
				t.Errorf("site %q: %+v %v", n, ds, err)
			}
		})
	}
	wg.Wait()
	eventually(t, "ten messages", func() bool { return len(slack.Messages()) == 10 })
	text := ""
	for _, m := range slack.Messages() {
		text += messageText(m)
		// Tableau's details (the project is not in the payload) — not the payload's alone.
		if strings.Contains(messageText(m), "showing what the webhook said") || !strings.Contains(m.Text, "project ") {
			t.Errorf("posted without Tableau's details: %s", m.Text)
		}
	}
	for _, n := range names {
		if !strings.Contains(text, "site "+relay.SiteLabel(n)) {
			t.Errorf("no message names site %s", relay.SiteLabel(n))
		}
		if got := server.Site(n).SignIns(); got != 1 {
			t.Errorf("site %q: %d sign-ins, want 1", n, got)
		}
	}
}

// TestOneSiteDownHoldsUpOnlyItself: a site whose Tableau cannot be reached does not
// keep the relay from being ready nor the other sites' events from being posted;
// /readyz names it.
func TestOneSiteDownHoldsUpOnlyItself(t *testing.T) {
	w := newSitesWorld(t, []string{"", "finance", "sales"}, "sales")
	w.start(t)
	if got := len(w.server.Site("finance").Webhooks()); got != 1 {
		t.Fatalf("finance holds %d webhooks, want 1", got)
	}
	if got := len(w.server.Site("sales").Webhooks()); got != 0 {
		t.Fatalf("sales (unreachable) holds %d webhooks", got)
	}
	if _, err := w.server.Site("finance").Fire(context.Background(), tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "finance's message", func() bool { return len(w.slack.Messages()) == 1 })
	if m := w.slack.Messages()[0]; !strings.Contains(m.Text, "site finance") {
		t.Errorf("message %q does not name finance", m.Text)
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(strings.TrimSuffix(w.public, "/tableau/3f9c2d7e8a1b4c60") + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"tableau sales"`) {
		t.Errorf("/readyz %d %s; want 503 naming tableau sales", resp.StatusCode, body)
	}
}
