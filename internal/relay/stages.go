package relay

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
)

// waitError marks a delivery that cannot proceed yet (Tableau not signed in): retried,
// not counted against the event.
type waitError struct{ reason string }

func (e *waitError) Error() string { return e.reason }

// credentialsError is a refusal of a credential (Tableau's PAT): a property of the
// set-up, not the event, so delivery pauses rather than failing events.
type credentialsError struct {
	destination string
	site        *site           // Tableau's: the site whose credential (nil: event's)
	event       payload.Payload // the event whose lookup was refused
	err         error
}

func (e *credentialsError) Error() string { return e.destination + ": " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// permanentError is a failure that no retry can cure.
type permanentError struct {
	reason string
	code   string // short, for metrics
}

func (e *permanentError) Error() string { return e.reason }

// checkSite fails events of another site for good, and holds every event while the
// site is not known yet (Tableau has not answered a sign-in).
func (p *Pipeline) checkSite(_ context.Context, items []*item) {
	for _, it := range liveItems(items) {
		c := p.cfg.Sites(it.rec.Payload)
		switch {
		case !c.Served:
			it.err = &permanentError{fmt.Sprintf("site_luid %s is not a site this relay serves", it.rec.Payload.SiteLUID), "site_mismatch"}
		case c.Paused:
			it.later = time.Now().Add(sitePauseHold)
		case c.Wait != "":
			it.err = &waitError{c.Wait}
		}
	}
}

// enrich looks the events up in Tableau, a few at a time (the enricher's cache makes
// repeated items cheap). Lookups that fail leave the payload's facts, said to be so.
func (p *Pipeline) enrich(ctx context.Context, items []*item) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, it := range liveItems(items) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			it.facts = p.cfg.Enricher.Enrich(ctx, it.rec.Payload)
			if it.facts.At.IsZero() {
				it.facts.At = it.rec.ReceivedAt.UTC() // created_at was not a time: said in AtNote
			}
			if it.facts.Rejected != nil {
				// Not the event's fault: held until the PAT works, then enriched fully.
				it.err = &credentialsError{destination: "tableau", event: it.rec.Payload, err: it.facts.Rejected}
				return
			}
			if it.facts.Degraded != "" {
				p.degraded(it)
			}
		}()
	}
	wg.Wait()
}

// degraded counts an event posted with the payload's facts only, and says so once per
// item and reason: a deleted workbook's thousand events are one line, not a thousand.
func (p *Pipeline) degraded(it *item) {
	if p.cfg.Degraded != nil {
		p.cfg.Degraded(it.facts.Degraded)
	}
	key := it.rec.Payload.ResourceLUID + "\x00" + it.facts.Degraded
	if p.saidDegraded.First(key, struct{}{}) {
		p.log().Warn("posting the payload's facts only (said once per item)", "event_id", it.rec.ID, "event", it.facts.Event, "resource_luid", it.rec.Payload.ResourceLUID, "why", it.facts.Degraded)
	}
}

// route picks each event's channel and destinations by the routing. The event is
// handed to its destinations first — a record of its own for each, stored before
// anything else happens (a retry hands it on again, and the store keeps one) — then
// the channel is resolved to an ID; an event whose route has no channel is done.
func (p *Pipeline) route(ctx context.Context, items []*item) {
	routing := p.currentRouting()
	for _, it := range liveItems(items) {
		it.channel, it.to = routing.Route(it.facts)
		if it.err = p.handOn(it); it.err != nil {
			continue
		}
		if it.channel == "" {
			it.noSlack, it.posted = true, true
			continue
		}
		if p.slackPaused.Load() {
			continue // Slack refuses the token: its part waits (waitForSlack)
		}
		it.chID, it.err = p.cfg.Slack.ChannelID(ctx, it.channel)
	}
}

// hold puts off the events of a channel Slack asked to wait for (a 429's
// Retry-After): they are due together when the wait ends, so a channel's backlog
// goes out as one digest instead of one rate-limited message each.
func (p *Pipeline) hold(_ context.Context, items []*item) {
	now := time.Now()
	for _, it := range liveItems(items) {
		if it.rec.PostStarted || it.rec.MessageTS != "" {
			continue // resuming a post: never part of a digest
		}
		if until := p.cfg.Slack.HeldUntil(it.chID); until.After(now) {
			it.later = until
		}
	}
}

