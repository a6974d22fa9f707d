package admin

import (
	"fmt"
	"strings"

	"github.com/tabhook/tabhook/internal/tableau"
)

// Watched is what serve --watch-webhooks (and doctor) find of webhooks managed
// elsewhere: those named with a prefix that point at a relay.
type Watched struct {
	Enabled, Disabled int
	Problem           string // "" when at least one points here and none is disabled
}

// Watch looks at the site's webhooks named with prefix that point at the relay —
// its public URL, or (without one) a URL ending in its listener path.
func Watch(hooks []tableau.Webhook, prefix, public, path string) Watched {
	var v Watched
	var off []string
	for _, w := range hooks {
		if !strings.HasPrefix(w.Name, prefix) || !pointsHere(w.URL, public, path) {
			continue
		}
		if w.Enabled {
			v.Enabled++
			continue
		}
		reason := w.StatusChangeReason
		if reason == "" {
			reason = "disabled"
		}
		off = append(off, w.Name+" ("+reason+")")
	}
	v.Disabled = len(off)
	switch {
	case v.Enabled+v.Disabled == 0:
		v.Problem = fmt.Sprintf("no webhook named %s* points at this relay: Tableau sends it nothing", prefix)
	case len(off) > 0:
		v.Problem = "disabled, so Tableau sends them nothing: " + strings.Join(off, ", ") + " — enable them with 'tabhook webhook update ID --enabled=true'"
	}
	return v
}

func pointsHere(u, public, path string) bool {
	if public != "" {
		return u == public
	}
	return path != "" && strings.HasSuffix(u, path)
}
