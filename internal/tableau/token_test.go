package tableau_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

// TestSharedTokenTakesTurns: two sites' clients on one server administrator's token,
// called at once from many goroutines, all succeed — without a shared token each
// sign-in would end the other's session — and the token moves between the sites only
// when a call for the other site comes (each move one sign-in).
func TestSharedTokenTakesTurns(t *testing.T) {
	m := tableausim.NewServer(tableausim.Options{}, "finance")
	m.AddPAT(tableausim.PAT{Name: "admin", Secret: "admin-secret"})
	srv := m.Start()
	defer srv.Close()
	shared := &tableau.SharedToken{}
	client := func(site string) *tableau.Client {
		c, err := tableau.New(tableau.Config{Server: srv.URL, Site: site, PATName: "admin", PATSecret: "admin-secret", Token: shared})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	def, fin := client(""), client("finance")
	ctx := context.Background()
	for _, c := range []*tableau.Client{def, fin} {
		if err := c.SignIn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 40 {
		c := def
		if i%2 == 1 {
			c = fin
		}
		wg.Go(func() {
			if _, err := c.Workbook(ctx, tableausim.WorkbookID); err != nil {
				t.Errorf("workbook on %s: %v", c.SiteID(), err)
			}
		})
	}
	wg.Wait()
	if def.SiteID() == fin.SiteID() || fin.SiteID() != m.Site("finance").SiteID() {
		t.Errorf("site IDs %s %s", def.SiteID(), fin.SiteID())
	}
	signIns := int64(m.Site("").SignIns() + m.Site("finance").SignIns())
	if signIns != shared.Switches()+1 {
		t.Errorf("%d sign-ins, %d switches: want one sign-in per switch, plus the first", signIns, shared.Switches())
	}
	// A run of one site's calls costs no sign-in.
	before := shared.Switches()
	for range 5 {
		if _, err := fin.Workbook(ctx, tableausim.WorkbookID); err != nil {
			t.Fatal(err)
		}
	}
	if d := shared.Switches() - before; d > 1 {
		t.Errorf("five calls on one site switched %d times", d)
	}
}
