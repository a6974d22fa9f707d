package tableau_test

import (
	"context"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

// TestRefreshNowOnce: a refresh asked for is queued once; asked again while it is
// queued, Tableau declines with "already queued" (409093), which the client tells apart
// from a failure; once the refresh has run, another can be asked for.
func TestRefreshNowOnce(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	for _, tc := range []struct{ kind, id string }{{"workbook", tableausim.WorkbookID}, {"datasource", tableausim.DatasourceID}} {
		job, err := e.client.RefreshNow(ctx, tc.kind, tc.id)
		if err != nil || job == "" {
			t.Fatalf("%s: %v %q", tc.kind, err, job)
		}
		_, err = e.client.RefreshNow(ctx, tc.kind, tc.id)
		if !tableau.IsAlreadyQueued(err) {
			t.Fatalf("%s asked twice: %v, want already queued", tc.kind, err)
		}
		if n := e.sim.Refreshes(tc.id); n != 1 {
			t.Fatalf("%s: %d refreshes queued, want 1", tc.kind, n)
		}
	}
	// The refresh runs: its outcome event ends the job, and a new request is taken.
	if _, err := e.sim.Fire(ctx, tableausim.Event{Type: "WorkbookRefreshSucceeded", ResourceLUID: tableausim.WorkbookID, ResourceName: "w", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.RefreshNow(ctx, "workbook", tableausim.WorkbookID); err != nil {
		t.Fatalf("after the refresh ran: %v", err)
	}
	if _, err := e.client.RefreshNow(ctx, "workbook", "no-such-workbook"); !tableau.IsNotFound(err) || tableau.IsAlreadyQueued(err) {
		t.Fatalf("unknown workbook: %v", err)
	}
	if _, err := e.client.RefreshNow(ctx, "flow", "x"); err == nil {
		t.Fatal("a flow was refreshed")
	}
}