// post sends each channel's message: an event resuming an interrupted post alone (its
// history checked first), a lone event as its own message, several as one digest.
func (p *Pipeline) post(ctx context.Context, items []*item) {
	var order []string
	groups := map[string][]*item{}
	for _, it := range liveItems(items) {
		if _, ok := groups[it.chID]; !ok {
			order = append(order, it.chID)
		}
		groups[it.chID] = append(groups[it.chID], it)
	}
	for _, ch := range order {
		var fresh []*item
		var keys []string
		digests := map[string][]*item{} // interrupted digests of a backlog, by key
		for _, it := range groups[ch] {
			switch {
			case it.rec.MessageTS != "":
				it.posted, it.inPost = true, 1 // posted by an earlier attempt
			case it.rec.PostStarted && it.rec.DigestKey != "":
				if _, ok := digests[it.rec.DigestKey]; !ok {
					keys = append(keys, it.rec.DigestKey)
				}
				digests[it.rec.DigestKey] = append(digests[it.rec.DigestKey], it)
			case it.rec.PostStarted, it.threadTS != "":
				p.postOne(ctx, it)
			default:
				fresh = append(fresh, it)
			}
		}
		for _, key := range keys {
			p.resumeDigest(ctx, ch, key, digests[key])
		}
		switch {
		case len(fresh) == 1:
			p.postOne(ctx, fresh[0])
		case len(fresh) > 1:
			p.postDigest(ctx, ch, fresh, "")
		}
	}
}

// maxListed is how many events a digest's metadata names one by one (the lost-answer
// check matches each); a larger digest — a backlog — carries one key for all of them
// instead, kept in each event's record with the post-may-happen mark.
const maxListed = 50

// digestKey names a backlog's digest: its first event's identity and its size, unique
// among the messages a channel's history search can see.
func digestKey(items []*item) string {
	return fmt.Sprintf("digest-%s-%d", items[0].rec.Identity(), len(items))
}

// resumeDigest finishes a backlog's digest whose post was sent but whose answer was
// lost: the channel is searched once for its key; found, every event in it is
// recorded as posted; not found (or the search cannot run), it is posted again under
// the same key.
func (p *Pipeline) resumeDigest(ctx context.Context, ch, key string, items []*item) {
	since := items[0].rec.SentAt
	if since.IsZero() {
		since = items[0].rec.ReceivedAt
	}
	ts, found, err := p.cfg.Slack.FindPosted(ctx, ch, key, since.Add(-historySkew))
	switch {
	case err != nil && (slackout.IsPermanent(err) || slackout.Code(err) == "ratelimited"):
		p.log().Warn("cannot check whether an interrupted digest arrived; posting it again", "count", len(items), "channel", ch, "err", err)
	case err != nil:
		fail(items, err)
		return
	case found:
		p.log().Info("an interrupted digest had arrived; not posting it again", "count", len(items), "channel", ch, "ts", ts)
		if err := p.recordDigest(items, ts); err != nil {
			fail(items, err)
		}
		return
	}
	p.postDigest(ctx, ch, items, key)
}

// historySkew widens the channel-history search before the first send, for a clock
// that is ahead of Slack's. The search matches on the event's global identity, so a
// wider window costs a page of history at most, never a wrong match.
const historySkew = time.Minute

// postOne posts an event's own message unless an earlier attempt did. When an earlier
// post was sent but its outcome is unknown (no answer, a 5xx), this bot's messages in
// the channel since that first send are searched for the event's identity first, so a
// lost answer does not become a second message. A post Slack refused (429, ok:false)
// certainly did nothing and leads to no search.
func (p *Pipeline) postOne(ctx context.Context, it *item) {
	if it.rec.PostStarted {
		found, err := p.findPosted(ctx, it)
		if found || err != nil {
			it.err = err
			return
		}
	}
	if err := p.markSent("", it); err != nil {
		it.err = err
		return
	}
	var ts string
	var err error
	if it.rec.ThreadTS != "" {
		ts, err = p.cfg.Slack.Reply(ctx, it.chID, it.rec.ThreadTS, render.Render(it.facts), it.rec.Identity())
	} else {
		ts, err = p.cfg.Slack.Post(ctx, it.chID, render.Render(it.facts), it.rec.Identity())
	}
	if err != nil {
		p.refused([]*item{it}, err)
		return
	}
	it.err = p.recordPost([]*item{it}, ts, false)
}

