package relay

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
)

// Health tracks what /readyz reports: the spool, the Tableau session and Slack auth.
type Health struct {
	mu     sync.Mutex
	checks map[string]string // component → "" when good, else why not
}

// Components of readiness.
const (
	CompSpool    = "spool"
	CompTableau  = "tableau"
	CompSlack    = "slack"
	CompDisk     = "disk"
	CompIntake   = "intake"   // the store refuses new events (backlog at its cap, disk full)
	CompWebhooks = "webhooks" // run cannot check or repair its webhooks
)

// NewHealth starts with every component not ready.
func NewHealth() *Health {
	return &Health{checks: map[string]string{CompSpool: "not open", CompTableau: "not signed in", CompSlack: "not checked"}}
}

// Set records a component's state: problem "" means good.
func (h *Health) Set(component, problem string) {
	h.mu.Lock()
	h.checks[component] = problem
	h.mu.Unlock()
}

// Clear forgets a component that is no longer watched (a channel that works again).
func (h *Health) Clear(component string) {
	h.mu.Lock()
	delete(h.checks, component)
	h.mu.Unlock()
}

// Ready reports whether every component is good, with the problems.
func (h *Health) Ready() (bool, map[string]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	ok := true
	for k, v := range h.checks {
		if v == "" {
			out[k] = "ok"
		} else {
			out[k], ok = v, false
		}
	}
	return ok, out
}

// serveReady answers who may ask (anyone who reaches the listener, within
// --allow-cidr) with readiness and the names of the failing checks only: the reasons
// carry the internal Tableau URL, the site and resolver addresses — what a forger
// needs. They go to the log, doctor and the metrics instead.
func (h *Health) serveReady(w http.ResponseWriter, _ *http.Request) {
	ok, checks := h.Ready()
	failing := []string{}
	for name, state := range checks {
		if state != "ok" {
			failing = append(failing, name)
		}
	}
	slices.Sort(failing)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "failing": failing})
}
