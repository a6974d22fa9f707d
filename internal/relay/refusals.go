package relay

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// refusals counts the deliveries intake could not store (answered 503: Tableau
// retries them) and says so at most once a minute, with the count: a storm of refused
// POSTs is one line a minute in the journal, not one per POST.
type refusals struct {
	log     *slog.Logger
	metrics *Metrics
	health  *Health
	every   time.Duration

	mu      sync.Mutex
	unsaid  int // refused since the last line
	episode int // refused since intake began refusing
	last    time.Time
}

// refusalReason is the metric label for why a delivery could not be stored.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, store.ErrAtCap):
		return "backlog_cap"
	case errors.Is(err, store.ErrFull):
		return "disk_full"
	}
	return "store_error"
}

// note counts one refused delivery.
func (r *refusals) note(err error) {
	reason := refusalReason(err)
	r.metrics.Refused(reason)
	now := time.Now()
	r.mu.Lock()
	r.unsaid++
	r.episode++
	if now.Sub(r.last) < r.every {
		r.mu.Unlock()
		return
	}
	n := r.unsaid
	r.unsaid, r.last = 0, now
	r.mu.Unlock()
	r.log.Error("deliveries refused: answered 503, Tableau delivers them again later", "count", n, "reason", reason, "err", err)
}

// refusing hears from the store when intake starts or stops refusing: /readyz turns at
// once (a load balancer stops sending here), and the end is said with the episode's count.
func (r *refusals) refusing(on bool, why error) {
	if on {
		r.health.Set(CompIntake, why.Error())
		r.log.Error("intake refuses new events", "reason", refusalReason(why), "err", why)
		return
	}
	r.health.Set(CompIntake, "")
	r.mu.Lock()
	n := r.episode
	r.episode, r.unsaid, r.last = 0, 0, time.Time{}
	r.mu.Unlock()
	r.log.Info("intake accepts new events again", "refused_meanwhile", n)
}
