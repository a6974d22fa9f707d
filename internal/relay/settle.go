package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
)

// settle records each event's outcome: delivered (a message stands for it), put off
// (a held channel), retried after a backoff, or dead-lettered (logged once).
//
// A refusal of the credential itself (a revoked token) is not the event's fault: the
// event is left as it was, pending and due, and delivery pauses until the credential
// works again (ServiceConfig.Refused).
func (p *Pipeline) settle(ctx context.Context, items []*item, began time.Time) {
	var delivered []*item
	var refusal error
	var failures []Event
	var failErrs []error
	var failed []*item
	for _, it := range items {
		switch {
		case it.posted:
			delivered = append(delivered, it)
		case errors.Is(it.err, store.ErrLeaseLost):
			p.leaseLost(it)
		case it.err != nil && refusedCredential(it.err):
			refusal = it.err
		case it.err != nil && it.rec.Destination == "" && channelRefusal(it.err) && time.Since(it.rec.ReceivedAt) < p.cfg.ChannelDeadAfter:
			p.waitForChannel(ctx, it)
		case it.err != nil:
			if unavailable(it.err) {
				p.down.Store(it.rec.Destination, true)
			}
			failed = append(failed, it)
		case !it.later.IsZero():
			p.putOff(it)
		}
	}
	if len(delivered) > 0 {
		p.delivered(delivered)
		p.answersAgain(delivered)
	}
	for i, ev := range p.failed(ctx, failed) {
		if ev.Type != "" {
			failures, failErrs = append(failures, ev), append(failErrs, failed[i].err)
		}
	}
	p.sayFailures(failures, failErrs)
	if refusal != nil && p.cfg.Refused != nil {
		p.cfg.Refused(refusal, began)
	}
}

func (p *Pipeline) delivered(items []*item) {
	now := time.Now()
	notes := map[uint64]string{}
	var todo []*item
	for _, it := range items {
		notes[it.rec.ID] = it.rec.LastError
		if it.muted {
			notes[it.rec.ID] = "muted: held back, not posted"
		}
		if !it.settled {
			todo = append(todo, it)
		}
	}
	var err error
	if len(todo) > 0 {
		err = p.cfg.Store.UpdateMany(ids(todo), fence(todo, func(r *store.Record) error {
			r.State, r.DeliveredAt, r.LastError, r.Attempts = store.Delivered, now, notes[r.ID], r.Attempts+1
			return nil
		}))
	}
	if errors.Is(err, store.ErrLeaseLost) {
		for _, it := range todo {
			p.leaseLost(it)
		}
		return
	}
	if err != nil {
		// The messages are posted and their timestamps recorded: the next attempt
		// finds them and only marks them delivered. Not at once: that would spin.
		p.cfg.Store.Hold(now.Add(p.cfg.MinBackoff), ids(todo)...)
		p.log().Error("record delivery", "err", err)
		return
	}
	for _, it := range items {
		if it.rec.Destination == "" && !it.noSlack && !it.muted {
			p.channelWorks(it.channel)
		}
		detail := it.facts.Degraded
		reason := ""
		if it.muted {
			detail, reason = "held back: the item is muted", "muted"
		}
		if it.inPost > 1 {
			detail = fmt.Sprintf("in a digest of %d", it.inPost)
		}
		typ := EvDelivered
		if it.noSlack {
			typ, detail = EvRouted, strings.Join(it.to, ", ")
		}
		channel := it.channel
		if it.rec.Destination != "" {
			channel = "" // a destination is named once, as the destination
		}
		p.cfg.Observe.emit(Event{Type: typ, ID: it.rec.IDString(), Identity: it.rec.Identity(), EventType: it.facts.Event, Resource: it.rec.Payload.Resource, Name: it.facts.Name,
			Channel: channel, Destination: destinationOf(it.rec), Latency: now.Sub(it.rec.ReceivedAt), Attempt: it.rec.Attempts + 1, Detail: detail, Reason: reason})
		p.log().Debug("event delivered", "event_id", it.rec.ID, "event", it.facts.Event, "channel", it.rec.Channel, "ts", it.rec.MessageTS, "latency", now.Sub(it.rec.ReceivedAt))
	}
}

