package relay

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/refresh"
	"github.com/tabhook/tabhook/internal/seen"
	"github.com/tabhook/tabhook/internal/store"
)

// item is one event on its way through the stages. A stage that fails an item sets
// err (or defer); the stages after it pass it by, and settle records the outcome.
type item struct {
	rec     store.Record
	facts   enrich.Facts
	channel string // the routed channel, as configured
	chID    string // its Slack ID
	err     error
	later   time.Time // not failed: try again then, no attempt counted (a held channel)
	posted  bool      // a message stands for it
	settled bool      // its delivery is already recorded (a digest's, with the post)
	inPost  int       // how many events the message it is in stands for (1: its own)
	// threadTS is the message the post replies to (a refresh's thread); such a post
	// is never part of a digest.
	threadTS string
	root     *refresh.Thread // the thread it replies to, as the story held it
	to       []string        // the destinations its route hands it to as well
	noSlack  bool            // its route has no Slack channel: done once handed on
	muted    bool            // held back by a mute from the message: done, nothing posted
}

func (it *item) live() bool { return it.err == nil && it.later.IsZero() && !it.posted }

// stage is one step of delivery over a batch.
type stage struct {
	name string
	run  func(ctx context.Context, items []*item)
}

// Pipeline delivers a batch through its stages, in one direction:
//
//	site check → enrich → mention → route → paused (Slack refusing the token) →
//	story → muted → hold → quality warning → post (single, reply or digest, once) →
//	preview → remember → settle
//
// and the records of the other destinations through
//
//	site check → enrich → count → send → settle
//
// A batch of one is a single message; a larger batch (a storm) is grouped by channel
// and each group of more than one posted as a digest. Each stage is a method that can
// be run alone on items.
type Pipeline struct {
	cfg    ServiceConfig
	stages []stage // for Slack's records
	// destStages are for the records of the other destinations: no channel, thread
	// or preview; each destination held and sent to on its own.
	destStages []stage
	destHold   sync.Map // destination name → time.Time: no sends before (a 429)
	down       sync.Map // destination name ("" Slack) → true: its last send failed unanswered

	mu      sync.Mutex
	routing Routing // changed by a reload

	noUsersScope atomic.Bool // users.lookupByEmail refused for a scope: said once
	noWarnings   atomic.Bool // the server has no data quality warnings: said once
	// itemLocks serialise this process's changes of one item (striped: bounded however
	// many items a site has; two items sharing a stripe only wait for each other).
	itemLocks [256]sync.Mutex
	destLocks sync.Map // destination name → *sync.Mutex: one send at a time (as many as configured)
	channels  channelPauses
	// saidDegraded: items whose posts with the payload's facts only were logged.
	saidDegraded seen.Set[string, struct{}]
	// slackPaused: Slack refused the token while other destinations are configured;
	// Slack's records wait (held, re-checked every slackPauseHold), the others flow.
	slackPaused atomic.Bool
}

// slackPauseHold is how long Slack's records wait at a time while Slack refuses the
// token and other destinations keep delivering: the delay of resuming after a reload.
const slackPauseHold = 10 * time.Second

// sitePauseHold is how long the events of a site whose token Tableau refuses wait at a
// time: its credential is checked every minute, and when it works again its events are
// made due at once (Store.Expedite), so a long pause costs one write per event a minute.
const sitePauseHold = time.Minute

// waitForSlack puts off Slack's part of the events while Slack refuses the token and
// other destinations keep delivering — after the route stage has handed them to those
// destinations — without counting an attempt.
func (p *Pipeline) waitForSlack(_ context.Context, items []*item) {
	if !p.slackPaused.Load() {
		return
	}
	for _, it := range liveItems(items) {
		it.later = time.Now().Add(slackPauseHold)
	}
}

// NewPipeline builds the stages.
func NewPipeline(cfg ServiceConfig) *Pipeline {
	cfg = cfg.withDefaults()
	p := &Pipeline{cfg: cfg, routing: cfg.Routing}
	p.stages = []stage{
		{"site", p.checkSite},
		{"enrich", p.enrich},
		{"mention", p.mention},
		{"route", p.route},
		{"paused", p.waitForSlack},
		{"story", p.story},
		{"muted", p.muted},
		{"hold", p.hold},
		{"quality", p.quality},
		{"post", p.post},
		{"preview", p.preview},
		{"remember", p.remember},
	}
	p.destStages = []stage{
		{"site", p.checkSite},
		{"enrich", p.enrich},
		{"count", p.count},
		{"send", p.send},
	}
	return p
}

// SetRouting sends the following posts where the new routing says.
func (p *Pipeline) SetRouting(r Routing) {
	p.mu.Lock()
	p.routing = r
	p.mu.Unlock()
}

func (p *Pipeline) currentRouting() Routing {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.routing
}

// Deliver runs a claimed batch through the stages, records each event's outcome and
// releases the claims. The records of each destination go through their stages side
// by side: a destination that is slow or down never holds up another.
func (p *Pipeline) Deliver(ctx context.Context, batch []store.Record) {
	ids := make([]uint64, len(batch))
	var order []string
	groups := map[string][]*item{}
	for i, r := range batch {
		ids[i] = r.ID
		if _, ok := groups[r.Destination]; !ok {
			order = append(order, r.Destination)
		}
		groups[r.Destination] = append(groups[r.Destination], &item{rec: r, facts: enrich.Base(r.Payload)})
	}
	defer p.cfg.Store.Release(ids...)
	if len(order) == 1 {
		p.deliver(ctx, order[0], groups[order[0]])
		return
	}
	var wg sync.WaitGroup
	for _, dest := range order {
		wg.Go(func() { p.deliver(ctx, dest, groups[dest]) })
	}
	wg.Wait()
}

// deliver runs one destination's items through its stages and settles them.
func (p *Pipeline) deliver(ctx context.Context, dest string, items []*item) {
	began := time.Now()
	stages := p.stages
	if dest != "" {
		stages = p.destStages
	}
	for _, st := range stages {
		if ctx.Err() != nil {
			return // stopping: the events stay pending for the next start
		}
		st.run(ctx, items) // each stage takes the items it is for
	}
	p.settle(ctx, items, began)
}

// liveItems are the items no stage has failed, deferred or posted yet.
func liveItems(items []*item) []*item {
	var out []*item
	for _, it := range items {
		if it.live() {
			out = append(out, it)
		}
	}
	return out
}

func (p *Pipeline) log() *slog.Logger { return p.cfg.Logger }
