package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/destfake"
	"github.com/tabhook/tabhook/internal/payload"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const key = "R0UT1NGKEY0123456789abcdef012345"

func facts(event string) enrich.Facts {
	f := enrich.Base(payload.Payload{Resource: "DATASOURCE", EventType: event, ResourceName: "Orders", SiteLUID: "site-1", ResourceLUID: "ds-1", CreatedAt: "2026-11-30T07:00:00Z"})
	f.Name, f.Project, f.Owner, f.OwnerEmail, f.URL = "Orders", "Sales", "Bob Smith", "bob@example.com", "https://tableau.example.com/#/datasources/7"
	if strings.HasSuffix(event, "Failed") {
		at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
		f.Failure = &enrich.Failure{JobID: "j-1", Error: "com.tableausoftware.nativeapi.exceptions.DataSourceException: Login failed for user 'svc'.", Started: at.Add(-time.Minute), Ended: at}
		f.Streak = 2
	}
	return f
}

func TestGoldenEvents(t *testing.T) {
	for name, f := range map[string]enrich.Facts{"trigger": facts("DatasourceRefreshFailed"), "resolve": facts("DatasourceRefreshSucceeded")} {
		t.Run(name, func(t *testing.T) {
			b, err := json.MarshalIndent(Event(key, f), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".json")
			if *update {
				_ = os.WriteFile(path, append(b, '\n'), 0o644)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(bytes.TrimSpace(want), b) {
				t.Errorf("%s differs from %s (go test ./internal/pagerduty -update):\n%s", name, path, b)
			}
		})
	}
	if DedupKey(facts("DatasourceRefreshFailed")) != DedupKey(facts("DatasourceRefreshSucceeded")) {
		t.Fatal("a failure and its recovery have different dedup keys")
	}
}

func TestTakes(t *testing.T) {
	for event, want := range map[string]bool{"WorkbookRefreshFailed": true, "DatasourceRefreshSucceeded": true, "WorkbookRefreshStarted": false, "WorkbookUpdated": false, "DatasourceDeleted": false} {
		if Takes(event) != want {
			t.Errorf("Takes(%s) = %v", event, !want)
		}
	}
}

func TestSendTriggersAndResolves(t *testing.T) {
	r := destfake.NewPagerDuty()
	defer r.Close()
	s := New("oncall", key, r.URL(), nil)
	ctx := context.Background()
	ev := func(event string) []destination.Event { return []destination.Event{{ID: "x", Facts: facts(event)}} }
	if err := s.Send(ctx, ev("DatasourceRefreshFailed")); err != nil {
		t.Fatal(err)
	}
	if open, _ := r.Incident(DedupKey(facts("DatasourceRefreshFailed"))); !open {
		t.Fatal("no incident opened")
	}
	if err := s.Send(ctx, ev("DatasourceRefreshSucceeded")); err != nil {
		t.Fatal(err)
	}
	if open, seen := r.Incident(DedupKey(facts("DatasourceRefreshFailed"))); open || !seen {
		t.Fatal("the incident was not resolved")
	}
	r.Script(destfake.Answer{Status: 429}, destfake.Answer{Status: 500})
	for _, want := range []int{429, 500} {
		err := s.Send(ctx, ev("DatasourceRefreshFailed"))
		if de, ok := destination.AsError(err); !ok || de.Permanent || de.Status != want {
			t.Errorf("%d: %v", want, err)
		}
	}
	bad := New("oncall", "short", r.URL(), nil)
	if de, ok := destination.AsError(bad.Send(ctx, ev("DatasourceRefreshFailed"))); !ok || !de.Permanent || strings.Contains(de.Error(), "short") {
		t.Errorf("a refused routing key: %+v", de)
	}
	if de, ok := destination.AsError(s.Send(ctx, ev("DatasourceUpdated"))); !ok || !de.Permanent {
		t.Errorf("an update sent to PagerDuty: %+v", de)
	}
}
