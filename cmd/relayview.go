package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/cli"
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
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newRelayView(out io.Writer, format string) *relayView {
	v := &relayView{out: out, json: format == "json", events: make(chan relay.Event, 4096), quit: make(chan struct{}), stopped: make(chan struct{})}
	go v.loop()
	return v
}

func (v *relayView) observe(e relay.Event) {
	select {
	case v.events <- e:
	case <-v.quit: // closed: the process is ending
	}
}

// close writes what is still queued and stops.
func (v *relayView) close() {
	v.once.Do(func() { close(v.quit) })
	<-v.stopped
}

func (v *relayView) loop() {
	defer close(v.stopped)
	buf := bufio.NewWriter(v.out)
	enc := json.NewEncoder(buf)
	write := func(e relay.Event) {
		if v.json {
			_ = enc.Encode(e)
		} else if line := cli.Printable(describe(e)); line != "" {
			buf.WriteString(e.At.Local().Format("15:04:05"))
			buf.WriteString("  ")
			buf.WriteString(line)
			buf.WriteByte('\n')
		}
	}
	for {
		select {
		case e := <-v.events:
			write(e)
			if len(v.events) == 0 {
				_ = buf.Flush()
			}
		case <-v.quit:
			for {
				select {
				case e := <-v.events:
					write(e)
				default:
					_ = buf.Flush()
					return
				}
			}
		}
	}
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
	case relay.EvRouted:
		return fmt.Sprintf("--> %-26s %s  handed to %s (no Slack channel)%s", e.EventType, name, e.Detail, id)
	case relay.EvDelivered:
		verb := "posted to"
		if e.Destination != "" && e.Destination != "slack" {
			verb = "sent to"
		}
		s := fmt.Sprintf("--> %-26s %s  %s %s in %s%s", e.EventType, name, verb, e.Channel, e.Latency.Round(time.Millisecond), id)
		if e.Detail != "" {
			s += "  (" + e.Detail + ")"
		}
		return s
	case relay.EvRetrying:
		return fmt.Sprintf("--> %-26s %s  failed (attempt %d), retrying in %s: %s%s", e.EventType, name, e.Attempt, e.RetryIn.Round(100*time.Millisecond), e.Detail, id)
	case relay.EvDead:
		return fmt.Sprintf("--> %-26s %s  DEAD LETTER: %s%s", e.EventType, name, e.Detail, id)
	case relay.EvRecovered:
		return fmt.Sprintf("--> %-26s %s  an interrupted post had arrived; not posted again%s", e.EventType, name, id)
	case relay.EvRepost:
		return fmt.Sprintf("--> %-26s %s  could not check whether an interrupted post arrived (%s); posting again%s", e.EventType, name, e.Reason, id)
	case relay.EvWebhook:
		if e.ID == "" {
			return "webhooks: " + e.Detail
		}
		return fmt.Sprintf("webhook %-8s %s  %s (%s)", e.Detail, e.Name, e.EventType, e.ID)
	case relay.EvVerify:
		mark := "FAIL"
		if e.OK != nil && *e.OK {
			mark = "ok  "
		}
		return fmt.Sprintf("verify %s %s: %s", mark, e.Name, e.Detail)
	case relay.EvStatus, relay.EvPaused, relay.EvResumed:
		return e.Detail
	}
	return ""
}
