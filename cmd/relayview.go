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
	out  io.Writer
	json bool
	// numbers maps an event's identity to the number it was first shown with, so
	// each destination's record of one event shows that one number. Bounded: it
	// starts afresh past maxNumbers (a line then shows its record's own number).
	numbers map[string]string
	events  chan relay.Event
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newRelayView(out io.Writer, format string) *relayView {
	v := &relayView{out: out, json: format == "json", numbers: map[string]string{}, events: make(chan relay.Event, 4096), quit: make(chan struct{}), stopped: make(chan struct{})}
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
	enc.SetEscapeHTML(false) // "<--" reads as it is, as in the log
	write := func(e relay.Event) {
		e.ID = v.number(e)
		if v.json {
			_ = enc.Encode(jsonLine{Time: e.At, Level: level(e.Type), Msg: describe(e), Event: e})
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

// to names a destination other than Slack, for a failure's line.
func to(e relay.Event) string {
	if e.Destination != "" && e.Destination != "slack" {
		return " for " + e.Destination
	}
	return ""
}

// maxNumbers bounds relayView.numbers.
const maxNumbers = 10000

// number is the event number a line shows: the one its event was first shown with.
func (v *relayView) number(e relay.Event) string {
	if e.Identity == "" || e.Type == relay.EvWebhook || e.Type == relay.EvVerify {
		return e.ID
	}
	if n, ok := v.numbers[e.Identity]; ok {
		return n
	}
	if len(v.numbers) >= maxNumbers {
		clear(v.numbers)
	}
	v.numbers[e.Identity] = e.ID
	return e.ID
}

// jsonLine is a JSON line: the log's base keys (time, level, msg), so the journal
// holds one schema, then the event's fields.
type jsonLine struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Msg   string    `json:"msg"`
	relay.Event
}

// level is a line's severity, as the log would say it.
func level(typ string) string {
	switch typ {
	case relay.EvDead:
		return "ERROR"
	case relay.EvRetrying, relay.EvRejected, relay.EvPaused, relay.EvRepost:
		return "WARN"
	}
	return "INFO"
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
		if e.Reason == "muted" {
			return fmt.Sprintf("--> %-26s %s  not posted: the item is muted from Slack (counted; said when unmuted)%s", e.EventType, name, id)
		}
		verb, where := "posted to", e.Channel
		if e.Destination != "" && e.Destination != "slack" {
			verb, where = "sent to", e.Destination
		}
		s := fmt.Sprintf("--> %-26s %s  %s %s in %s%s", e.EventType, name, verb, where, e.Latency.Round(time.Millisecond), id)
		if e.Detail != "" {
			s += "  (" + e.Detail + ")"
		}
		return s
	case relay.EvRetrying:
		return fmt.Sprintf("--> %-26s %s  failed (attempt %d)%s, retrying in %s: %s%s", e.EventType, name, e.Attempt, to(e), e.RetryIn.Round(100*time.Millisecond), e.Detail, id)
	case relay.EvDead:
		return fmt.Sprintf("--> %-26s %s  DEAD LETTER%s: %s%s", e.EventType, name, to(e), e.Detail, id)
	case relay.EvRecovered:
		return fmt.Sprintf("--> %-26s %s  an interrupted post had arrived; not posted again%s", e.EventType, name, id)
	case relay.EvRepost:
		return fmt.Sprintf("--> %-26s %s  could not check whether an interrupted post arrived (%s); posting again%s", e.EventType, name, e.Reason, id)
	case relay.EvAction:
		return "action from Slack: " + e.Detail
	case relay.EvWebhook:
		if e.ID == "" {
			return "webhooks: " + e.Detail
		}
		if e.Site != "" {
			return fmt.Sprintf("webhook %-8s %s  %s (%s) on site %s", e.Detail, e.Name, e.EventType, e.ID, e.Site)
		}
		return fmt.Sprintf("webhook %-8s %s  %s (%s)", e.Detail, e.Name, e.EventType, e.ID)
	case relay.EvVerify:
		mark := "FAIL"
		if e.OK != nil && *e.OK {
			mark = "ok  "
		}
		if e.Site != "" {
			return fmt.Sprintf("verify %s %s on site %s: %s", mark, e.Name, e.Site, e.Detail)
		}
		return fmt.Sprintf("verify %s %s: %s", mark, e.Name, e.Detail)
	case relay.EvStatus, relay.EvPaused, relay.EvResumed:
		return e.Detail
	}
	return ""
}
