package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
)

// errWaiting marks a delivery that cannot proceed yet (Tableau not signed in, Slack
// not reachable): retried, not counted against the event.
type waitError struct{ reason string }

func (e *waitError) Error() string { return e.reason }

// permanentError is a failure that no retry can cure.
type permanentError struct {
	reason string
	code   string // short, for metrics
}

func (e *permanentError) Error() string { return e.reason }

// process delivers one event: check the site, enrich, render, post (once), upload the
// preview into the thread (once), mark delivered. Each step that reaches Slack is
// recorded in the spool before the next, so a retry resumes rather than repeats.
func (s *Service) process(ctx context.Context, id uint64) {
	rec, err := s.cfg.Spool.Get(id)
	if err != nil || rec.State != spool.Pending {
		return
	}
	if wait := time.Until(rec.NextTry); wait > 0 {
		s.later(id, wait)
		return
	}
	if digestable(rec) && len(s.queue) >= s.cfg.DigestAfter {
		s.digest(ctx, rec)
		return
	}
	if err := s.deliver(ctx, &rec); err != nil {
		s.failed(ctx, rec, err)
	}
}

func (s *Service) deliver(ctx context.Context, rec *spool.Record) error {
	site := s.cfg.SiteID()
	if site == "" {
		return &waitError{"waiting for the Tableau sign-in to learn the site"}
	}
	if rec.Payload.SiteLUID != site {
		return &permanentError{fmt.Sprintf("site_luid %s is not the signed-in site %s", rec.Payload.SiteLUID, site), "site_mismatch"}
	}
	facts := s.cfg.Enricher.Enrich(ctx, rec.Payload)
	if facts.Degraded != "" {
		s.log.Warn("posting the payload's facts only", "event_id", rec.ID, "event", facts.Event, "resource_luid", rec.Payload.ResourceLUID, "why", facts.Degraded)
	}
	channel := s.channel(facts)
	ch, err := s.cfg.Slack.ChannelID(ctx, channel)
	if err != nil {
		return err
	}
	msg := render.Render(facts)
	if err := s.ensurePosted(ctx, rec, ch, msg); err != nil {
		return err
	}
	s.ensurePreview(ctx, rec, facts)
	now := time.Now()
	_, err = s.cfg.Spool.Update(rec.ID, func(r *spool.Record) error {
		r.State, r.DeliveredAt, r.LastError, r.Attempts = spool.Delivered, now, rec.LastError, r.Attempts+1
		return nil
	})
	if err != nil {
		return fmt.Errorf("record delivery: %w", err)
	}
	s.cfg.Observe.emit(Event{Type: EvDelivered, ID: rec.IDString(), EventType: facts.Event, Resource: rec.Payload.Resource, Name: facts.Name, Channel: channel, Latency: now.Sub(rec.ReceivedAt), Attempt: rec.Attempts + 1, Detail: facts.Degraded})
	s.log.Debug("event delivered", "event_id", rec.ID, "event", facts.Event, "channel", ch, "ts", rec.MessageTS, "latency", now.Sub(rec.ReceivedAt))
	return nil
}

// historySkew widens the channel-history search before the first send, for a clock
// that is ahead of Slack's. The search matches on the event's global identity, so a
// wider window costs a page of history at most, never a wrong match.
const historySkew = time.Minute

// ensurePosted posts the message unless an earlier attempt already did. When an earlier
// post was sent but its outcome is unknown (no answer, a 5xx), this bot's messages in
// the channel since that first send are searched for the event's identity first, so a
// lost answer does not become a second message. A post Slack refused (429, ok:false)
// certainly did nothing and leads to no search.
func (s *Service) ensurePosted(ctx context.Context, rec *spool.Record, ch string, msg render.Message) error {
	if rec.MessageTS != "" {
		return nil
	}
	if rec.PostStarted {
		done, err := s.findPosted(ctx, rec, ch)
		if done || err != nil {
			return err
		}
	}
	if !rec.PostStarted {
		now := time.Now()
		if _, err := s.cfg.Spool.Update(rec.ID, func(r *spool.Record) error {
			r.PostStarted = true
			if r.SentAt.IsZero() {
				r.SentAt = now
			}
			return nil
		}); err != nil {
			return fmt.Errorf("record post attempt: %w", err)
		}
		rec.PostStarted = true
		if rec.SentAt.IsZero() {
			rec.SentAt = now
		}
	}
	ts, err := s.cfg.Slack.Post(ctx, ch, msg, rec.Identity())
	if err != nil {
		if slackout.NoEffect(err) {
			s.notSent(rec.ID)
		}
		return err
	}
	return s.recordPost(rec, ch, ts)
}

