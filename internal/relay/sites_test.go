package relay_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
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

// TestTenSitesEnrichedTogether: events of ten sites arriving at once are each
// enriched by its own site (none posted with the payload's facts only), posted naming
// its site, with one sign-in per site — no site's session ends another's.
func TestTenSitesEnrichedTogether(t *testing.T) {
	cert, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{""}
	for i := 1; i < 10; i++ {
		names = append(names, fmt.Sprintf("site%02d", i))
	}
	server := tableausim.NewServer(tableausim.Options{DeliveryTLS: &tls.Config{RootCAs: cert.Pool}, RetryDelay: 20 * time.Millisecond}, names[1:]...)
	srv := server.Start()
	t.Cleanup(srv.Close)
	slack := slackfake.New(slackToken).Start()
	t.Cleanup(slack.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base, public := "/tableau/3f9c2d7e8a1b4c60", "https://"+ln.Addr().String()+"/tableau/3f9c2d7e8a1b4c60"
	var sites []relay.Site
	for _, n := range names {
		pat := tableausim.PAT{Name: "pat-" + n, Secret: "secret-" + n}
		server.Site(n).AddPAT(pat)
		c, err := tableau.New(tableau.Config{Server: srv.URL, Site: n, PATName: pat.Name, PATSecret: pat.Secret})
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, relay.Site{Name: n, Tableau: c, Path: relay.SitePath(base, n), PublicURL: relay.SitePath(public, n)})
	}
	ready := make(chan struct{})
	cfg := relay.Config{
		Tableau: sites[0].Tableau, Sites: sites,
		Slack:   slackout.New(slackout.Options{Token: slackToken, APIURL: slack.APIURL(), PerChannel: rate.Inf}),
		Channel: "#alerts", StateDir: t.TempDir(),
		Server: relay.ServerConfig{Certificate: &cert.TLS, Listener: ln}, Path: base, PublicURL: public,
		Manage: true, Events: []string{"WorkbookUpdated"}, NamePrefix: "tabhook",
		// Ten events at once would be one digest: a message each shows each one's facts.
		Service: relay.ServiceConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, DigestAfter: 100},
		Enrich:  enrich.Options{Backoff: 10 * time.Millisecond, NoPreview: true},
		Ready:   func(string) { close(ready) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("relay stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready")
	}
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
