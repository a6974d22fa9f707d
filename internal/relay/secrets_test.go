package relay_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverLogged runs the relay through its error paths at debug level — Tableau
// and Slack outages, a 429, a session expiry, a paused channel, a dead letter, a lost answer, rejected
// credentials — and checks that neither the PAT secret nor the Slack token appears in
// any log line, observer event or returned error.
func TestSecretsNeverLogged(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen []string
	var mu sync.Mutex
	record := func(e relay.Event) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%+v", e))
		mu.Unlock()
	}

	w := newWorld(t)
	w.tableau, _ = tableau.New(tableau.Config{Server: w.tableau.Server(), PATName: patName, PATSecret: patSecret, Logger: logger})
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Logger = logger
	inner := cfg.Observe
	cfg.Observe = func(e relay.Event) { record(e); inner(e) }
	w.start(cfg)

	fire := func(name string) {
		w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: name, CreatedAt: time.Now().Add(time.Duration(len(name)) * time.Hour)})
	}
	w.slack.SetOutage(true)
	fire("outage")
	eventually(t, "a retry", func() bool { return w.count(relay.EvRetrying) > 0 })
	w.slack.SetOutage(false)
	w.sim.SetOutage(true)
	fire("tableau-down")
	w.sim.SetOutage(false)
	w.sim.ExpireSessions()
	fire("expired-session")
	w.slack.RateLimit("chat.postMessage", 1, 1)
	fire("rate-limited-x")
	w.slack.DropPostResponses(1)
	fire("dropped-answer-xx")
	eventually(t, "5 deliveries", func() bool { return w.count(relay.EvDelivered) == 5 })
	w.slack.FailChannel("C0ALERTS", "not_in_channel") // the channel pauses, said once
	fire("paused-channel-xxxxxx")
	eventually(t, "the channel paused", func() bool { return w.count(relay.EvPaused) == 1 })
	w.slack.FailChannel("C0ALERTS", "msg_too_long")
	fire("dead-letter-xxxxxx")
	eventually(t, "a dead letter", func() bool { return w.count(relay.EvDead) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	var errs []string
	bad, _ := tableau.New(tableau.Config{Server: w.tableau.Server(), PATName: patName, PATSecret: patSecret + "-wrong", Logger: logger})
	c := w.config(t.TempDir(), "WorkbookUpdated")
	c.Tableau, c.Logger = bad, logger
	errs = append(errs, fmt.Sprint(relay.Run(context.Background(), c)))
	c = w.config(t.TempDir(), "WorkbookUpdated")
	c.Slack, c.Logger = slackout.New(slackout.Options{Token: slackToken + "-wrong", APIURL: w.slack.APIURL()}), logger
	errs = append(errs, fmt.Sprint(relay.Run(context.Background(), c)))

	all := logs.String() + strings.Join(seen, "\n") + strings.Join(errs, "\n")
	if !strings.Contains(all, "level=DEBUG") || !strings.Contains(all, "401001") || !strings.Contains(all, "invalid_auth") {
		t.Fatalf("the error paths were not exercised:\n%s", all)
	}
	for _, secret := range []string{patSecret, slackToken} {
		if strings.Contains(all, secret) {
			t.Errorf("%q leaked:\n%s", secret, all)
		}
	}
}
