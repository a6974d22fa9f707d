package relay

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
)

// Intake stores an accepted event durably; every store.Store does.
type Intake interface {
	Accept(p payload.Payload, now time.Time) (store.Record, bool, error)
}

// HandlerConfig configures the listener's handler.
type HandlerConfig struct {
	Path   string        // the one path deliveries are accepted on (one site)
	SiteID func() string // the signed-in site's LUID; "" while unknown
	// Sites, when set, are the paths of several sites' deliveries instead: each
	// delivery is stored as its path's site's, and refused when its site_luid is
	// another's.
	Sites []IntakeSite
	// SiteFor, when set, finds the site of a path below Path as deliveries come (sites
	// come and go with sites: all); Sites is then not used.
	SiteFor func(path string) (IntakeSite, bool)
	Intake  Intake
	Notify  func(id uint64) // a new event is ready for delivery
	Health  *Health
	Observe Observer
	Logger  *slog.Logger
	// Allow, when not empty, is the list of networks deliveries may come from; others
	// get 403. Behind a proxy, it is the proxy's address that is checked.
	Allow []netip.Prefix
	// Refused hears of each delivery that could not be stored (answered 503); when
	// nil, each is logged.
	Refused func(err error)
	// Actions, when set, answers Slack's interactivity requests at ActionsPath(Path).
	// It is not behind Allow: Slack's addresses are not Tableau's; every request is
	// signed instead.
	Actions http.Handler
}

// IntakeSite is one site's delivery path.
type IntakeSite struct {
	Name   string        // content URL, stamped on its events (payload.Site)
	Path   string        // where its deliveries come in
	SiteID func() string // its LUID once signed in; "" while unknown
}

// ActionsPath is where Slack's interactivity requests are taken: below the listener's
// path, so the public URL's host and secret path serve both.
func ActionsPath(path string) string { return strings.TrimSuffix(path, "/") + "/slack/actions" }

// NewHandler builds the listener's HTTP handler: deliveries on Path, /healthz, /readyz.
func NewHandler(c HandlerConfig) http.Handler {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	h := &ingest{HandlerConfig: c}
	// Health obeys --allow-cidr like deliveries: a load balancer's checks come from
	// an allowed network; strangers learn nothing.
	mux.HandleFunc("/healthz", h.only(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	if c.Health != nil {
		mux.HandleFunc("/readyz", h.only(c.Health.serveReady))
	}
	sites := c.Sites
	if len(sites) == 0 {
		sites = []IntakeSite{{Path: c.Path, SiteID: c.SiteID}}
	}
	if c.SiteFor != nil {
		bySite := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := c.SiteFor(r.URL.Path)
			if !ok {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
				return
			}
			one := *h
			one.Path, one.SiteID, one.site = s.Path, s.SiteID, s.Name
			one.ServeHTTP(w, r)
		})
		mux.Handle(c.Path, bySite)
		mux.Handle(strings.TrimSuffix(c.Path, "/")+"/", bySite)
	} else {
		for _, s := range sites {
			one := *h
			one.Path, one.SiteID, one.site = s.Path, s.SiteID, s.Name
			mux.Handle(s.Path, &one)
		}
	}
	if c.Actions != nil {
		base := c.Path // the relay's path, below which each site's is
		if base == "" {
			base = sites[0].Path
		}
		mux.Handle(ActionsPath(base), c.Actions)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	return mux
}

type ingest struct {
	HandlerConfig
	site string // the content URL its events are stamped with
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (h *ingest) reject(w http.ResponseWriter, status int, msg string) {
	h.Observe.emit(Event{Type: EvRejected, Status: status, Detail: msg})
	writeJSON(w, status, map[string]string{"error": msg})
}

// only answers 403 to addresses outside Allow, loopback excepted (local probes).
func (h *ingest) only(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.allowed(r.RemoteAddr) && !loopback(r.RemoteAddr) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden"})
			return
		}
		next(w, r)
	}
}

func loopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func (h *ingest) allowed(remote string) bool {
	if len(h.Allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range h.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (h *ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(r.RemoteAddr) {
		h.reject(w, http.StatusForbidden, "deliveries are not accepted from this address")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed: Tableau delivers with POST"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, payload.MaxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.reject(w, http.StatusRequestEntityTooLarge, "body larger than 64 KiB")
			return
		}
		h.reject(w, http.StatusBadRequest, "could not read the body")
		return
	}
	p, err := payload.Parse(body)
	if errors.Is(err, payload.ErrEmpty) {
		h.Observe.emit(Event{Type: EvTest, Detail: r.UserAgent()})
		writeJSON(w, http.StatusOK, map[string]string{"status": "test delivery received"})
		return
	}
	if err != nil {
		h.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	if site := h.SiteID(); site != "" && p.SiteLUID != site {
		msg := "site_luid is not the site this relay serves"
		if h.site != "" || len(h.Sites) > 1 {
			msg = "site_luid is not the site of this path (" + SiteLabel(h.site) + "): each site delivers to its own path"
		}
		h.reject(w, http.StatusForbidden, msg)
		return
	}
	p.Site = h.site
	rec, dup, err := h.Intake.Accept(p, time.Now())
	if err != nil {
		// Not stored, so not acknowledged: Tableau will deliver it again.
		if h.Refused != nil {
			h.Refused(err)
		} else {
			h.Logger.Error("could not store a delivery; answering 503 so Tableau retries", "event", p.EventType, "err", err)
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not store the event; retry"})
		return
	}
	ev := Event{ID: rec.IDString(), Identity: rec.Identity(), EventType: p.EventType, Resource: p.Resource, Name: p.ResourceName, Site: h.site}
	status := "accepted"
	if dup {
		ev.Type, status = EvDuplicate, "duplicate"
	} else {
		ev.Type = EvReceived
		if h.Logger.Enabled(r.Context(), slog.LevelDebug) { // spare the hot path the arguments
			h.Logger.Debug("event stored", "event_id", rec.ID, "event", p.EventType, "resource_luid", p.ResourceLUID)
		}
		if h.Notify != nil {
			h.Notify(rec.ID)
		}
	}
	// The hot path: a fixed answer, written without reflection.
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"` + status + `","id":"` + rec.IDString() + `"}` + "\n"))
	h.Observe.emit(ev)
}
