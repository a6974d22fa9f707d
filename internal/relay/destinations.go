package relay

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/refresh"
)

// DestinationsByName indexes the configured destinations by name, for routing checks.
func DestinationsByName(list []destination.Config) map[string]destination.Config {
	out := make(map[string]destination.Config, len(list))
	for _, d := range list {
		out[d.Name] = d
	}
	return out
}

// senders builds every destination's sender. The configuration was checked, so a
// failure here is a bug: it is logged and the destination left out (its events then
// dead-letter as unknown_destination, and can be retried once it is fixed).
func senders(list []destination.Config, log *slog.Logger) map[string]destination.Sender {
	out := make(map[string]destination.Sender, len(list))
	for _, d := range list {
		s, err := d.NewSender()
		if err != nil {
			log.Error("destination left out", "destination", d.Name, "err", err)
			continue
		}
		out[d.Name] = s
	}
	return out
}

// handOn stores the event's record for each destination its route names.
func (p *Pipeline) handOn(it *item) error {
	for _, name := range it.to {
		if _, _, err := p.cfg.Store.AcceptFor(it.rec.Payload, name, it.rec.ReceivedAt); err != nil {
			return fmt.Errorf("hand the event to %s: %w", name, err)
		}
	}
	return nil
}

// send delivers a destination's events: as one message where the destination takes a
// digest (Teams) and several are due, else one request each. Events of a destination
// that asked to wait (a 429's Retry-After) are put off without an attempt counted:
// due together when the wait ends.
// count tells a destination's records of a refresh outcome what the item's story says
// (3rd failure in a row, recovered after 2) — read, never written: Slack's record
// counts the outcome, once, and either order gives the same answer. A story that
// cannot be read leaves the count out rather than holding up the send.
func (p *Pipeline) count(_ context.Context, items []*item) {
	for _, it := range liveItems(items) {
		if !it.facts.IsOutcome() {
			continue
		}
		b, err := p.cfg.Store.Item(refresh.Key(it.facts))
		if err != nil {
			p.log().Debug("the item's story could not be read; sent without its count", "event_id", it.rec.ID, "err", err)
			continue
		}
		st, err := refresh.Decode(b)
		if err != nil {
			continue
		}
		c := st.Peek(it.rec.Identity(), it.facts.IsFailure(), it.eventTime())
		it.facts.Streak, it.facts.Recovered, it.facts.LastSuccess = c.Streak, c.Recovered, c.LastSuccess
	}
}

func (p *Pipeline) send(ctx context.Context, items []*item) {
	live := liveItems(items)
	if len(live) == 0 {
		return
	}
	name := live[0].rec.Destination
	sender, ok := p.cfg.Destinations[name]
	if !ok {
		fail(live, &permanentError{fmt.Sprintf("destination %q is not configured (any more)", name), "unknown_destination"})
		return
	}
	if sender.Digests() && len(live) > 1 {
		p.sendTo(ctx, name, sender, live)
		return
	}
	for _, it := range live {
		p.sendTo(ctx, name, sender, []*item{it})
	}
}

func (p *Pipeline) sendTo(ctx context.Context, name string, sender destination.Sender, items []*item) {
	// One send at a time per destination: its answers come in order, and a 429 holds
	// every send after it — none is already on its way.
	unlock := p.lockDestination(name)
	defer unlock()
	if until, ok := p.destHold.Load(name); ok && until.(time.Time).After(time.Now()) {
		for _, it := range items {
			it.later = until.(time.Time)
		}
		return
	}
	events := make([]destination.Event, len(items))
	for i, it := range items {
		events[i] = destination.Event{ID: it.rec.Identity(), Facts: it.facts}
	}
	err := sender.Send(ctx, events)
	if err == nil {
		for _, it := range items {
			it.posted, it.inPost, it.channel = true, len(items), name
		}
		return
	}
	de, ok := destination.AsError(err)
	switch {
	case ok && de.RetryAfter > 0:
		until := time.Now().Add(de.RetryAfter)
		p.destHold.Store(name, until)
		for _, it := range items {
			it.later = until
		}
		// The rest of the batch waits too: the destination said so.
		p.log().Warn("destination asked to wait", "destination", name, "retry_after", de.RetryAfter)
	case ok && de.Permanent:
		code := "refused"
		if de.Status != 0 {
			code = "http_" + strconv.Itoa(de.Status)
		}
		fail(items, &permanentError{de.Error(), code})
	default:
		fail(items, err)
	}
}
