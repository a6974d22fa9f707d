package relay

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/refresh"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/tableau"
	"github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// eventTime is when Tableau says the event happened; the receipt when it says nothing
// readable.
func (it *item) eventTime() time.Time {
	if t, err := time.Parse(time.RFC3339, it.rec.Payload.CreatedAt); err == nil {
		return t
	}
	return it.rec.ReceivedAt
}

// The lacking users:read.email scope, said once whether start-up or the first
// mention finds it.
const (
	mentionScopeKey = "mention-scope"
	mentionScopeMsg = "--mention-owner: the Slack token lacks the users:read.email scope, so owners are named, not mentioned; add the scope to the app and reinstall it"
)

// sayOnce tells the operator something once per process.
func (p *Pipeline) sayOnce(key, msg string) {
	if p.cfg.SayOnce != nil {
		p.cfg.SayOnce(key, msg)
		return
	}
	if p.noUsersScope.CompareAndSwap(false, true) {
		p.log().Warn(msg)
	}
}

// mention finds a failed refresh's owner in Slack by e-mail, to mention them. A miss
// leaves the owner's name; a refusal (no users:read.email) is said once.
func (p *Pipeline) mention(ctx context.Context, items []*item) {
	if !p.cfg.MentionOwner {
		return
	}
	for _, it := range liveItems(items) {
		if !it.facts.IsFailure() || it.facts.OwnerEmail == "" {
			continue
		}
		id, err := p.cfg.Slack.UserByEmail(ctx, it.facts.OwnerEmail)
		switch {
		case err == nil:
			it.facts.OwnerSlackID = id
		case errors.Is(err, slackout.ErrNoUser):
		case slackout.Code(err) == "missing_scope":
			p.sayOnce(mentionScopeKey, mentionScopeMsg)
		default:
			p.log().Debug("owner not found in Slack; naming them", "event_id", it.rec.ID, "err", err)
		}
	}
}

// story counts each refresh outcome in its item's story (once per event, in the
// store: it survives restarts and is shared by replicas) and picks the thread it
// replies to. A post already under way keeps the thread it started in.
func (p *Pipeline) story(ctx context.Context, items []*item) {
	var outcomes []*item
	for _, it := range liveItems(items) {
		if it.facts.IsOutcome() {
			outcomes = append(outcomes, it)
		}
	}
	if len(outcomes) == 0 {
		return
	}
	// One write for the batch's stories, in the batch's order (a failure and the
	// success after it, of one item, count in that order): a backlog of thousands of
	// outcomes costs one transaction, not one each.
	earlier := make([]*refresh.Thread, len(outcomes)) // the failure a recovery ends, told elsewhere
	updates := make([]store.ItemUpdate, len(outcomes))
	for i, it := range outcomes {
		failed, at := it.facts.IsFailure(), it.eventTime()
		updates[i] = store.ItemUpdate{Key: refresh.Key(it.facts), Fn: func(old []byte) ([]byte, error) {
			st, err := refresh.Decode(old)
			if err != nil {
				return nil, err
			}
			c := st.Count(it.rec.Identity(), failed, at)
			it.facts.Streak, it.facts.Recovered, it.facts.LastSuccess = c.Streak, c.Recovered, c.LastSuccess
			if it.rec.PostStarted {
				it.root = st.Thread(it.rec.ThreadTS) // resumed: the thread it started in
			} else {
				it.root = st.ReplyTo(it.chID, failed, c.Recovered, at)
			}
			earlier[i] = nil
			if c.Recovered > 0 && st.Failed != nil && (it.root == nil || it.root.TS != st.Failed.TS) {
				f := *st.Failed
				earlier[i] = &f
			}
			return st.Encode()
		}}
	}
	errs, err := p.cfg.Store.UpdateItems(updates)
	for i, it := range outcomes {
		switch {
		case err != nil:
			it.err = fmt.Errorf("count the refresh in its story: %w", err)
			continue
		case errs[i] != nil:
			it.err = fmt.Errorf("count the refresh in its story: %w", errs[i])
		}
		if earlier[i] != nil {
			// A link, not a reply: one refresh is one thread.
			if link, err := p.cfg.Slack.Permalink(ctx, earlier[i].Channel, earlier[i].TS); err == nil {
				it.facts.EarlierFailure = link
			} else {
				p.log().Debug("no link to the failure a recovery ends", "event_id", it.rec.ID, "err", err)
			}
		}
		it.threadTS = it.rec.ThreadTS
		if !it.rec.PostStarted && it.root != nil {
			it.threadTS = it.root.TS
		}
	}
}

// remember records, after the post, what later events of the item need: a started
// refresh's message (its outcome replies there), a failure's thread (a recovery goes
// there); and rewrites the messages an outcome ends. It is best-effort: the event is
// delivered either way, and a later outcome without the thread is posted on its own.
func (p *Pipeline) remember(ctx context.Context, items []*item) {
	for _, it := range items {
		if !it.posted || it.inPost != 1 || it.rec.Digest || !it.facts.IsRefresh() {
			continue
		}
		at, th := it.eventTime(), it.rec.Channel
		var rewrites []refresh.Rewrite
		_, err := p.cfg.Store.UpdateItem(refresh.Key(it.facts), func(old []byte) ([]byte, error) {
			st, err := refresh.Decode(old)
			if err != nil {
				return nil, err
			}
			if it.facts.IsOutcome() {
				rewrites = st.Ended(refresh.Outcome{Facts: it.facts, At: at, Channel: th, TS: it.rec.MessageTS, Root: it.root})
			} else {
				st.Opened(refresh.Thread{Channel: th, TS: it.rec.MessageTS, At: at, Root: it.facts})
			}
			return st.Encode()
		})
		if err != nil {
			p.log().Warn("could not record the refresh's thread; its next event is posted on its own", "event_id", it.rec.ID, "err", err)
			continue
		}
		for _, rw := range rewrites {
			if err := p.cfg.Slack.Update(ctx, rw.Channel, rw.TS, rw.Message); err != nil {
				p.log().Warn("could not update the refresh's earlier message", "event_id", it.rec.ID, "ts", rw.TS, "err", err)
			}
		}
	}
}

