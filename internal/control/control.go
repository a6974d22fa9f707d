// Package control lets the CLI inspect and retry the stored deliveries while a relay
// holds the store: the relay serves a small HTTP API on a Unix socket in its state
// directory, and the CLI falls back to opening the spool itself when no relay runs.
// Both answer in the documented wire shape, Delivery.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// SocketName is the control socket inside the state directory.
const SocketName = "control.sock"

// Deliveries is what the CLI can do with the stored deliveries.
type Deliveries interface {
	// List returns a page (store.ListQuery): a listing reads page by page.
	List(ctx context.Context, q store.ListQuery) ([]Delivery, error)
	Get(ctx context.Context, id uint64) (Delivery, error)
	Retry(ctx context.Context, id uint64) (Delivery, error)
	Close() error
}

// Server serves the control API for a running relay.
type Server struct {
	srv  *http.Server
	path string
}

// Serve starts the control API on stateDir/control.sock. An event retried is made
// pending in the store, which tells the relay's scheduler.
func Serve(stateDir string, st store.Store) (*Server, error) {
	path := filepath.Join(stateDir, SocketName)
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another relay answers on it", path)
	}
	_ = os.Remove(path) // a stale socket left by a crash
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	h := &handler{st: st}
	mux.HandleFunc("GET /deliveries", h.list)
	mux.HandleFunc("GET /deliveries/{id}", h.get)
	mux.HandleFunc("POST /deliveries/{id}/retry", h.retry)
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, path: path}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the API and removes the socket.
func (s *Server) Close() error {
	err := s.srv.Close()
	_ = os.Remove(s.path)
	return err
}

type handler struct {
	st store.Store
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrDelivered):
		status = http.StatusConflict
	}
	reply(w, status, map[string]string{"error": err.Error()})
}

// MaxPage is the most records one answer of the control API holds: a listing of any
// size never grows the relay's memory by more than a page.
const MaxPage = 500

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = MaxPage
	}
	recs, err := h.st.List(q)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, wire(recs))
}

// Query is a ListQuery as the control API's URL carries it.
func Query(q store.ListQuery) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("state", string(q.State))
	set("destination", q.Destination)
	set("site", q.Site)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// ParseQuery reads what Query wrote.
func ParseQuery(v url.Values) (store.ListQuery, error) {
	q := store.ListQuery{State: store.State(v.Get("state")), Destination: v.Get("destination"), Site: v.Get("site")}
	var err error
	if s := v.Get("since"); s != "" {
		if q.Since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return q, fmt.Errorf("since: %w", err)
		}
	}
	if s := v.Get("after"); s != "" {
		if q.After, err = strconv.ParseUint(s, 10, 64); err != nil {
			return q, fmt.Errorf("after: %w", err)
		}
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil {
			return q, fmt.Errorf("limit: %w", err)
		}
	}
	return q, nil
}

func (h *handler) id(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": "event IDs are numbers"})
		return 0, false
	}
	return id, true
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	rec, err := h.st.Get(id)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, FromRecord(rec))
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	id, ok := h.id(w, r)
	if !ok {
		return
	}
	rec, err := h.st.Requeue(id)
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, FromRecord(rec))
}

// wire is records in their wire shape; never null.
func wire(recs []store.Record) []Delivery {
	out := make([]Delivery, len(recs))
	for i, r := range recs {
		out[i] = FromRecord(r)
	}
	return out
}