// findPosted searches the channel for a message an interrupted attempt may have
// posted; found: it was, and is recorded. When the search cannot run (no history
// scope, rate limited — history is limited to about one call a minute for apps outside
// the Marketplace), the post is sent again: a possible duplicate is the lesser harm
// than a possible loss, and it is counted.
func (p *Pipeline) findPosted(ctx context.Context, it *item) (found bool, err error) {
	since := it.rec.SentAt
	if since.IsZero() {
		since = it.rec.ReceivedAt
	}
	var ts string
	if it.rec.ThreadTS != "" {
		ts, found, err = p.cfg.Slack.FindReply(ctx, it.chID, it.rec.ThreadTS, it.rec.Identity(), since.Add(-historySkew))
	} else {
		ts, found, err = p.cfg.Slack.FindPosted(ctx, it.chID, it.rec.Identity(), since.Add(-historySkew))
	}
	switch {
	case err != nil && (slackout.IsPermanent(err) || slackout.Code(err) == "ratelimited"):
		p.log().Warn("cannot check whether an interrupted post arrived; posting again", "event_id", it.rec.ID, "err", err)
		p.cfg.Observe.emit(Event{Type: EvRepost, ID: it.rec.IDString(), EventType: it.rec.Payload.EventType, Name: it.rec.Payload.ResourceName, Reason: reason(err), Detail: err.Error()})
		return false, nil
	case err != nil:
		return false, err
	case found:
		p.log().Info("an interrupted post had arrived; not posting again", "event_id", it.rec.ID, "ts", ts)
		p.cfg.Observe.emit(Event{Type: EvRecovered, ID: it.rec.IDString(), EventType: it.rec.Payload.EventType, Name: it.rec.Payload.ResourceName})
		return true, p.recordPost([]*item{it}, ts, false)
	}
	return false, nil
}

// postDigest posts several events of one channel as one message that stands for each
// of them (it names them, or counts those it cannot name).
func (p *Pipeline) postDigest(ctx context.Context, ch string, items []*item, key string) {
	if key == "" && len(items) > maxListed {
		key = digestKey(items)
	}
	if err := p.markSent(key, items...); err != nil {
		fail(items, err)
		return
	}
	facts := make([]enrich.Facts, len(items))
	identities := make([]string, len(items))
	for i, it := range items {
		facts[i], identities[i] = it.facts, it.rec.Identity()
	}
	if key != "" {
		identities = []string{key}
	}
	ts, err := p.cfg.Slack.Post(ctx, ch, render.Digest(facts), identities...)
	if err != nil {
		p.refused(items, err)
		return
	}
	// A digest has no preview to follow: the post and the delivery are recorded in one
	// write (each write of a shared store is a row version per event).
	if err := p.recordDigest(items, ts); err != nil {
		fail(items, err)
		return
	}
	p.log().Info("storm: events posted as one digest", "count", len(items), "channel", ch, "ts", ts)
}

// refused handles a post that failed: one Slack certainly did not make needs no
// history check next time; one held back by a Retry-After is put off until it ends,
// with no attempt counted.
func (p *Pipeline) refused(items []*item, err error) {
	if slackout.NoEffect(err) {
		p.notSent(items...)
	}
	if slackout.IsHeld(err) {
		until := p.cfg.Slack.HeldUntil(items[0].chID)
		if !until.After(time.Now()) {
			until = time.Now().Add(slackout.RetryAfter(err))
		}
		for _, it := range items {
			it.later = until
		}
		return
	}
	fail(items, err)
}

func fail(items []*item, err error) {
	for _, it := range items {
		it.err = err
	}
}

func ids(items []*item) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.rec.ID
	}
	return out
}

