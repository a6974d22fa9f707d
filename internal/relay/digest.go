package relay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
)

// digestable: an event that has not been (maybe) posted yet and is due now.
func digestable(r spool.Record) bool {
	return r.State == spool.Pending && r.MessageTS == "" && !r.PostStarted && !time.Now().Before(r.NextTry)
}

// claim takes up to n more due events off the queue for a digest. Events that cannot
// join one are handed back to the queue.
func (s *Service) claim(n int) []spool.Record {
	var out []spool.Record
	for len(out) < n {
		var id uint64
		select {
		case id = <-s.queue:
		default:
			return out
		}
		rec, err := s.cfg.Spool.Get(id)
		if err == nil && digestable(rec) {
			out = append(out, rec)
			continue
		}
		s.done(id)
		if err == nil && rec.State == spool.Pending {
			s.enqueue(id)
		}
	}
	return out
}

// digest posts a storm of waiting events as one message that names each of them, so a
// burst (200 extract refreshes finishing together) reaches Slack in seconds rather than
// minutes, and nothing is dropped. Each event is marked as posted in that message.
func (s *Service) digest(ctx context.Context, first spool.Record) {
	batch := append([]spool.Record{first}, s.claim(s.cfg.DigestMax-1)...)
	defer func() {
		for _, r := range batch[1:] {
			s.done(r.ID)
		}
	}()
	if len(batch) == 1 {
		if err := s.deliver(ctx, &first); err != nil {
			s.failed(ctx, first, err)
		}
		return
	}
	if err := s.deliverDigest(ctx, batch); err != nil {
		for _, r := range batch {
			s.failed(ctx, r, err)
		}
	}
}

func (s *Service) deliverDigest(ctx context.Context, batch []spool.Record) error {
	site := s.cfg.SiteID()
	if site == "" {
		return &waitError{"waiting for the Tableau sign-in to learn the site"}
	}
	var keep []spool.Record
	for _, r := range batch {
		if r.Payload.SiteLUID != site {
			s.failed(ctx, r, &permanentError{fmt.Sprintf("site_luid %s is not the signed-in site %s", r.Payload.SiteLUID, site), "site_mismatch"})
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return nil
	}
	facts := s.enrichAll(ctx, keep)
	// One digest per channel the routing sends these events to.
	groups := map[string][]int{}
	var order []string
	for i, f := range facts {
		ch := s.channel(f)
		if _, ok := groups[ch]; !ok {
			order = append(order, ch)
		}
		groups[ch] = append(groups[ch], i)
	}
	for _, channel := range order {
		var recs []spool.Record
		var fs []enrich.Facts
		for _, i := range groups[channel] {
			recs, fs = append(recs, keep[i]), append(fs, facts[i])
		}
		if err := s.postDigest(ctx, channel, recs, fs); err != nil {
			for _, r := range recs {
				s.failed(ctx, r, err)
			}
		}
	}
	return nil
}

// postDigest posts one digest to a channel and marks its events delivered.
func (s *Service) postDigest(ctx context.Context, channel string, recs []spool.Record, facts []enrich.Facts) error {
	ch, err := s.cfg.Slack.ChannelID(ctx, channel)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(recs))
	identities := make([]string, len(recs))
	for i, r := range recs {
		ids[i], identities[i] = r.ID, r.Identity()
	}
	sent := time.Now()
	if err := s.cfg.Spool.UpdateMany(ids, func(r *spool.Record) error {
		r.PostStarted = true
		if r.SentAt.IsZero() {
			r.SentAt = sent
		}
		return nil
	}); err != nil {
		return fmt.Errorf("record post attempt: %w", err)
	}
	ts, err := s.cfg.Slack.Post(ctx, ch, render.Digest(facts), identities...)
	if err != nil {
		if slackout.NoEffect(err) {
			s.notSent(ids...)
		}
		return err
	}
	now := time.Now()
	err = s.cfg.Spool.UpdateMany(ids, func(r *spool.Record) error {
		r.Channel, r.MessageTS, r.Digest = ch, ts, true
		r.State, r.DeliveredAt, r.Attempts = spool.Delivered, now, r.Attempts+1
		return nil
	})
	if err != nil {
		return fmt.Errorf("record digest: %w", err)
	}
	for i, r := range recs {
		s.cfg.Observe.emit(Event{Type: EvDelivered, ID: r.IDString(), EventType: facts[i].Event, Resource: r.Payload.Resource, Name: facts[i].Name, Channel: channel, Latency: now.Sub(r.ReceivedAt), Attempt: r.Attempts + 1, Detail: fmt.Sprintf("in a digest of %d", len(recs))})
	}
	s.log.Info("storm: events posted as one digest", "count", len(recs), "channel", ch, "ts", ts)
	return nil
}

// enrichAll looks up a batch a few at a time; the enricher's cache makes repeated
// items cheap.
func (s *Service) enrichAll(ctx context.Context, recs []spool.Record) []enrich.Facts {
	out := make([]enrich.Facts, len(recs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = s.cfg.Enricher.Enrich(ctx, r.Payload)
		}()
	}
	wg.Wait()
	return out
}
