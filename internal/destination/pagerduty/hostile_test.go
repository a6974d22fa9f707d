package pagerduty

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
)

// hostileFacts is a failure whose every field Tableau (or a forger) chose.
func hostileFacts(createdAt, resource, name, notes string) enrich.Facts {
	f := enrich.Base(payload.Payload{Resource: "DATASOURCE", EventType: "DatasourceRefreshFailed", ResourceName: name, SiteLUID: "site-1", ResourceLUID: resource, CreatedAt: createdAt})
	f.Failure = &enrich.Failure{Error: notes}
	if f.At.IsZero() {
		f.At = time.Date(2026, 11, 30, 7, 0, 5, 0, time.UTC) // as delivery sets it: the receive time
	}
	return f
}

// checkEventsAPIRules checks an event against the Events API v2 rules: an RFC 3339
// timestamp, a dedup_key of at most 255 characters, a summary of at most 1024, and
// text that is whole UTF-8 with no character cut in half.
func checkEventsAPIRules(t *testing.T, f enrich.Facts, input string) {
	t.Helper()
	e := Event(key, f)
	if len(e.DedupKey) > 255 || e.DedupKey == "" {
		t.Fatalf("dedup_key of %d characters", len(e.DedupKey))
	}
	if _, err := time.Parse(time.RFC3339, e.Payload.Timestamp); err != nil {
		t.Fatalf("timestamp %q is not RFC 3339", e.Payload.Timestamp)
	}
	if n := utf8.RuneCountInString(e.Payload.Summary); n > 1024 {
		t.Fatalf("summary of %d characters", n)
	}
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	// Whole characters in, whole characters out: a cut never makes a U+FFFD.
	if replacements(input) == 0 && strings.Count(string(body), "\\ufffd")+strings.Count(string(body), "\uFFFD") > 0 {
		t.Fatalf("a character was cut in half: %s", body)
	}
	if again := Event(key, f); again.DedupKey != e.DedupKey {
		t.Fatal("dedup_key changed between two sends of one event")
	}
}

func TestHostileInputFollowsTheEventsAPIRules(t *testing.T) {
	long := strings.Repeat("東京📈é", 1500)
	cases := []struct{ name, createdAt, resource, item, notes string }{
		{"a created_at that is no time", "yesterday at noon", "ds-1", "Orders", "Login failed"},
		{"a 300-character resource ID", "2026-11-30T07:00:00Z", strings.Repeat("r", 300), "Orders", "Login failed"},
		{"multibyte notes cut", "2026-11-30T07:00:00Z", "ds-1", "Orders", long},
		{"a multibyte name cut", "2026-11-30T07:00:00Z", "ds-1", long, long},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := hostileFacts(c.createdAt, c.resource, c.item, c.notes)
			checkEventsAPIRules(t, f, c.item+c.notes)
			e := Event(key, f)
			if c.createdAt == "yesterday at noon" {
				if e.Payload.Timestamp != "2026-11-30T07:00:05Z" || !strings.Contains(e.Payload.Details.(map[string]any)["time_note"].(string), "not a time") {
					t.Errorf("timestamp %q, details %v: want the receive time, and a note saying so", e.Payload.Timestamp, e.Payload.Details)
				}
			}
		})
	}
	// Two items whose long IDs differ only at the end keep two incidents.
	a, b := hostileFacts("2026-11-30T07:00:00Z", strings.Repeat("r", 300)+"a", "x", ""), hostileFacts("2026-11-30T07:00:00Z", strings.Repeat("r", 300)+"b", "x", "")
	if DedupKey(a) == DedupKey(b) {
		t.Error("two long resource IDs share a dedup_key")
	}
}

// FuzzEvent: whatever Tableau sends, the event follows the Events API v2 rules.
func FuzzEvent(f *testing.F) {
	f.Add("2026-11-30T07:00:00Z", "ds-1", "Orders", "Login failed")
	f.Add("yesterday at noon", strings.Repeat("r", 300), "a\n- b", strings.Repeat("東京📈é", 300))
	f.Fuzz(func(t *testing.T, createdAt, resource, name, notes string) {
		checkEventsAPIRules(t, hostileFacts(createdAt, resource, name, notes), strings.Join([]string{name, notes, resource, createdAt}, "\x00"))
	})
}

// replacements counts what reads as U+FFFD in s: the character itself and each byte
// that is not UTF-8 (which JSON encoding turns into it).
func replacements(s string) int {
	n := 0
	for _, r := range s {
		if r == utf8.RuneError {
			n++
		}
	}
	return n
}
