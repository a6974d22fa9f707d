package relay

import (
	"context"
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
	renewed time.Time                           // when a reload last replaced its secret
}

// comp is the site's /readyz component for a kind ("tableau", "webhooks").
func (s *site) comp(kind string) string {
	if !s.multi {
		return kind
	}
	return kind + " " + s.Label()
}

// who is what pause lines and metrics call the site's credential.
func (s *site) who() string { return "tableau" }

// newSites are the sites of cfg: Sites, or the one site of Tableau at Path.
func newSites(cfg Config) []*site {
	if len(cfg.Sites) == 0 {
		one := Site{Tableau: cfg.Tableau, Path: cfg.Path, PublicURL: cfg.PublicURL, Events: cfg.Events, NamePrefix: cfg.NamePrefix}
		return []*site{{Site: one, reg: admin.Registration{Prefix: one.NamePrefix, URL: one.PublicURL, Events: one.Events}, recheck: make(chan struct{}, 1)}}
	}
	out := make([]*site, 0, len(cfg.Sites))
	for _, s := range cfg.Sites {
		if len(s.Events) == 0 {
			s.Events = cfg.Events
		}
		if s.NamePrefix == "" {
			s.NamePrefix = cfg.NamePrefix
		}
		out = append(out, &site{Site: s, multi: len(cfg.Sites) > 1, reg: admin.Registration{Prefix: s.NamePrefix, URL: s.PublicURL, Events: s.Events}, recheck: make(chan struct{}, 1)})
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
