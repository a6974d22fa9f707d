package enrich

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/tableau"
)

func failedAt(event, luid string, at time.Time) payload.Payload {
	pl := p(event, luid)
	pl.CreatedAt = at.Format(time.RFC3339)
	return pl
}

func TestWhyARefreshFailed(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	job := func(id, item, title string, ended time.Time) fakeJob {
		return fakeJob{
			JobSummary: tableau.JobSummary{ID: id, Status: "Failed", Title: title, StartedAt: ended.Add(-time.Minute), EndedAt: ended},
			job:        tableau.Job{ID: id, WorkbookID: item, Notes: " error of " + id + "\n", StartedAt: ended.Add(-90 * time.Second), CompletedAt: ended},
		}
	}
	forbidden := &tableau.APIError{Status: http.StatusForbidden, Code: "403000"}
	cases := []struct {
		name     string
		jobs     []fakeJob
		jobsErr  error
		wantErr  string // Failure.Error; "" when none
		noReason string // part of NoReason
	}{
		{"the item's job", []fakeJob{job("j1", "wb", "Sales", at)}, nil, "error of j1", ""},
		{"another item of the same name is skipped", []fakeJob{job("j0", "other", "Sales", at), job("j1", "wb", "Sales", at.Add(time.Minute))}, nil, "error of j1", ""},
		{"the closest end wins", []fakeJob{job("old", "wb", "Sales", at.Add(-10*time.Minute)), job("near", "wb", "Sales", at.Add(-time.Second))}, nil, "error of near", ""},
		{"a job that ended long before is not this failure", []fakeJob{job("j1", "wb", "Sales", at.Add(-time.Hour))}, nil, "", "no failed refresh job"},
		{"the item is matched by ID, not title (renamed since)", []fakeJob{job("j1", "wb", "New name", at)}, nil, "error of j1", ""},
		{"after a rename, this failure's job, not the previous one under the old name", []fakeJob{job("first", "wb", "Sales", at.Add(-5*time.Minute)), job("second", "wb", "Sales (renamed)", at.Add(-2*time.Second))}, nil, "error of second", ""},
		{"many items failing together: the item's job is found among them", append(func() []fakeJob {
			var js []fakeJob
			for i := range 8 {
				js = append(js, job(fmt.Sprint("other-", i), fmt.Sprint("item-", i), "Other", at.Add(time.Duration(i)*time.Second)))
			}
			return js
		}(), job("mine", "wb", "Sales", at.Add(9*time.Second))), nil, "error of mine", ""},
		{"no jobs rights", nil, forbidden, "", "site administrators only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := newFake()
			src.jobs, src.jobsErr = tc.jobs, tc.jobsErr
			f := New(src, Options{Backoff: time.Millisecond}).Enrich(context.Background(), failedAt("WorkbookRefreshFailed", "wb", at))
			switch {
			case tc.wantErr != "" && (f.Failure == nil || f.Failure.Error != tc.wantErr):
				t.Fatalf("Failure = %+v, want error %q", f.Failure, tc.wantErr)
			case tc.wantErr != "" && f.Failure.Took() != 90*time.Second:
				t.Fatalf("took %v", f.Failure.Took())
			case tc.wantErr == "" && (f.Failure != nil || !strings.Contains(f.NoReason, tc.noReason)):
				t.Fatalf("Failure = %+v, NoReason = %q, want %q", f.Failure, f.NoReason, tc.noReason)
			}
			// Full and incremental refreshes; never a name, which a rename makes wrong.
			if flt := src.filter; !slices.Equal(flt.Types, []string{"refresh_extracts", "increment_extracts"}) || flt.Title != "" || flt.CreatedBefore.IsZero() {
				t.Errorf("jobs asked for with %+v", flt)
			}
		})
	}
}

func TestJobsRefusalIsLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	src := newFake()
	src.jobsErr = &tableau.APIError{Status: http.StatusForbidden, Code: "403000"}
	e := New(src, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for i := range 3 {
		f := e.Enrich(context.Background(), failedAt("DatasourceRefreshFailed", "ds", time.Now().Add(time.Duration(i)*time.Second)))
		if f.NoReason == "" || f.Name != "Orders" {
			t.Fatalf("event %d: %+v", i, f)
		}
	}
	if n := strings.Count(buf.String(), "refused to list jobs"); n != 1 {
		t.Fatalf("refusal logged %d times:\n%s", n, buf.String())
	}
}

func TestOnlyFailuresLookForJobs(t *testing.T) {
	src := newFake()
	e := New(src, Options{})
	for _, ev := range []string{"WorkbookRefreshSucceeded", "WorkbookRefreshStarted", "WorkbookUpdated"} {
		e.Enrich(context.Background(), p(ev, "wb"))
	}
	if n := src.count("jobs"); n != 0 {
		t.Fatalf("%d job lookups for events that are not failures", n)
	}
}

func TestOwnerEmail(t *testing.T) {
	src := newFake()
	src.users["u1"] = tableau.User{ID: "u1", Name: "bob@example.com", FullName: "Bob Smith"}
	f := New(src, Options{OwnerEmails: true}).Enrich(context.Background(), p("WorkbookRefreshFailed", "wb"))
	if f.Owner != "Bob Smith" || f.OwnerEmail != "bob@example.com" {
		t.Fatalf("owner %q <%s>: the user name is the e-mail on Tableau Cloud", f.Owner, f.OwnerEmail)
	}
	// The data source embeds its owner's name: only a mention needs the e-mail lookup.
	src.users["u2"] = tableau.User{ID: "u2", Name: "carol", Email: "carol@example.com"}
	if f := New(src, Options{}).Enrich(context.Background(), p("DatasourceUpdated", "ds")); f.OwnerEmail != "" || src.count("user") != 1 {
		t.Fatalf("without mentions: %+v, %d user lookups", f, src.count("user"))
	}
	if f := New(src, Options{OwnerEmails: true}).Enrich(context.Background(), p("DatasourceUpdated", "ds")); f.OwnerEmail != "carol@example.com" || f.Owner != "Carol Embedded" {
		t.Fatalf("with mentions: %+v", f)
	}
}

// TestWhyIsLookedUpOnce: the records of one event for several destinations share the
// job lookup.
func TestWhyIsLookedUpOnce(t *testing.T) {
	src := newFake()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	src.jobs = []fakeJob{{JobSummary: tableau.JobSummary{ID: "j1", Status: "Failed", Title: "Sales", EndedAt: at}, job: tableau.Job{ID: "j1", WorkbookID: "wb", Notes: "boom"}}}
	e := New(src, Options{})
	for range 4 {
		if f := e.Enrich(context.Background(), failedAt("WorkbookRefreshFailed", "wb", at)); f.Failure == nil {
			t.Fatal("no failure found")
		}
	}
	if n := src.count("jobs"); n != 1 {
		t.Fatalf("%d job lookups for one event", n)
	}
}
