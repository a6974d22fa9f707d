package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/destfake"
	"github.com/tabhook/tabhook/internal/payload"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func failed() enrich.Facts {
	f := enrich.Base(payload.Payload{Resource: "WORKBOOK", EventType: "WorkbookRefreshFailed", ResourceName: "Superstore", SiteLUID: "site-1", ResourceLUID: "wb-1", CreatedAt: "2026-11-30T07:00:00Z"})
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	f.Name, f.Project, f.Owner, f.OwnerEmail, f.URL, f.Tags = "Superstore", "default", "Bob Smith", "bob@example.com", "https://tableau.example.com/#/workbooks/2", []string{"Sample"}
	f.Failure = &enrich.Failure{JobID: "bb1aab79", Error: "java.lang.RuntimeException: [SQL Server]Login failed for user.", Started: at.Add(-134 * time.Second), Ended: at}
	f.Streak, f.LastSuccess = 2, at.Add(-26*time.Hour)
	return f
}

func TestGoldenBody(t *testing.T) {
	b, err := json.MarshalIndent(NewBody("0123456789abcdef0123456789abcdef", failed()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "body.json")
	if *update {
		_ = os.WriteFile(path, append(b, '\n'), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(bytes.TrimSpace(want), b) {
		t.Errorf("the body differs from %s (go test ./internal/stdwebhook -update):\n%s", path, b)
	}
}

// TestSignedAndStableID: a receiver verifies the signature with the reference library,
// and a retried event carries the same webhook-id.
func TestSignedAndStableID(t *testing.T) {
	r := destfake.NewWebhook()
	defer r.Close()
	s, err := New("audit", r.URL(), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Script(destfake.Answer{Status: 503})
	ev := []destination.Event{{ID: "0123456789abcdef0123456789abcdef", Facts: failed()}}
	if de, ok := destination.AsError(s.Send(context.Background(), ev)); !ok || de.Permanent {
		t.Fatalf("503: %+v", de)
	}
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	reqs := r.Requests()
	wh, _ := standardwebhooks.NewWebhook(secret)
	for _, q := range reqs {
		if err := wh.Verify(q.Body, q.Header); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if id := q.Header.Get("webhook-id"); id != "evt_0123456789abcdef0123456789abcdef" {
			t.Fatalf("webhook-id %q", id)
		}
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
	if other.Verify(reqs[0].Body, reqs[0].Header) == nil {
		t.Fatal("another secret verified the signature")
	}
	r.Script(destfake.Answer{Status: 410})
	if de, ok := destination.AsError(s.Send(context.Background(), ev)); !ok || !de.Permanent {
		t.Fatalf("410: %+v", de)
	}
}
