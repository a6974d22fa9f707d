package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/relay"
)

// relayView shows the relay's events: a line each for a person, or one JSON object
// per line for scripts. Logs go to stderr; this goes to stdout.
type relayView struct {
	mu   sync.Mutex
	out  io.Writer
	json bool
	now  func() time.Time
}

func newRelayView(out io.Writer, format string) *relayView {
	return &relayView{out: out, json: format == "json", now: time.Now}
}

func (v *relayView) observe(e relay.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.json {
		_ = json.NewEncoder(v.out).Encode(e)
		return
	}
	line := describe(e)
	if line == "" {
		return
	}
	fmt.Fprintf(v.out, "%s  %s\n", e.At.Local().Format("15:04:05"), line)
}

func describe(e relay.Event) string {
	id := ""
	if e.ID != "" {
		id = "  [event " + e.ID + "]"
	}
	name := e.Name
	if name == "" {
		name = "-"
	}
	switch e.Type {
	case relay.EvReceived:
		return fmt.Sprintf("<-- %-26s %s%s", e.EventType, name, id)
	case relay.EvDuplicate:
		return fmt.Sprintf("<-- %-26s %s  duplicate delivery; already stored, not posted again%s", e.EventType, name, id)
	case relay.EvTest:
		return "<-- test delivery from Tableau: answered 200"
	case relay.EvRejected:
		return "<-- rejected: " + e.Detail
	case relay.EvDelivered:
		s := fmt.Sprintf("--> %-26s %s  posted to %s in %s%s", e.EventType, name, e.Channel, e.Latency.Round(time.Millisecond), id)
		if e.Detail != "" {
			s += "  (" + e.Detail + ")"
		}
		return s
	case relay.EvRetrying:
		return fmt.Sprintf("--> %-26s %s  failed (attempt %d), retrying in %s: %s%s", e.EventType, name, e.Attempt, e.RetryIn.Round(100*time.Millisecond), e.Detail, id)
	case relay.EvDead:
		return fmt.Sprintf("--> %-26s %s  DEAD LETTER: %s%s", e.EventType, name, e.Detail, id)
	case relay.EvWebhook:
		if e.ID == "" {
			return "webhooks: " + e.Detail
		}
		return fmt.Sprintf("webhook %-8s %s  %s (%s)", e.Detail, e.Name, e.EventType, e.ID)
	case relay.EvVerify:
		mark := "FAIL"
		if e.OK {
			mark = "ok  "
		}
		return fmt.Sprintf("verify %s %s: %s", mark, e.Name, e.Detail)
	case relay.EvStatus:
		return e.Detail
	}
	return ""
}
