// Package relay receives Tableau's webhook deliveries, stores each durably before
// acknowledging it, and delivers it to Slack: listener → spool → worker → enrich →
// render → send.
package relay

import "time"

// What an Event reports.
const (
	EvReceived  = "received"  // stored; Tableau got its 200
	EvDuplicate = "duplicate" // a delivery of an event already stored
	EvTest      = "test"      // Tableau's empty test delivery
	EvRejected  = "rejected"  // refused: bad payload, wrong site, too large
	EvDelivered = "delivered" // posted to Slack, or sent to a destination
	EvRouted    = "routed"    // handed to its destinations only (its route has no Slack channel)
	EvRetrying  = "retrying"  // failed for now; will be tried again
	EvDead      = "dead"      // failed for good; kept as a dead letter
	EvRecovered = "recovered" // an interrupted post was found in the channel: not posted again
	EvRepost    = "repost"    // an interrupted post could not be checked (no history access): posted again
	EvWebhook   = "webhook"   // a webhook was created, adopted or deleted (run)
	EvVerify    = "verify"    // result of Tableau's test delivery to the listener (run --verify)
	EvStatus    = "status"    // a change of state of the relay itself
	EvPaused    = "paused"    // delivery paused: Slack refused the credential; events kept
	EvResumed   = "resumed"   // delivery resumed: the credential works again
	EvAction    = "action"    // someone acted from a Slack message (--actions)
)

// Event is something the relay did, for the foreground display and JSON lines. The
// relay emits; the command decides how it looks.
type Event struct {
	Type string    `json:"type"`
	At   time.Time `json:"-"`            // a JSON line's "time"
	ID   string    `json:"id,omitempty"` // spool ID, or webhook ID for webhook/verify
	// Identity is the Tableau event's global identity, the same for every
	// destination's record of it: a view numbers an event once by it.
	Identity  string        `json:"identity,omitempty"`
	EventType string        `json:"event,omitempty"`
	Resource  string        `json:"resource,omitempty"`
	Name      string        `json:"name,omitempty"`
	Channel   string        `json:"channel,omitempty"`
	Latency   time.Duration `json:"latency_ns,omitempty"`
	Attempt   int           `json:"attempt,omitempty"`
	RetryIn   time.Duration `json:"retry_in_ns,omitempty"`
	OK        *bool         `json:"ok,omitempty"`     // webhook and verify lines: always set, true or false
	Status    int           `json:"status,omitempty"` // HTTP status of a rejected delivery
	Reason    string        `json:"reason,omitempty"` // short cause of a failure: Slack's code, site_mismatch, waiting
	// Destination is where a delivered, retrying or dead event was going ("slack" or
	// a configured destination's name), or what a paused or resumed line is about
	// ("slack", "tableau").
	Destination string `json:"destination,omitempty"`
	// Site names the site a line is about, in a relay of several sites.
	Site   string `json:"site,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Observer receives events. It must not block for long.
type Observer func(Event)

func (o Observer) emit(e Event) {
	if o == nil {
		return
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	o(e)
}

// ok is a pointer to b, for Event.OK.
func ok(b bool) *bool { return &b }
