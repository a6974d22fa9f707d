package relay_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

var fiveEvents = []string{"WorkbookUpdated", "WorkbookCreated", "DatasourceRefreshFailed", "WorkbookRefreshFailed", "DatasourceUpdated"}

// owned counts the sim's webhooks with this relay's names and URL.
func owned(w *world, url string) int {
	n := 0
	for _, h := range w.sim.Webhooks() {
		if h.URL == url && strings.HasPrefix(h.Name, "tabhook-") {
			n++
		}
	}
	return n
}

// TestStopDuringStartupLeavesNoWebhook: run is stopped at many points of its start-up —
// before, during and after registration, with Tableau answering slowly. After every
// exit no webhook with the relay's names and URL remains, the stop is clean (no error),
// and readiness is never announced before every webhook exists.
func TestStopDuringStartupLeavesNoWebhook(t *testing.T) {
	w := newWorld(t)
	w.sim.SetLatency(40 * time.Millisecond)
	for _, after := range []time.Duration{0, 10, 30, 60, 90, 120, 150, 180, 210, 240, 280, 320, 400, 600, 900} {
		cfg := w.config(t.TempDir(), fiveEvents...)
		url := cfg.PublicURL
		var early, ready atomic.Bool
		cfg.Ready = func(string) {
			ready.Store(true)
			if n := owned(w, url); n != len(fiveEvents) {
				early.Store(true)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx, cfg) }()
		time.Sleep(after * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stop after %dms: %v", after, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("stop after %dms: the relay did not stop", after)
		}
		if n := owned(w, url); n != 0 {
			t.Errorf("stop after %dms: %d webhooks left behind", after, n)
		}
		if early.Load() {
			t.Errorf("stop after %dms: ready before every webhook existed", after)
		}
		t.Logf("stop after %dms: ready=%v", after, ready.Load())
	}
}

// TestRegistrationFailureEndsRun: when a webhook cannot be created, run says so, is
// never ready, removes those it created, and ends with the error.
func TestRegistrationFailureEndsRun(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated", "NoSuchEvent")
	url := cfg.PublicURL
	cfg.Ready = func(string) { t.Error("ready although a webhook is missing") }
	err := relay.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "could not register the webhooks") {
		t.Fatalf("err = %v", err)
	}
	if n := owned(w, url); n != 0 {
		t.Errorf("%d webhooks left behind", n)
	}
}

// TestRunRegistersWhileSlackIsDown: Slack unreachable (not rejecting) at start does not
// hold up the webhooks or readiness; the relay says once that Slack is unreachable,
// stores the events, and posts them when Slack answers, saying so.
func TestRunRegistersWhileSlackIsDown(t *testing.T) {
	w := newWorld(t)
	w.slack.SetOutage(true)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	w.start(cfg) // fails unless ready
	if n := owned(w, cfg.PublicURL); n != 1 {
		t.Fatalf("%d webhooks registered while Slack is down, want 1", n)
	}
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "the event stored", func() bool { return w.count(relay.EvReceived) == 1 })
	w.slack.SetOutage(false)
	eventually(t, "the event posted", func() bool { return w.count(relay.EvDelivered) == 1 })
	said := func() (down, back int) {
		for _, e := range w.find(relay.EvStatus) {
			down += strings.Count(e.Detail, "Slack is not reachable")
			back += strings.Count(e.Detail, "Slack answers again")
		}
		return down, back
	}
	eventually(t, "Slack's return said", func() bool { _, back := said(); return back > 0 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	down, back := said()
	if down != 1 || back != 1 {
		t.Errorf("Slack unreachable said %d times, back %d times; want once each", down, back)
	}
}