// unavailable: the send failed because the service did not answer or failed itself
// (no answer, 5xx) — an outage, not a refusal of this event.
func unavailable(err error) bool {
	if de, ok := destination.AsError(err); ok {
		return !de.Permanent && (de.Status == 0 || de.Status >= 500)
	}
	code := slackout.Code(err)
	return code == "network" || strings.HasPrefix(code, "http_5")
}

// answersAgain: a destination that was unavailable delivered again, so its events
// waiting on a retry are made due at once — the backlog goes out now, as a few
// digests, instead of as each event's backoff ends.
func (p *Pipeline) answersAgain(delivered []*item) {
	for _, it := range delivered {
		if it.muted || it.noSlack {
			continue
		}
		dest := it.rec.Destination
		if _, was := p.down.LoadAndDelete(dest); !was {
			continue
		}
		n, err := p.cfg.Store.Expedite(dest, time.Now())
		switch {
		case err != nil:
			p.log().Warn("could not bring the waiting retries forward", "destination", destinationOf(it.rec), "err", err)
		case n > 0:
			p.log().Info("answering again: waiting events are due now", "destination", destinationOf(it.rec), "count", n)
		}
	}
}

// fence makes a write of claimed records go through only while each still has the
// claim it was read under (store.Record's Lease, compared inside the store's
// transaction): a holder frozen past its lease, whose event another took over, writes
// nothing and sends nothing more.
func fence(items []*item, fn func(*store.Record) error) func(*store.Record) error {
	held := make(map[uint64]uint64, len(items))
	for _, it := range items {
		held[it.rec.ID] = it.rec.Lease
	}
	return func(r *store.Record) error {
		if lease, ok := held[r.ID]; ok && lease != 0 && r.Lease != lease {
			return store.ErrLeaseLost
		}
		return fn(r)
	}
}

// leaseLost drops an event whose claim another holder took: that holder delivers it.
func (p *Pipeline) leaseLost(it *item) {
	if p.cfg.LeaseLost != nil {
		p.cfg.LeaseLost()
	}
	p.log().Warn("an event's claim was taken over while this replica held it (a pause past its lease): dropped here, the other holder delivers it", "event_id", it.rec.ID, "event", it.rec.Payload.EventType)
}

// putOff makes the event due again when its channel may be posted to, without
// counting an attempt.
func (p *Pipeline) putOff(it *item) {
	if _, err := p.cfg.Store.Update(it.rec.ID, fence([]*item{it}, func(r *store.Record) error { r.NextTry = it.later; return nil })); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			return
		}
		p.cfg.Store.Hold(it.later, it.rec.ID)
		p.log().Error("put off an event", "event_id", it.rec.ID, "err", err)
	}
}

// failed records failed attempts: a permanent failure makes a dead letter, logged
// once; anything else is retried after a backoff, or exactly when Slack said to. It
// returns each one's event line (zero for one whose claim another holder has now).
func (p *Pipeline) failed(ctx context.Context, items []*item) []Event {
	if ctx.Err() != nil || len(items) == 0 {
		return nil // stopping: the events stay pending for the next start
	}
	byID := make(map[uint64]attempt, len(items))
	for _, it := range items {
		byID[it.rec.ID] = p.attemptOf(it)
	}
	write := func(r *store.Record) error {
		a := byID[r.ID]
		r.Attempts, r.LastError = a.attempts, a.err.Error()
		if a.permanent {
			r.State, r.DeadReason = store.Dead, a.err.Error()
		} else {
			r.NextTry = a.next
		}
		return nil
	}
	// One write for the batch's failures (a digest's fifty, a backlog's thousand); should
	// one event's claim have been taken over, each is written alone, so the others'
	// outcomes are still recorded.
	errs := make([]error, len(items))
	err := p.cfg.Store.UpdateMany(ids(items), fence(items, write))
	if errors.Is(err, store.ErrLeaseLost) {
		for i, it := range items {
			_, errs[i] = p.cfg.Store.Update(it.rec.ID, fence([]*item{it}, write))
		}
	} else {
		for i := range errs {
			errs[i] = err
		}
	}
	evs := make([]Event, len(items))
	for i, it := range items {
		evs[i] = p.recordedFailure(it, byID[it.rec.ID], errs[i])
	}
	return evs
}

// attempt is how a failed attempt is recorded: counted or not, retried when, or dead.
type attempt struct {
	err       error
	attempts  int
	next      time.Time
	permanent bool
}

