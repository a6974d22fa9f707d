package relay

import (
	"context"
	"time"

	"github.com/tabhook/tabhook/internal/actions"
	"github.com/tabhook/tabhook/internal/render"
)

// muted offers the buttons on failed refreshes (--actions) and holds back the Slack
// alert of an item someone muted from its message: the event is done, nothing posted,
// the mute counts it. The first alert after a mute ended says how many it held back.
// A mute that cannot be read holds nothing back: an alert too many beats one lost.
func (p *Pipeline) muted(_ context.Context, items []*item) {
	if !p.cfg.Actions {
		return
	}
	for _, it := range liveItems(items) {
		it.facts.Actions = true
		if !render.Actionable(it.facts) {
			continue
		}
		muted, held, err := actions.Hold(p.cfg.Store, render.ItemOf(it.facts), time.Now())
		if err != nil {
			p.log().Warn("the item's mute could not be read; posting", "event_id", it.rec.ID, "err", err)
			continue
		}
		it.facts.HeldWhileMuted = held
		if muted {
			it.posted, it.muted = true, true
			if p.cfg.Muted != nil {
				p.cfg.Muted()
			}
			p.log().Info("alert held back: the item is muted", "event_id", it.rec.ID, "resource_luid", it.rec.Payload.ResourceLUID)
		}
	}
}
