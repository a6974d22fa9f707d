package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
)

// Defaults for a channel Slack refuses.
const (
	// DefaultChannelDeadAfter is how long an event waits for a channel Slack refuses
	// before it becomes a dead letter.
	DefaultChannelDeadAfter = 24 * time.Hour
	// defaultChannelRecheck is how often a refused channel is tried again (its
	// waiting events are the trial: no attempt is counted).
	defaultChannelRecheck = 30 * time.Second
)

// channelRefusal: Slack's answer is about the channel — the bot removed from it, the
// channel archived or gone — not about the event. Events are fine; the channel waits.
func channelRefusal(err error) bool {
	switch slackout.Code(err) {
	case "not_in_channel", "channel_not_found", "is_archived", "channel_is_archived":
		return true
	}
	return false
}

// channelPauses are the Slack channels whose posts are refused, each said once when it
// starts and once when it ends. Bounded by the channels the routes name.
type channelPauses struct {
	mu     sync.Mutex
	paused map[string]string // channel → Slack's code
}

// pause notes that channel refuses posts; true the first time.
func (c *channelPauses) pause(channel, code string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		c.paused = map[string]string{}
	}
	_, was := c.paused[channel]
	c.paused[channel] = code
	return !was
}

// resume notes that channel takes posts again; true when it was paused.
func (c *channelPauses) resume(channel string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, was := c.paused[channel]
	delete(c.paused, channel)
	return was
}

// channelHint says how to fix a refused channel.
func channelHint(code, channel string) string {
	switch code {
	case "not_in_channel":
		return "invite the bot: /invite @<the bot> in " + channel
	case "is_archived", "channel_is_archived":
		return "unarchive " + channel + ", or route its events elsewhere and reload"
	}
	return "check that " + channel + " exists and the bot can see it (private channels need the bot invited), or route its events elsewhere and reload"
}

// waitForChannel puts off an event whose channel Slack refuses, without counting an
// attempt: it is tried again after the recheck interval, and is a dead letter only
// once it has waited ChannelDeadAfter since it was received. The first refusal of a
// channel is said once, with the fix.
func (p *Pipeline) waitForChannel(_ context.Context, it *item) {
	code := slackout.Code(it.err)
	channel := it.channel
	if channel == "" {
		channel = it.chID
	}
	if p.channels.pause(channel, code) {
		detail := fmt.Sprintf("Slack refuses posts to %s (%s): its events wait, are tried again every %s and go out once it works; they become dead letters after %s. Fix: %s",
			channel, code, p.cfg.ChannelRecheck, p.cfg.ChannelDeadAfter, channelHint(code, channel))
		p.cfg.Observe.emit(Event{Type: EvPaused, Destination: "slack", Channel: channel, Reason: code, Detail: detail})
		if p.cfg.ChannelState != nil {
			p.cfg.ChannelState(channel, detail)
		}
	}
	next := time.Now().Add(p.cfg.ChannelRecheck)
	if _, err := p.cfg.Store.Update(it.rec.ID, fence([]*item{it}, func(r *store.Record) error {
		r.NextTry, r.LastError = next, it.err.Error()
		return nil
	})); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			return
		}
		p.cfg.Store.Hold(next, it.rec.ID)
		p.log().Error("put off an event for its channel", "event_id", it.rec.ID, "err", err)
	}
}

// channelWorks ends a channel's pause once a post to it went through.
func (p *Pipeline) channelWorks(channel string) {
	if channel == "" || !p.channels.resume(channel) {
		return
	}
	p.cfg.Observe.emit(Event{Type: EvResumed, Destination: "slack", Channel: channel, Detail: "Slack takes posts to " + channel + " again: its waiting events go out"})
	if p.cfg.ChannelState != nil {
		p.cfg.ChannelState(channel, "")
	}
}
