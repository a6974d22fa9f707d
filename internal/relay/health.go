package relay

import (
	"encoding/json"
	"net/http"
	"sync"
)

// Health tracks what /readyz reports: the spool, the Tableau session and Slack auth.
type Health struct {
	mu     sync.Mutex
	checks map[string]string // component → "" when good, else why not
}

// Components of readiness.
const (
	CompSpool   = "spool"
	CompTableau = "tableau"
	CompSlack   = "slack"
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

func (h *Health) serveReady(w http.ResponseWriter, _ *http.Request) {
	ok, checks := h.Ready()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": checks})
}
