package relay

import (
	"fmt"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Route sends matching events to a channel. Empty lists match everything.
type Route struct {
	Events   []string `mapstructure:"events" json:"events,omitempty"`     // API names, any spelling
	Projects []string `mapstructure:"projects" json:"projects,omitempty"` // project names, as Tableau shows them
	Channel  string   `mapstructure:"channel" json:"channel"`
}

// Routing picks each event's channel: the first route that matches, else the default.
type Routing struct {
	Default string
	Routes  []Route
}

// Check normalises the routes' event names and refuses routes without a channel.
func (r Routing) Check() (Routing, error) {
	out := Routing{Default: r.Default}
	for i, rt := range r.Routes {
		if rt.Channel == "" {
			return Routing{}, fmt.Errorf("route %d has no channel", i+1)
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
		out.Routes = append(out.Routes, rt)
	}
	return out, nil
}

// Channels lists every channel the routing may post to, the default first.
func (r Routing) Channels() []string {
	seen := map[string]bool{r.Default: true}
	out := []string{r.Default}
	for _, rt := range r.Routes {
		if !seen[rt.Channel] {
			seen[rt.Channel] = true
			out = append(out, rt.Channel)
		}
	}
	return out
}

// Channel is where an event with these facts goes.
func (r Routing) Channel(f enrich.Facts) string {
	for _, rt := range r.Routes {
		if matches(rt.Events, f.Event) && matches(rt.Projects, f.Project) {
			return rt.Channel
		}
	}
	return r.Default
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