func (p *Pipeline) attemptOf(it *item) attempt {
	err := it.err
	var pe *permanentError
	a := attempt{err: err, permanent: errors.As(err, &pe) || slackout.IsPermanent(err), attempts: it.rec.Attempts}
	var we *waitError
	// A wait the receiver asked for (429's Retry-After) is not an attempt that failed.
	if !errors.As(err, &we) && slackout.RetryAfter(err) <= 0 {
		a.attempts++
	}
	a.next = time.Now().Add(backoff(p.cfg.MinBackoff, p.cfg.MaxBackoff, max(a.attempts, 1)))
	if ra := slackout.RetryAfter(err); ra > 0 {
		// Exactly when Slack said, the same instant for every event of the channel:
		// they are due together and go out as one digest.
		a.next = p.cfg.Slack.HeldUntil(it.chID)
		if !a.next.After(time.Now()) {
			a.next = time.Now().Add(ra)
		}
	}
	return a
}

// recordedFailure is the event line of a failed attempt whose record was written
// (uerr nil) or not; the zero Event when another holder has the event now.
func (p *Pipeline) recordedFailure(it *item, a attempt, uerr error) Event {
	rec := it.rec
	if errors.Is(uerr, store.ErrLeaseLost) {
		return Event{} // another holder has it now: its outcome is theirs
	}
	if uerr != nil {
		// Not retried at once (that would spin): held as the backoff says, in memory.
		p.cfg.Store.Hold(a.next, rec.ID)
		p.log().Error("record failed attempt", "event_id", rec.ID, "err", uerr)
	}
	channel := it.channel
	if rec.Destination != "" {
		channel = ""
	}
	ev := Event{ID: rec.IDString(), Identity: rec.Identity(), EventType: rec.Payload.EventType, Resource: rec.Payload.Resource, Name: rec.Payload.ResourceName, Channel: channel,
		Destination: destinationOf(rec), Attempt: a.attempts, Reason: reason(a.err), Detail: a.err.Error()}
	if a.permanent {
		ev.Type = EvDead
		p.log().Error("event dead-lettered", "event_id", rec.ID, "event", rec.Payload.EventType, "reason", a.err)
		return ev
	}
	wait := time.Until(a.next)
	ev.Type, ev.RetryIn = EvRetrying, wait
	// The relay's event line says it (stdout, the journal): the log repeats it only
	// when asked for detail.
	p.log().Debug("delivery failed; will retry", "event_id", rec.ID, "event", rec.Payload.EventType, "attempt", a.attempts, "retry_in", wait, "err", a.err)
	return ev
}

// sayFailures emits the failed attempts: one line per post that failed — a digest's
// events share their post's error, and a 429 on a digest of 50 is one line, not 50 —
// and one line per dead letter (each is a record to look at).
func (p *Pipeline) sayFailures(events []Event, errs []error) {
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[i].Type == EvRetrying && events[j].Type == EvRetrying &&
			events[j].Destination == events[i].Destination && errs[j].Error() == errs[i].Error() {
			j++
		}
		ev := events[i]
		if n := j - i; n > 1 {
			ev.Name = fmt.Sprintf("%s and %d more", ev.Name, n-1)
			ev.Detail = fmt.Sprintf("a post standing for %d events: %s", n, ev.Detail)
		}
		p.cfg.Observe.emit(ev)
		i = j
	}
}

// refusedCredential: Slack refused the token, or Tableau the PAT.
func refusedCredential(err error) bool {
	var ce *credentialsError
	return slackout.WorkspaceRefusal(err) || errors.As(err, &ce)
}

// reason is a failure's short cause, for metrics and scripts.
func reason(err error) string {
	var pe *permanentError
	var we *waitError
	switch {
	case errors.As(err, &pe):
		return pe.code
	case errors.As(err, &we):
		return "waiting_for_tableau"
	case slackout.Code(err) != "":
		return slackout.Code(err)
	}
	if de, ok := destination.AsError(err); ok {
		if de.Status == 0 {
			return "no_answer"
		}
		return "http_" + strconv.Itoa(de.Status)
	}
	return "other"
}

// destinationOf names where a record goes, for events and metrics.
func destinationOf(r store.Record) string {
	if r.Destination == "" {
		return "slack"
	}
	return r.Destination
}
