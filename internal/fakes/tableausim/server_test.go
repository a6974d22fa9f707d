package tableausim_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

func client(t *testing.T, url, site, pat, secret string) *tableau.Client {
	t.Helper()
	c, err := tableau.New(tableau.Config{Server: url, Site: site, PATName: pat, PATSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServerSites: each site has its own LUID, webhooks and tokens; a site's token
// does not enter another; a server administrator's token lists every site, a site's
// token only its own.
func TestServerSites(t *testing.T) {
	m := tableausim.NewServer(tableausim.Options{}, "finance", "sales")
	m.Site("finance").AddPAT(tableausim.PAT{Name: "fin", Secret: "fin-secret"})
	m.AddPAT(tableausim.PAT{Name: "admin", Secret: "admin-secret"})
	srv := m.Start()
	defer srv.Close()
	ctx := context.Background()

	fin := client(t, srv.URL, "finance", "fin", "fin-secret")
	if err := fin.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if fin.SiteID() != m.Site("finance").SiteID() || fin.SiteID() == m.Site("").SiteID() {
		t.Fatalf("signed in to %s; finance is %s", fin.SiteID(), m.Site("finance").SiteID())
	}
	if _, err := fin.CreateWebhook(ctx, tableau.WebhookSpec{Name: ptr("w"), Event: ptr("WorkbookUpdated"), URL: ptr("https://example.com/h")}); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Site("finance").Webhooks()); n != 1 {
		t.Errorf("finance holds %d webhooks, want 1", n)
	}
	if n := len(m.Site("sales").Webhooks()) + len(m.Site("").Webhooks()); n != 0 {
		t.Errorf("the other sites hold %d webhooks, want 0", n)
	}
	if err := client(t, srv.URL, "sales", "fin", "fin-secret").SignIn(ctx); !tableau.IsCredentialsRejected(err) {
		t.Errorf("finance's token on sales: %v, want refused", err)
	}
	sites, err := fin.Sites(ctx)
	if err != nil || len(sites) != 1 || sites[0].ContentURL != "finance" {
		t.Errorf("finance's token lists %+v, %v; want finance alone", sites, err)
	}

	admin := client(t, srv.URL, "", "admin", "admin-secret")
	all, err := admin.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, s := range all {
		urls = append(urls, s.ContentURL)
	}
	if !slices.Equal(urls, []string{"", "finance", "sales"}) {
		t.Errorf("the administrator lists %q", urls)
	}
}

// TestServerOneSessionPerToken: a token signed in to a second site loses its session
// on the first, as on Tableau Server; the client signs in again when next used.
func TestServerOneSessionPerToken(t *testing.T) {
	m := tableausim.NewServer(tableausim.Options{}, "finance")
	m.AddPAT(tableausim.PAT{Name: "admin", Secret: "admin-secret"})
	srv := m.Start()
	defer srv.Close()
	ctx := context.Background()
	a := client(t, srv.URL, "", "admin", "admin-secret")
	b := client(t, srv.URL, "finance", "admin", "admin-secret")
	if err := a.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if n := m.Site("").LiveSessions(); n != 0 {
		t.Errorf("the Default site keeps %d sessions after the token signed in to finance", n)
	}
	if _, err := a.Site(ctx); err != nil {
		t.Fatal(err)
	}
	if n := m.Site("").SignIns(); n != 2 {
		t.Errorf("the Default site saw %d sign-ins, want 2 (the second after its session ended)", n)
	}
}

func ptr[T any](v T) *T { return &v }
