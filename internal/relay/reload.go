package relay

import (
	"context"
	"fmt"
	"time"
)

// reload applies a changed configuration: every channel is checked with Slack first,
// so a typo keeps the old routing. Events keep flowing throughout.
func (r *relay) reload(ctx context.Context) {
	if r.cfg.Reconfigure == nil {
		return
	}
	routing, err := r.cfg.Reconfigure()
	for _, ch := range routing.Channels() {
		if err != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err = r.cfg.Slack.ChannelID(cctx, ch)
		cancel()
	}
	if err != nil {
		r.log.Error("reload failed; keeping the current configuration", "err", err)
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "reload failed, configuration unchanged: " + err.Error()})
		return
	}
	r.svc.SetRouting(routing)
	r.log.Info("configuration reloaded", "channel", routing.Default, "routes", len(routing.Routes))
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: fmt.Sprintf("configuration reloaded: posting to %s (%d routes)", routing.Default, len(routing.Routes))})
}