// warningPrefix starts the message of every data quality warning tabhook adds: how it
// recognises its own after a lost answer, and leaves everyone else's alone.
const warningPrefix = "tabhook: "

// quality marks a data source whose refresh failed with a data quality warning (stale
// data) carrying the error, and removes the warning it added once a refresh succeeds.
// A failure here never holds up the message: it is logged, and the message says what
// was done.
func (p *Pipeline) quality(ctx context.Context, items []*item) {
	if p.cfg.WarningsOf == nil {
		return
	}
	for _, it := range liveItems(items) {
		if it.facts.Kind != "datasource" || !it.facts.IsOutcome() {
			continue
		}
		w := p.cfg.WarningsOf(it.rec.Payload)
		if w == nil {
			continue
		}
		if err := w.QualityWarningsSupported(); err != nil {
			if p.noWarnings.CompareAndSwap(false, true) {
				p.log().Debug("--quality-warnings is unavailable on this server (said at start-up)", "err", err)
			}
			return
		}
		// One change of an item's warnings at a time in this process: two failures
		// delivered together must not both find none and both add one.
		unlock := p.lockItem(refresh.Key(it.facts))
		var err error
		if it.facts.IsFailure() {
			err = p.addWarning(ctx, it)
		} else {
			err = p.removeWarning(ctx, it)
		}
		unlock()
		if err != nil {
			p.log().Warn("data quality warning not changed", "event_id", it.rec.ID, "datasource", it.rec.Payload.ResourceLUID, "err", err)
		}
	}
}

func (p *Pipeline) addWarning(ctx context.Context, it *item) error {
	ds, key := it.rec.Payload.ResourceLUID, refresh.Key(it.facts)
	existing, err := p.cfg.WarningsOf(it.rec.Payload).QualityWarnings(ctx, ds)
	if err != nil {
		return err
	}
	st, err := p.loadStory(key)
	if err != nil {
		return err
	}
	for _, q := range existing {
		if q.ID == st.Warning || strings.HasPrefix(q.Message, warningPrefix) {
			it.facts.Warning = "This data source carries tabhook's data quality warning (stale data) in Tableau until a refresh succeeds."
			return p.saveWarning(key, q.ID)
		}
	}
	q, err := p.cfg.WarningsOf(it.rec.Payload).AddQualityWarning(ctx, ds, "STALE", warningMessage(it))
	if err != nil {
		return err
	}
	it.facts.Warning = "A data quality warning (stale data) was added to this data source in Tableau; it goes when a refresh succeeds."
	return p.saveWarning(key, q.ID)
}

func warningMessage(it *item) string {
	msg := warningPrefix + "the extract refresh failed at " + it.eventTime().UTC().Format("2006-01-02 15:04 MST")
	if f := it.facts.Failure; f != nil && f.Error != "" {
		msg += ": " + words.Headline(f.Error)
	}
	return text.Cut(msg, 1000)
}

// removeWarning deletes tabhook's warning: the one recorded, and any other that
// carries tabhook's prefix (added by a replica racing this one, or before a lost
// answer). Warnings without the prefix are someone else's and stay.
func (p *Pipeline) removeWarning(ctx context.Context, it *item) error {
	key := refresh.Key(it.facts)
	st, err := p.loadStory(key)
	if err != nil {
		return err
	}
	// Always looked for, whatever the story recorded: an add whose answer could not be
	// read, or a story lost, must not leave "stale data" on the data source for ever.
	existing, err := p.cfg.WarningsOf(it.rec.Payload).QualityWarnings(ctx, it.rec.Payload.ResourceLUID)
	if err != nil {
		return err
	}
	removed := 0
	for _, q := range existing {
		if q.ID != st.Warning && !strings.HasPrefix(q.Message, warningPrefix) {
			continue
		}
		if err := p.cfg.WarningsOf(it.rec.Payload).DeleteQualityWarning(ctx, q.ID); err != nil && !tableau.IsNotFound(err) {
			return err
		}
		removed++
	}
	if removed > 0 {
		it.facts.Warning = "The data quality warning tabhook added to this data source was removed."
	}
	if st.Warning == "" {
		return nil
	}
	return p.saveWarning(key, "")
}

// lockItem serialises this process's changes of one item; it returns the unlock.
func (p *Pipeline) lockItem(key string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	mu := &p.itemLocks[h.Sum32()%uint32(len(p.itemLocks))]
	mu.Lock()
	return mu.Unlock
}

// lockDestination serialises the sends to one destination; it returns the unlock.
func (p *Pipeline) lockDestination(name string) func() {
	mu, _ := p.destLocks.LoadOrStore(name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

func (p *Pipeline) loadStory(key string) (refresh.State, error) {
	b, err := p.cfg.Store.UpdateItem(key, func(old []byte) ([]byte, error) { return old, nil })
	if err != nil {
		return refresh.State{}, err
	}
	return refresh.Decode(b)
}

func (p *Pipeline) saveWarning(key, id string) error {
	_, err := p.cfg.Store.UpdateItem(key, func(old []byte) ([]byte, error) {
		st, err := refresh.Decode(old)
		if err != nil {
			return nil, err
		}
		st.Warning = id
		return st.Encode()
	})
	return err
}
