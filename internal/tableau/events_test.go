package tableau

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEventSpellings(t *testing.T) {
	for _, in := range []string{"WorkbookUpdated", "workbookupdated", "workbook-updated", "Workbook-Updated", "webhook-source-event-workbook-updated", "WEBHOOK-SOURCE-EVENT-WORKBOOK-UPDATED"} {
		ev, err := ParseEvent(in)
		if err != nil || ev.Name != "WorkbookUpdated" {
			t.Errorf("ParseEvent(%q) = %v, %v", in, ev.Name, err)
		}
	}
	for in, want := range map[string]string{"admin-promoted": "AdminPromoted", "webhook-event-user-promoted-admin": "AdminPromoted", "webhook-event-user-demoted-admin": "AdminDemoted", "datasource-refresh-failed": "DatasourceRefreshFailed"} {
		if ev, err := ParseEvent(in); err != nil || ev.Name != want {
			t.Errorf("ParseEvent(%q) = %v, %v; want %s", in, ev.Name, err, want)
		}
	}
	_, err := ParseEvent("WorkbookExploded")
	var ue *UnknownEventError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "WorkbookUpdated") {
		t.Fatalf("err = %v", err)
	}
}

func TestEveryEventRoundTrips(t *testing.T) {
	for _, e := range Events() {
		for _, spelling := range []string{e.Name, Kebab(e.Name), e.Source} {
			got, err := ParseEvent(spelling)
			if err != nil || got != e {
				t.Errorf("ParseEvent(%q) = %v, %v", spelling, got, err)
			}
		}
		if got, ok := EventBySource(e.Source); !ok || got != e {
			t.Errorf("EventBySource(%q) = %v", e.Source, got)
		}
	}
	eq(t, Kebab("WorkbookRefreshFailed"), "workbook-refresh-failed")
	eq(t, len(EventNames()), 22)
}
