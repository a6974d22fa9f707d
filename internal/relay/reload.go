package relay

import (
	"context"
	"fmt"
	"time"
)

// reload applies a changed configuration: a new Slack token at once (a paused
// delivery tries it straight away), then the routing, every channel of which is checked
// with Slack first so a typo keeps the old routing. Events keep flowing throughout.
func (r *relay) reload(ctx context.Context) {
	if r.cfg.Reconfigure == nil {
		return
	}
	got, err := r.cfg.Reconfigure()
	if err == nil && got.SlackToken != "" {
		r.renew("slack")
		r.cfg.Slack.SetToken(got.SlackToken)
		r.poke("slack")
	}
	if err == nil && got.PATSecret != "" && !r.multi {
		r.renew("tableau")
		r.sites[0].Tableau.SetPATSecret(got.PATSecret)
		r.poke("tableau")
	}
	for _, s := range r.siteList() {
		if secret, ok := got.SiteSecrets[s.Name]; ok && err == nil && secret != "" && s.multi {
			r.mu.Lock()
			s.renewed = time.Now()
			r.mu.Unlock()
			s.Tableau.SetPATSecret(secret)
			select {
			case s.recheck <- struct{}{}:
			default:
			}
		}
	}
	routing := got.Routing
	for _, ch := range routing.Channels() {
		if err != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err = r.cfg.Slack.ChannelID(cctx, ch)
		cancel()
	}
	if err != nil {
		// The foreground view says it (a line, or a JSON line): once per audience.
		r.log.Debug("reload failed; keeping the current configuration", "err", err)
		r.cfg.Observe.emit(Event{Type: EvStatus, Detail: "reload failed, configuration unchanged: " + err.Error()})
		return
	}
	r.svc.SetRouting(routing)
	r.log.Info("configuration reloaded", "channel", routing.Default, "routes", len(routing.Routes))
	r.cfg.Observe.emit(Event{Type: EvStatus, Detail: fmt.Sprintf("configuration reloaded: posting to %s (%d routes)", routing.Default, len(routing.Routes))})
}

// renew notes that a credential is being replaced: refusals of requests begun before
// now are the old credential's.
func (r *relay) renew(who string) {
	r.mu.Lock()
	if r.renewed == nil {
		r.renewed = map[string]time.Time{}
	}
	r.renewed[who] = time.Now()
	r.mu.Unlock()
}

// poke asks a paused destination to try its credential again now.
func (r *relay) poke(who string) {
	ch := r.rechecks[who]
	if who == "tableau" {
		ch = r.sites[0].recheck
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}
