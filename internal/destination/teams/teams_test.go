package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
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

func facts(event, name string) enrich.Facts {
	f := enrich.Base(payload.Payload{Resource: "WORKBOOK", EventType: event, ResourceName: name, SiteLUID: "site-1", ResourceLUID: "3cc6cd06", CreatedAt: "2026-11-30T07:00:00Z"})
	f.Project, f.Owner, f.URL, f.Tags = "default", "Bob Smith", "https://tableau.example.com/#/workbooks/2", []string{"Safari", "Sample"}
	return f
}

func failed() enrich.Facts {
	f := facts("WorkbookRefreshFailed", "Superstore")
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	f.Failure = &enrich.Failure{JobID: "bb1aab79", Started: at.Add(-134 * time.Second), Ended: at,
		Error: "java.lang.RuntimeException: [Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Login failed for user.\nIntegrated authentication failed."}
	f.Streak = 3
	return f
}

func ev(f enrich.Facts) destination.Event { return destination.Event{ID: "id-" + f.Name, Facts: f} }

func TestGolden(t *testing.T) {
	hostile := facts("WorkbookUpdated", "[Sign in again](https://evil.example) **urgent**")
	hostile.Owner = "_x_ <at>Everyone</at>"
	shapes := map[string][]destination.Event{
		"failure":  {ev(failed())},
		"updated":  {ev(facts("WorkbookUpdated", "SafariSample"))},
		"escaping": {ev(hostile)},
		"digest":   {ev(facts("WorkbookUpdated", "A")), ev(failed()), ev(hostile)},
	}
	for name, events := range shapes {
		t.Run(name, func(t *testing.T) {
			b, err := Payload(events)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, append(pretty.Bytes(), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/teams -update)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(pretty.String()) {
				t.Errorf("%s differs from the golden file:\n%s", name, pretty.String())
			}
		})
	}
}

// TestCardShape: Workflows take a message with one Adaptive Card of version 1.4 at most.
func TestCardShape(t *testing.T) {
	b, err := Payload([]destination.Event{ev(failed())})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		m.Attachments[0].Content.Type != "AdaptiveCard" || m.Attachments[0].Content.Version != "1.4" {
		t.Fatalf("shape: %+v", m)
	}
}

// TestHostileTextMakesNoLink: names are escaped, never a markdown link or emphasis.
func TestHostileTextMakesNoLink(t *testing.T) {
	f := facts("WorkbookUpdated", "[Sign in](https://evil.example)")
	f.URL = ""
	b, _ := Payload([]destination.Event{ev(f)})
	if bytes.Contains(b, []byte("[Sign in](https://evil.example)")) {
		t.Fatalf("an unescaped link from a name: %s", b)
	}
}

// TestHeavyCardsAreCut: a card stays under 28 KB whatever the error text and however
// many events, and still says what happened.
func TestHeavyCardsAreCut(t *testing.T) {
	f := failed()
	f.Failure.Error = strings.Repeat("Ω very long error ", 5000)
	f.Name = strings.Repeat("n", 3000)
	b, err := Payload([]destination.Event{ev(f)})
	if err != nil || len(b) > MaxBytes || !bytes.Contains(b, []byte("Workbook extract refresh failed")) {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	var many []destination.Event
	for i := range 500 {
		g := facts("WorkbookUpdated", fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 400)))
		many = append(many, ev(g))
	}
	b, err = Payload(many)
	if err != nil || len(b) > MaxBytes || !bytes.Contains(b, []byte("more; ")) {
		t.Fatalf("digest of 500: %d bytes, %v", len(b), err)
	}
}

func TestSend(t *testing.T) {
	r := destfake.NewTeams()
	defer r.Close()
	s := New("ops-teams", r.URL(), nil)
	ctx := context.Background()
	if err := s.Send(ctx, []destination.Event{ev(failed())}); err != nil {
		t.Fatal(err)
	}
	r.Script(destfake.Answer{Status: 429, RetryAfter: 3}, destfake.Answer{Status: 502}, destfake.Answer{Status: 400})
	err := s.Send(ctx, []destination.Event{ev(failed())})
	if de, ok := destination.AsError(err); !ok || de.RetryAfter != 3*time.Second || de.Permanent {
		t.Errorf("429: %v", err)
	}
	err = s.Send(ctx, []destination.Event{ev(failed())})
	if de, ok := destination.AsError(err); !ok || de.Permanent || de.Status != 502 {
		t.Errorf("502: %v", err)
	}
	err = s.Send(ctx, []destination.Event{ev(failed())})
	if de, ok := destination.AsError(err); !ok || !de.Permanent {
		t.Errorf("400: %v", err)
	}
	r.Close()
	err = s.Send(ctx, []destination.Event{ev(failed())})
	if err == nil || strings.Contains(err.Error(), "FAKE-teams-signature") {
		t.Errorf("unreachable: %v", err)
	}
}

// FuzzEscape: whatever a publisher names an item, every markdown character of it is
// escaped in the card — no link, emphasis or list comes from a name.
func FuzzEscape(f *testing.F) {
	f.Add("[Sign in](https://evil.example)")
	f.Add(`**bold** _x_ \[ok\] - item`)
	f.Fuzz(func(t *testing.T, s string) {
		out := escape(s)
		backslashes := 0
		for _, r := range out {
			if strings.ContainsRune(`\*_[]()`+"`"+`~#><|`, r) && r != '\\' && backslashes%2 == 0 {
				t.Fatalf("escape(%q) = %q leaves %q unescaped", s, out, r)
			}
			if r == '\\' {
				backslashes++
			} else {
				backslashes = 0
			}
		}
	})
}