// findPosted searches the channel for a message an interrupted attempt may have
// posted. done: it was found and recorded. When the search cannot run (no history
// scope, rate limited — history is limited to about one call a minute for apps outside
// the Marketplace), the post is sent again: a possible duplicate is the lesser harm
// than a possible loss, and it is counted.
func (s *Service) findPosted(ctx context.Context, rec *spool.Record, ch string) (done bool, err error) {
	since := rec.SentAt
	if since.IsZero() {
		since = rec.ReceivedAt
	}
	ts, found, err := s.cfg.Slack.FindPosted(ctx, ch, rec.Identity(), since.Add(-historySkew))
	switch {
	case err != nil && (slackout.IsPermanent(err) || slackout.Code(err) == "ratelimited"):
		s.log.Warn("cannot check whether an interrupted post arrived; posting again", "event_id", rec.ID, "err", err)
		s.cfg.Observe.emit(Event{Type: EvRepost, ID: rec.IDString(), EventType: rec.Payload.EventType, Name: rec.Payload.ResourceName, Reason: reason(err), Detail: err.Error()})
		return false, nil
	case err != nil:
		return false, err
	case found:
		s.log.Info("an interrupted post had arrived; not posting again", "event_id", rec.ID, "ts", ts)
		s.cfg.Observe.emit(Event{Type: EvRecovered, ID: rec.IDString(), EventType: rec.Payload.EventType, Name: rec.Payload.ResourceName})
		return true, s.recordPost(rec, ch, ts)
	}
	return false, nil
}

// notSent records that the post of these events certainly did not happen (Slack
// answered no), so their next attempt posts without reading the channel's history.
func (s *Service) notSent(ids ...uint64) {
	err := s.cfg.Spool.UpdateMany(ids, func(r *spool.Record) error {
		if r.MessageTS == "" {
			r.PostStarted = false
		}
		return nil
	})
	if err != nil {
		s.log.Warn("record a refused post", "err", err)
	}
}

func (s *Service) recordPost(rec *spool.Record, ch, ts string) error {
	rec.Channel, rec.MessageTS = ch, ts
	_, err := s.cfg.Spool.Update(rec.ID, func(r *spool.Record) error {
		r.Channel, r.MessageTS = ch, ts
		return nil
	})
	if err != nil {
		return fmt.Errorf("record posted message: %w", err)
	}
	return nil
}

// ensurePreview uploads the preview into the message's thread. A failure does not undo
// the delivered message: transient failures are retried a few times here, and a
// preview that cannot be uploaded is noted on the record.
func (s *Service) ensurePreview(ctx context.Context, rec *spool.Record, f enrich.Facts) {
	if len(f.Preview) == 0 || rec.PreviewDone {
		return
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = s.cfg.Slack.Upload(ctx, rec.Channel, rec.MessageTS, previewName(f.Name), "Preview of "+f.Name, f.Preview)
		if err == nil || slackout.IsPermanent(err) {
			break
		}
		select {
		case <-time.After(s.backoff(attempt) + slackout.RetryAfter(err)):
		case <-ctx.Done():
		}
	}
	if err != nil {
		rec.LastError = "preview not uploaded: " + err.Error()
		s.log.Warn("preview not uploaded; the message was posted without it", "event_id", rec.ID, "err", err)
	}
	_, uerr := s.cfg.Spool.Update(rec.ID, func(r *spool.Record) error { r.PreviewDone = true; return nil })
	if uerr != nil {
		s.log.Error("record preview upload", "event_id", rec.ID, "err", uerr)
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

// failed records a failed attempt: a permanent failure makes a dead letter, logged
// once; anything else is retried after a backoff (or Slack's Retry-After).
func (s *Service) failed(ctx context.Context, rec spool.Record, err error) {
	if ctx.Err() != nil {
		return // stopping: the event stays pending for the next start
	}
	var pe *permanentError
	permanent := errors.As(err, &pe) || slackout.IsPermanent(err)
	var we *waitError
	waiting := errors.As(err, &we)
	attempts := rec.Attempts
	if !waiting {
		attempts++
	}
	wait := max(slackout.RetryAfter(err), s.backoff(max(attempts, 1)))
	ev := Event{ID: rec.IDString(), EventType: rec.Payload.EventType, Resource: rec.Payload.Resource, Name: rec.Payload.ResourceName, Channel: s.channel(enrich.Base(rec.Payload)), Attempt: attempts, Reason: reason(err), Detail: err.Error()}
	_, uerr := s.cfg.Spool.Update(rec.ID, func(r *spool.Record) error {
		r.Attempts, r.LastError = attempts, err.Error()
		if permanent {
			r.State, r.DeadReason = spool.Dead, err.Error()
		} else {
			r.NextTry = time.Now().Add(wait)
		}
		return nil
	})
	if uerr != nil {
		s.log.Error("record failed attempt", "event_id", rec.ID, "err", uerr)
	}
	if permanent {
		ev.Type = EvDead
		s.cfg.Observe.emit(ev)
		s.log.Error("event dead-lettered", "event_id", rec.ID, "event", rec.Payload.EventType, "reason", err)
		return
	}
	ev.Type, ev.RetryIn = EvRetrying, wait
	s.cfg.Observe.emit(ev)
	s.log.Warn("delivery failed; will retry", "event_id", rec.ID, "event", rec.Payload.EventType, "attempt", attempts, "retry_in", wait, "err", err)
	s.later(rec.ID, wait)
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
	return "other"
}
