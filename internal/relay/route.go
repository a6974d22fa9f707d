package relay

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Route sends matching events to a Slack channel, to named destinations, or both.
// Empty lists match everything.
type Route struct {
	Events   []string `mapstructure:"events" json:"events,omitempty"`     // API names, any spelling
	Projects []string `mapstructure:"projects" json:"projects,omitempty"` // project names, as Tableau shows them
	// Site: sites' content URLs ("Default" or "" the Default site); a relay of
	// several sites only.
	Site    []string `mapstructure:"site" json:"site,omitempty"`
	Channel string   `mapstructure:"channel" json:"channel,omitempty"`
	To      []string `mapstructure:"to" json:"to,omitempty"` // destinations' names
}

// Routing picks each event's channel and destinations: the first route that matches,
// else the default channel.
type Routing struct {
	Default string
	Routes  []Route
	// Destinations are the configured destinations by name, for Check.
	Destinations map[string]destination.Config
	// Sites are the content URLs of the sites served, for Check; nil: one site
	// (routes cannot name sites).
	Sites []string
}

// Check normalises the routes' event names and refuses a route that goes nowhere,
// names a destination that is not configured, or sends a destination events its type
// does not take (PagerDuty pages about refresh outcomes only).
func (r Routing) Check() (Routing, error) {
	out := Routing{Default: r.Default, Destinations: r.Destinations, Sites: r.Sites}
	for i, rt := range r.Routes {
		if err := r.checkSites(i, rt); err != nil {
			return Routing{}, err
		}
		if rt.Channel == "" && len(rt.To) == 0 {
			return Routing{}, fmt.Errorf("route %d has no channel and no to: give a Slack channel, destinations, or both", i+1)
		}
		events := make([]string, 0, len(rt.Events))
		for _, e := range rt.Events {
			ev, err := tableau.ParseEvent(e)
			if err != nil {
				return Routing{}, fmt.Errorf("route %d: %w", i+1, err)
			}
			events = append(events, ev.Name)
		}
		rt.Events = events
		if err := r.checkTo(i, rt); err != nil {
			return Routing{}, err
		}
		out.Routes = append(out.Routes, rt)
	}
	return out, nil
}

func (r Routing) checkSites(i int, rt Route) error {
	if len(rt.Site) == 0 {
		return nil
	}
	if r.Sites == nil {
		return fmt.Errorf("route %d names a site, but the relay serves one site: list the sites under sites: in the config file", i+1)
	}
	if slices.Contains(r.Sites, "*") {
		return nil // sites: all — sites come and go; a route may name one to come
	}
	for _, s := range rt.Site {
		if !slices.ContainsFunc(r.Sites, func(served string) bool { return store.SiteIs(served, s) }) {
			labels := make([]string, len(r.Sites))
			for j, served := range r.Sites {
				labels[j] = SiteLabel(served)
			}
			return fmt.Errorf("route %d: site %q is not a site of this relay (sites: %s)", i+1, s, strings.Join(labels, ", "))
		}
	}
	return nil
}

func (r Routing) checkTo(i int, rt Route) error {
	for _, name := range rt.To {
		d, ok := r.Destinations[name]
		if !ok {
			known := slices.Sorted(maps.Keys(r.Destinations))
			if len(known) == 0 {
				return fmt.Errorf("route %d: to names %q, but the config file defines no destinations", i+1, name)
			}
			return fmt.Errorf("route %d: to names %q, which is not a destination (defined: %s)", i+1, name, strings.Join(known, ", "))
		}
		if d.Kind.Takes == nil {
			continue // it takes every event
		}
		if len(rt.Events) == 0 {
			return fmt.Errorf("route %d sends every event to %s, a %s destination, which takes only %s: list them in events", i+1, name, d.Type(), d.Kind.TakesWhat)
		}
		for _, e := range rt.Events {
			if !d.Takes(e) {
				return fmt.Errorf("route %d sends %s to %s, a %s destination, which takes only %s", i+1, e, name, d.Type(), d.Kind.TakesWhat)
			}
		}
	}
	return nil
}

// Channels lists every channel the routing may post to, the default first.
func (r Routing) Channels() []string {
	seen := map[string]bool{"": true}
	var out []string
	if r.Default != "" {
		seen[r.Default] = true
		out = append(out, r.Default)
	}
	for _, rt := range r.Routes {
		if rt.Channel != "" && !seen[rt.Channel] {
			seen[rt.Channel] = true
			out = append(out, rt.Channel)
		}
	}
	return out
}

// Channel is the Slack channel an event with these facts goes to; "" when its route
// sends it only to destinations.
func (r Routing) Channel(f enrich.Facts) string {
	ch, _ := r.Route(f)
	return ch
}

// Route is where an event with these facts goes: its Slack channel ("" for none) and
// its destinations.
func (r Routing) Route(f enrich.Facts) (channel string, to []string) {
	for _, rt := range r.Routes {
		if matches(rt.Events, f.Event) && matches(rt.Projects, f.Project) && matchesSite(rt.Site, f.Payload.Site) {
			return rt.Channel, rt.To
		}
	}
	return r.Default, nil
}

func matchesSite(list []string, contentURL string) bool {
	return len(list) == 0 || slices.ContainsFunc(list, func(s string) bool { return store.SiteIs(contentURL, s) })
}

func matches(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
