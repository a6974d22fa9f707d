package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/relay"
)

// relayView shows the relay's events: a line each for a person, or one JSON object
// per line for scripts. Logs go to stderr; this goes to stdout. Lines are formatted and
// written by one goroutine, off the listener's path: under load they are written in
// batches, and each is on screen as soon as nothing more is waiting.
type relayView struct {
	out     io.Writer
	json    bool
	events  chan relay.Event
	stopped chan struct{}
	mu      sync.Mutex // guards closed
	closed  bool
}

func newRelayView(out io.Writer, format string) *relayView {
	v := &relayView{out: out, json: format == "json", events: make(chan relay.Event, 4096), stopped: make(chan struct{})}
	go v.loop()
	return v
}

func (v *relayView) observe(e relay.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.events <- e
	}
}

// close writes what is still queued and stops.
func (v *relayView) close() {
	v.mu.Lock()
	if !v.closed {
		v.closed = true
		close(v.events)
	}
	v.mu.Unlock()
	<-v.stopped
}

func (v *relayView) loop() {
	defer close(v.stopped)
	buf := bufio.NewWriter(v.out)
	enc := json.NewEncoder(buf)
	for e := range v.events {
		if v.json {
			_ = enc.Encode(e)
		} else if line := describe(e); line != "" {
			buf.WriteString(e.At.Local().Format("15:04:05"))
			buf.WriteString("  ")
			buf.WriteString(line)
			buf.WriteByte('\n')
		}
		if len(v.events) == 0 {
			_ = buf.Flush()
		}
	}
	_ = buf.Flush()
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
