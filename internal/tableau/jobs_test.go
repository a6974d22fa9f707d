package tableau_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

func TestFailedRefreshJobIsFoundWithItsNotes(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if _, err := e.sim.Fire(ctx, tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "Superstore", CreatedAt: at, Notes: "boom\nsecond line"}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.sim.Fire(ctx, tableausim.Event{Type: "DatasourceRefreshSucceeded", ResourceLUID: tableausim.DatasourceID, ResourceName: "ds", CreatedAt: at})
	jobs, err := e.client.Jobs(ctx, tableau.JobFilter{Types: []string{"refresh_extracts"}, Status: "Failed", CreatedAfter: at.Add(-time.Hour), Title: "Superstore"})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Query Jobs: %v %+v", err, jobs)
	}
	if j := jobs[0]; j.Title != "Superstore" || j.Subtitle != "Workbook" || !j.EndedAt.Equal(at) || j.StartedAt.IsZero() {
		t.Fatalf("listed job: %+v", j)
	}
	job, err := e.client.Job(ctx, jobs[0].ID)
	if err != nil || job.WorkbookID != tableausim.WorkbookID || job.Notes != "boom\nsecond line" || job.FinishCode != "1" || !job.CompletedAt.Equal(at) {
		t.Fatalf("Query Job: %v %+v", err, job)
	}
	// A title the filter syntax cannot carry is left out of the filter, not mangled.
	if jobs, err := e.client.Jobs(ctx, tableau.JobFilter{Status: "Failed", Title: "a,b"}); err != nil || len(jobs) != 1 {
		t.Fatalf("unfilterable title: %v %d", err, len(jobs))
	}
}

func TestJobsNeedAnAdministrator(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{PATName: "viewer", PATSecret: "v"})
	e.sim.AddUser(tableausim.User{ID: "u-viewer", Name: "viewer@example.com", SiteRole: "Viewer"})
	e.sim.AddPAT(tableausim.PAT{Name: "viewer", Secret: "v", UserID: "u-viewer"})
	_, err := e.client.Jobs(context.Background(), tableau.JobFilter{Status: "Failed"})
	if !tableau.IsForbidden(err) {
		t.Fatalf("non-administrator's Query Jobs: %v", err)
	}
}

func TestQualityWarningRoundTrip(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	other := e.sim.AddQualityWarning(tableausim.DatasourceID, "someone else's")
	w, err := e.client.AddQualityWarning(ctx, tableausim.DatasourceID, "STALE", "refresh failed: boom")
	if err != nil || w.ID == "" || w.Type != "STALE" || !w.Active {
		t.Fatalf("add: %v %+v", err, w)
	}
	list, err := e.client.QualityWarnings(ctx, tableausim.DatasourceID)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := e.client.DeleteQualityWarning(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	left := e.sim.QualityWarnings(tableausim.DatasourceID)
	if len(left) != 1 || left[0].ID != other {
		t.Fatalf("after deleting ours: %+v", left)
	}
	if err := e.client.DeleteQualityWarning(ctx, w.ID); !tableau.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestOldServerHasNoQualityWarnings(t *testing.T) {
	e := newEnv(t, tableausim.Options{APIVersion: "3.8"}, tableau.Config{})
	if err := e.client.SignIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	var ue *tableau.UnsupportedError
	if err := e.client.QualityWarningsSupported(); !errors.As(err, &ue) || ue.Minimum != "3.9" {
		t.Fatalf("3.8: %v", err)
	}
}
