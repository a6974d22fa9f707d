// Package refresh keeps the story of one Tableau item's extract refreshes, as the store
// remembers it between events: how many failed in a row, the last success, the message
// a started refresh opened, the last failure's thread, and the data quality warning
// tabhook added. It decides where an outcome is posted and which earlier messages its
// outcome rewrites; the relay does the posting.
package refresh

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/render"
)

// ThreadLife is how long a thread is continued: an outcome a day after its start (or
// a recovery a day after the failure) starts a new message instead.
const ThreadLife = 24 * time.Hour

// Key is the store item key of an item's story.
func Key(f enrich.Facts) string {
	return fmt.Sprintf("refresh/%s/%s/%s", f.Payload.SiteLUID, f.Kind, f.Payload.ResourceLUID)
}

// Thread is a message later events of the item reply to and rewrite.
type Thread struct {
	Channel string       `json:"channel"`
	TS      string       `json:"ts"`
	At      time.Time    `json:"at"`   // when the refresh started, or failed
	Root    enrich.Facts `json:"root"` // what the message shows, to render it again
}

func (t *Thread) continues(channel string, at time.Time) bool {
	return t != nil && t.Channel == channel && !at.Before(t.At) && at.Sub(t.At) < ThreadLife
}

// State is an item's story.
type State struct {
	Streak      int       `json:"streak,omitempty"`      // refreshes failed in a row
	LastSuccess time.Time `json:"last_success,omitzero"` // the last successful refresh
	LastOutcome time.Time `json:"last_outcome,omitzero"` // the latest outcome counted
	Counted     string    `json:"counted,omitempty"`     // identity of the last outcome counted
	Before      int       `json:"before,omitempty"`      // the streak before it
	PrevSuccess time.Time `json:"prev_success,omitzero"` // the last success before it
	Open        *Thread   `json:"open,omitempty"`        // a started refresh's message
	Failed      *Thread   `json:"failed,omitempty"`      // the last failure's thread
	Warning     string    `json:"warning,omitempty"`     // the data quality warning tabhook added
}

// Decode reads a stored state; nil is the empty story.
func Decode(b []byte) (State, error) {
	var s State
	if len(b) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("decode refresh state: %w", err)
	}
	return s, nil
}

// Encode is the stored form; the empty story is nil (nothing kept).
func (s State) Encode() ([]byte, error) {
	if s == (State{}) {
		return nil, nil
	}
	return json.Marshal(s)
}

// Count is what an outcome's message says about the item's history.
type Count struct {
	Streak      int       // failures in a row, this one included (failures)
	Recovered   int       // failures in a row this success ended
	LastSuccess time.Time // the last success before this outcome
}

// Count records an outcome of the event with this identity, once: a retried event
// finds itself counted and gets the same answer. An outcome older than one already
// counted (a delayed event) changes nothing and says nothing of the history.
func (s *State) Count(identity string, failed bool, at time.Time) Count {
	if s.Counted != identity {
		if at.Before(s.LastOutcome) {
			return Count{}
		}
		s.Counted, s.Before, s.PrevSuccess, s.LastOutcome = identity, s.Streak, s.LastSuccess, at
		if failed {
			s.Streak++
		} else {
			s.Streak, s.LastSuccess = 0, at
		}
	}
	if failed {
		return Count{Streak: s.Before + 1, LastSuccess: s.PrevSuccess}
	}
	return Count{Recovered: s.Before, LastSuccess: s.PrevSuccess}
}

// Peek is what Count would answer, without recording anything.
func (s State) Peek(identity string, failed bool, at time.Time) Count {
	return s.Count(identity, failed, at)
}

// ReplyTo is the thread an outcome posted to channel at `at` replies to: one refresh
// is one thread, so an outcome goes into its refresh's opening message; a recovery
// whose start opened none goes into the last failure's thread; nil posts it as a
// message of its own. The thread is a copy: what the post replied to, for Ended,
// whatever the story holds by then.
func (s *State) ReplyTo(channel string, failed bool, recovered int, at time.Time) *Thread {
	if s.Open.continues(channel, at) {
		t := *s.Open
		return &t
	}
	if !failed && recovered > 0 && s.Failed.continues(channel, at) {
		t := *s.Failed
		return &t
	}
	return nil
}

// Thread finds the thread with this message, for a post resumed after a restart.
func (s *State) Thread(ts string) *Thread {
	for _, t := range []*Thread{s.Open, s.Failed} {
		if t != nil && t.TS == ts {
			c := *t
			return &c
		}
	}
	return nil
}

// Opened records the message a started refresh posted — unless an outcome later than
// the start is already known (the start's event was delayed).
func (s *State) Opened(t Thread) {
	if !t.At.Before(s.LastOutcome) {
		s.Open = &t
	}
}

// Rewrite is an earlier message to update with an outcome.
type Rewrite struct {
	Channel, TS string
	Message     render.Message
}

// Outcome is a posted outcome: its event's facts, the message it became (TS), and
// the thread it replied to (Root, nil for none).
type Outcome struct {
	Facts   enrich.Facts
	At      time.Time
	Channel string
	TS      string
	Root    *Thread
}

// Ended records a posted outcome and returns the earlier messages it rewrites: the
// message it replied to — the refresh's opening (failed or succeeded, and how long it
// ran) or, for a recovery, the last failure's (recovered after n failures) — and an
// opening it did not reply to (a recovery posted in the failure's thread). A failure
// becomes the thread a recovery will go to; a success closes the story's threads. An
// outcome older than the latest one counted (a retried event, late) rewrites what it
// replied to and changes nothing else.
func (s *State) Ended(o Outcome) []Rewrite {
	failed := o.Facts.IsFailure()
	var out []Rewrite
	if r := o.Root; r != nil {
		oc := render.Outcome{Event: o.Facts.Event, At: o.At, InThread: true}
		if !failed && o.Facts.Recovered > 0 && r.Root.IsFailure() {
			oc.Recovered = o.Facts.Recovered
		} else {
			oc.Took = o.At.Sub(r.At)
		}
		out = append(out, Rewrite{r.Channel, r.TS, render.Updated(r.Root, oc)})
	}
	if s.LastOutcome.After(o.At) {
		return out
	}
	if s.Open.continues(o.Channel, o.At) && (o.Root == nil || s.Open.TS != o.Root.TS) {
		out = append(out, Rewrite{s.Open.Channel, s.Open.TS, render.Updated(s.Open.Root, render.Outcome{
			Event: o.Facts.Event, At: o.At, Took: o.At.Sub(s.Open.At)})})
	}
	// A recovery told in its own refresh's thread: the failure it ends is marked
	// recovered where it stands, without a second story in its thread.
	if !failed && o.Facts.Recovered > 0 && s.Failed.continues(o.Channel, o.At) && (o.Root == nil || !o.Root.Root.IsFailure()) {
		out = append(out, Rewrite{s.Failed.Channel, s.Failed.TS, render.Updated(s.Failed.Root, render.Outcome{
			Event: o.Facts.Event, At: o.At, Recovered: o.Facts.Recovered})})
	}
	if failed {
		root := Thread{Channel: o.Channel, TS: o.TS, At: o.At, Root: o.Facts}
		if o.Root != nil {
			root.TS = o.Root.TS // a reply: recoveries go to the thread it is in
		}
		s.Failed = &root
	} else {
		s.Failed = nil
	}
	s.Open = nil
	return out
}