// markSent records, before the post leaves, that it may happen: a retry after a lost
// answer then checks the channel rather than posting blindly.
func (p *Pipeline) markSent(digestKey string, items ...*item) error {
	now := time.Now()
	var todo []uint64
	threads := map[uint64]string{}
	for _, it := range items {
		if !it.rec.PostStarted {
			todo = append(todo, it.rec.ID)
			threads[it.rec.ID] = it.threadTS
		}
	}
	if len(todo) == 0 {
		return nil
	}
	err := p.cfg.Store.UpdateMany(todo, fence(items, func(r *store.Record) error {
		r.PostStarted, r.ThreadTS, r.DigestKey = true, threads[r.ID], digestKey
		if r.SentAt.IsZero() {
			r.SentAt = now
		}
		return nil
	}))
	if err != nil {
		return fmt.Errorf("record post attempt: %w", err)
	}
	for _, it := range items {
		if !it.rec.PostStarted {
			it.rec.PostStarted, it.rec.ThreadTS, it.rec.DigestKey = true, it.threadTS, digestKey
		}
		if it.rec.SentAt.IsZero() {
			it.rec.SentAt = now
		}
	}
	return nil
}

// notSent records that the post of these events certainly did not happen (Slack
// answered no), so their next attempt posts without reading the channel's history.
func (p *Pipeline) notSent(items ...*item) {
	err := p.cfg.Store.UpdateMany(ids(items), fence(items, func(r *store.Record) error {
		if r.MessageTS == "" {
			r.PostStarted, r.DigestKey = false, ""
		}
		return nil
	}))
	if err != nil {
		p.log().Warn("record a refused post", "err", err)
	}
}

// recordPost stores the message's timestamp before anything else happens, so no retry
// posts it again.
func (p *Pipeline) recordPost(items []*item, ts string, digest bool) error {
	ch := items[0].chID
	err := p.cfg.Store.UpdateMany(ids(items), fence(items, func(r *store.Record) error {
		r.Channel, r.MessageTS, r.Digest = ch, ts, digest
		return nil
	}))
	if err != nil {
		return fmt.Errorf("record posted message: %w", err)
	}
	for _, it := range items {
		it.rec.Channel, it.rec.MessageTS, it.rec.Digest = ch, ts, digest
		it.posted, it.inPost = true, len(items)
	}
	return nil
}

// recordDigest records a digest's message and its events' delivery together.
func (p *Pipeline) recordDigest(items []*item, ts string) error {
	ch, now := items[0].chID, time.Now()
	err := p.cfg.Store.UpdateMany(ids(items), fence(items, func(r *store.Record) error {
		r.Channel, r.MessageTS, r.Digest = ch, ts, true
		r.State, r.DeliveredAt, r.Attempts = store.Delivered, now, r.Attempts+1
		return nil
	}))
	if err != nil {
		return fmt.Errorf("record posted digest: %w", err)
	}
	for _, it := range items {
		it.rec.Channel, it.rec.MessageTS, it.rec.Digest = ch, ts, true
		it.posted, it.inPost, it.settled = true, len(items), true
	}
	return nil
}

// preview uploads each single message's preview image into its thread. A failure does
// not undo the message: transient failures are retried a few times, and a preview
// that cannot be uploaded is noted on the record.
func (p *Pipeline) preview(ctx context.Context, items []*item) {
	for _, it := range items {
		if !it.posted || it.inPost != 1 || it.rec.Digest || len(it.facts.Preview) == 0 || it.rec.PreviewDone {
			continue
		}
		var err error
		for attempt := 1; attempt <= 3; attempt++ {
			err = p.cfg.Slack.Upload(ctx, it.rec.Channel, it.rec.MessageTS, previewName(it.facts.Name), "Preview of "+it.facts.Name, it.facts.Preview)
			if err == nil || slackout.IsPermanent(err) {
				break
			}
			select {
			case <-time.After(backoff(p.cfg.MinBackoff, p.cfg.MaxBackoff, attempt) + slackout.RetryAfter(err)):
			case <-ctx.Done():
			}
		}
		if err != nil {
			it.rec.LastError = "preview not uploaded: " + err.Error()
			p.log().Warn("preview not uploaded; the message was posted without it", "event_id", it.rec.ID, "err", err)
		}
		if _, uerr := p.cfg.Store.Update(it.rec.ID, fence([]*item{it}, func(r *store.Record) error { r.PreviewDone = true; return nil })); uerr != nil {
			p.log().Error("record preview upload", "event_id", it.rec.ID, "err", uerr)
		}
	}
}

func previewName(name string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, name)
	if clean == "" {
		clean = "workbook"
	}
	return clean + ".png"
}
