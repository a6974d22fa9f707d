package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Site is one Tableau site a relay of several sites serves (config file sites:).
type Site struct {
	Name    string // content URL; "" the Default site
	Tableau TableauAPI
	// Path is where its deliveries are taken; PublicURL (run) what its webhooks
	// point at. Each site's own: a delivery is that site's by the path it came in on.
	Path, PublicURL string
	Events          []string // run: its webhooks' events (API names)
	NamePrefix      string   // run: its webhooks' name prefix
}

// Label is how lines and messages name the site.
func (s Site) Label() string { return SiteLabel(s.Name) }

// SiteLabel names a site by its content URL: "Default" for the Default site.
func SiteLabel(contentURL string) string {
	if contentURL == "" {
		return "Default"
	}
	return contentURL
}

// SitePath is the listener path (or public URL) of a site's deliveries below base:
// base itself for the Default site, so a relay that adds sites keeps its webhooks'
// address for the Default site.
func SitePath(base, contentURL string) string {
	if contentURL == "" {
		return base
	}
	return strings.TrimSuffix(base, "/") + "/" + contentURL
}

// site is a served site and what the relay knows of it.
type site struct {
	Site
	multi    bool // one of several: its health and lines name it
	reg      admin.Registration
	enricher *enrich.Enricher
	recheck  chan struct{} // a reload asks to try its credential again

	// under relay.mu
	id      string // its LUID, once signed in
	managed []tableau.Webhook
	leave   func(context.Context) (bool, error) // run on a shared store
	paused  bool                                // Tableau refuses its credential
	stop    context.CancelFunc                  // ends its goroutines (a site dropped)
	renewed time.Time                           // when a reload last replaced its secret
}

// comp is the site's /readyz component for a kind ("tableau", "webhooks").
func (s *site) comp(kind string) string {
	if !s.multi {
		return kind
	}
	return kind + " " + s.Label()
}

// newSites are the sites of cfg: Sites, or the one site of Tableau at Path.
func newSites(cfg Config) []*site {
	if len(cfg.Sites) == 0 {
		one := Site{Tableau: cfg.Tableau, Path: cfg.Path, PublicURL: cfg.PublicURL, Events: cfg.Events, NamePrefix: cfg.NamePrefix}
		return []*site{{Site: one, reg: admin.Registration{Prefix: one.NamePrefix, URL: one.PublicURL, Events: one.Events}, recheck: make(chan struct{}, 1)}}
	}
	out := make([]*site, 0, len(cfg.Sites))
	multi := len(cfg.Sites) > 1 || cfg.DiscoverSites != nil
	for _, s := range cfg.Sites {
		if len(s.Events) == 0 {
			s.Events = cfg.Events
		}
		if s.NamePrefix == "" {
			s.NamePrefix = cfg.NamePrefix
		}
		out = append(out, &site{Site: s, multi: multi, reg: admin.Registration{Prefix: s.NamePrefix, URL: s.PublicURL, Events: s.Events}, recheck: make(chan struct{}, 1)})
	}
	return out
}

// siteOf is the served site an event belongs to: the one with its LUID, else the one
// whose path it came in on (before that site's sign-in told its LUID); nil when none.
func (r *relay) siteOf(p payload.Payload) *site {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sites {
		if s.id != "" && s.id == p.SiteLUID {
			return s
		}
	}
	if len(r.sites) == 1 {
		return r.sites[0]
	}
	for _, s := range r.sites {
		if s.Name == p.Site && s.id == "" {
			return s
		}
	}
	return nil
}

// siteByID is the served site with this LUID; nil when none (or not signed in yet).
func (r *relay) siteByID(id string) *site {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sites {
		if s.id != "" && s.id == id {
			return s
		}
	}
	return nil
}

// siteState is what delivery needs to know of an event's site: "" and ok to go on, a
// reason to wait (not signed in yet, its credential refused), or not served.
func (r *relay) siteState(p payload.Payload) SiteCheck {
	s := r.siteOf(p)
	if s == nil {
		return SiteCheck{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case s.paused && s.multi:
		return SiteCheck{Served: true, Paused: true}
	case s.id == "":
		return SiteCheck{Served: true, Wait: "waiting for the Tableau sign-in to learn the site"}
	case s.id != p.SiteLUID:
		return SiteCheck{}
	}
	return SiteCheck{Served: true}
}

// siteEnricher looks each event up on its own site.
type siteEnricher struct{ r *relay }

func (e siteEnricher) Enrich(ctx context.Context, p payload.Payload) enrich.Facts {
	s := e.r.siteOf(p)
	if s == nil || s.enricher == nil {
		return enrich.Facts{Payload: p, Degraded: "site not served"}
	}
	f := s.enricher.Enrich(ctx, p)
	if s.multi {
		f.Site = s.Label()
	}
	return f
}

// warningsOf is the data quality warnings of an event's site.
func (r *relay) warningsOf(p payload.Payload) QualityWarnings {
	if s := r.siteOf(p); s != nil {
		return s.Tableau
	}
	return nil
}

// intakeSites are the listener's paths: one per site.
func (r *relay) intakeSites() []IntakeSite {
	out := make([]IntakeSite, 0, len(r.sites))
	for _, s := range r.sites {
		name := s.Name
		if !s.multi {
			name = "" // one site: its events stay as they were stored before sites
		}
		out = append(out, IntakeSite{Name: name, Path: s.Path, SiteID: func() string { return r.siteID(s) }})
	}
	return out
}

// siteList is the sites served now (sites: all adds and drops them while running).
func (r *relay) siteList() []*site {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sites)
}

