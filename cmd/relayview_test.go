package cmd

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/relay"
)

func TestRelayViewLines(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.Local)
	events := []relay.Event{
		{Type: relay.EvReceived, At: at, ID: "1", EventType: "WorkbookUpdated", Name: "Sales"},
		{Type: relay.EvDelivered, At: at, ID: "1", EventType: "WorkbookUpdated", Name: "Sales", Channel: "#alerts", Latency: 1234 * time.Millisecond},
		{Type: relay.EvRetrying, At: at, ID: "2", EventType: "WorkbookUpdated", Name: "Ops", Attempt: 2, RetryIn: 4 * time.Second, Detail: "slack post message: http_503"},
		{Type: relay.EvDead, At: at, ID: "3", EventType: "WorkbookUpdated", Name: "X", Detail: "not_in_channel"},
		{Type: relay.EvDuplicate, At: at, ID: "1", EventType: "WorkbookUpdated", Name: "Sales"},
		{Type: relay.EvTest, At: at},
		{Type: relay.EvRejected, At: at, Detail: "invalid payload: missing site_luid"},
		{Type: relay.EvWebhook, At: at, ID: "w1", Name: "tabhook-workbook-updated", EventType: "WorkbookUpdated", Detail: "created"},
		{Type: relay.EvVerify, At: at, Name: "tabhook-workbook-updated", Detail: "Tableau timed out"},
		{Type: relay.EvStatus, At: at, Detail: "shutting down"},
	}
	var out bytes.Buffer
	v := newRelayView(&out, "table")
	for _, e := range events {
		v.observe(e)
	}
	v.close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(events), out.String())
	}
	for i, want := range []string{
		"07:00:00  <-- WorkbookUpdated ", "posted to #alerts in 1.234s  [event 1]", "failed (attempt 2), retrying in 4s: slack post message: http_503",
		"DEAD LETTER: not_in_channel", "duplicate delivery; already stored, not posted again", "test delivery from Tableau: answered 200",
		"rejected: invalid payload: missing site_luid", "webhook created  tabhook-workbook-updated  WorkbookUpdated (w1)",
		"verify FAIL tabhook-workbook-updated: Tableau timed out", "shutting down",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}

	out.Reset()
	v = newRelayView(&out, "json")
	v.observe(events[1])
	v.close()
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got["type"] != "delivered" || got["channel"] != "#alerts" {
		t.Fatalf("json line %q: %v", out.String(), err)
	}
	v.observe(events[0]) // after close: dropped, not blocked
}

// TestRelayViewEscapesHostileNames: a resource name with terminal escapes reaches the
// operator's terminal escaped, not acting.
func TestRelayViewEscapesHostileNames(t *testing.T) {
	var out bytes.Buffer
	v := newRelayView(&out, "table")
	v.observe(relay.Event{Type: relay.EvReceived, At: time.Now(), ID: "1", EventType: "WorkbookUpdated", Name: "\x1b[2J\x1b]0;pwned\x07safe\rEVIL"})
	v.close()
	if s := out.String(); strings.ContainsAny(s, "\x1b\x07\r") || !strings.Contains(s, `\x1b[2J`) {
		t.Fatalf("view line %q", s)
	}
}

// TestVerifyLinesHaveOK: in JSON, a failed verify says "ok": false as a passing one
// says "ok": true; other lines carry no "ok".
func TestVerifyLinesHaveOK(t *testing.T) {
	no, yes := false, true
	var out bytes.Buffer
	v := newRelayView(&out, "json")
	v.observe(relay.Event{Type: relay.EvVerify, Name: "a", OK: &no, Detail: "Tableau timed out"})
	v.observe(relay.Event{Type: relay.EvVerify, Name: "b", OK: &yes})
	v.observe(relay.Event{Type: relay.EvReceived, ID: "1"})
	v.close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"ok":false`) || !strings.Contains(lines[1], `"ok":true`) || strings.Contains(lines[2], `"ok"`) {
		t.Fatalf("lines:\n%s", out.String())
	}
}

// TestSummaryRedactsTheStorePassword: the start-up summary, in text and as a log record,
// shows a shared store's URL without its password.
func TestSummaryRedactsTheStorePassword(t *testing.T) {
	cfg := relay.Config{Store: "postgres://relay:db-pa55word@db.example.com:5432/tabhook", Path: "/tableau/8cf0e1d3b6a24c9f71d2"}
	var text, logs bytes.Buffer
	printSummary(&text, cfg, false)
	logSummary(slog.New(slog.NewJSONHandler(&logs, nil)), cfg, false)
	for _, out := range []string{text.String(), logs.String()} {
		if strings.Contains(out, "db-pa55word") || !strings.Contains(out, "relay:xxxxx@db.example.com") {
			t.Errorf("summary: %s", out)
		}
	}
}