// intakeSiteFor finds a delivery's site by its path, as sites come and go; nil for a
// relay of one site (its path is fixed).
func (r *relay) intakeSiteFor() func(path string) (IntakeSite, bool) {
	if !r.multi {
		return nil
	}
	return func(path string) (IntakeSite, bool) {
		for _, s := range r.siteList() {
			if s.Path == path {
				return IntakeSite{Name: s.Name, Path: s.Path, SiteID: func() string { return r.siteID(s) }}, true
			}
		}
		return IntakeSite{}, false
	}
}

// maxDiscovered bounds sites: all: a server with more sites than this is served up to
// it, and the rest said.
const maxDiscovered = 100

// discover asks for the sites to serve, bounded in time and number.
func discover(ctx context.Context, find func(context.Context) ([]Site, error)) ([]Site, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sites, err := find(dctx)
	if err != nil {
		return nil, fmt.Errorf("sites: all: could not list the server's sites: %w", err)
	}
	if len(sites) == 0 {
		return nil, errors.New("sites: all: the token's user can enter no site")
	}
	if len(sites) > maxDiscovered {
		sites = sites[:maxDiscovered]
	}
	return sites, nil
}

// watchSites (sites: all) lists the server's sites every WebhookCheck: a site added is
// served from then on (its webhooks registered, for run), a site deleted is dropped.
func (r *relay) watchSites(ctx context.Context) {
	every(ctx, r.webhookCheckEvery(), func() {
		found, err := discover(ctx, r.cfg.DiscoverSites)
		if err != nil {
			r.log.Debug("could not list the server's sites; trying again later", "err", err)
			return
		}
		r.applySites(ctx, found)
	})
}

// applySites adds the sites found that are not served yet and drops those gone.
func (r *relay) applySites(ctx context.Context, found []Site) {
	now := map[string]bool{}
	for _, f := range found {
		now[f.Name] = true
	}
	served := map[string]bool{}
	for _, s := range r.siteList() {
		served[s.Name] = true
		if !now[s.Name] {
			r.dropSite(s)
		}
	}
	for _, f := range found {
		if !served[f.Name] {
			r.addSite(ctx, f)
		}
	}
}

func (r *relay) addSite(ctx context.Context, f Site) {
	if len(f.Events) == 0 {
		f.Events = r.cfg.Events
	}
	if f.NamePrefix == "" {
		f.NamePrefix = r.cfg.NamePrefix
	}
	s := &site{Site: f, multi: true, reg: admin.Registration{Prefix: f.NamePrefix, URL: f.PublicURL, Events: f.Events},
		recheck: make(chan struct{}, 1), enricher: enrich.New(f.Tableau, r.eo)}
	r.health.Set(s.comp(CompTableau), "not signed in")
	if r.cfg.Manage {
		r.health.Set(s.comp(CompWebhooks), "not registered yet")
	}
	r.mu.Lock()
	r.sites = append(r.sites, s)
	r.mu.Unlock()
	r.log.Info("a site was added on the server: serving it", "site", s.Label())
	r.cfg.Observe.emit(Event{Type: EvStatus, Site: s.Label(), Detail: "site " + s.Label() + " was added on the server: serving it"})
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.connectSite(ctx, s, r.signIn(ctx, s) == nil, func() {})
	}()
}

func (r *relay) dropSite(s *site) {
	r.mu.Lock()
	r.sites = slices.DeleteFunc(r.sites, func(x *site) bool { return x == s })
	stop := s.stop
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	r.health.Clear(s.comp(CompTableau))
	r.health.Clear(s.comp(CompWebhooks))
	r.log.Warn("a site is gone from the server: no longer served", "site", s.Label())
	r.cfg.Observe.emit(Event{Type: EvStatus, Site: s.Label(), Detail: "site " + s.Label() + " is gone from the server: no longer served (its webhooks went with it)"})
}
