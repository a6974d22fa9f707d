package creds

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tabhook/tabhook/internal/text"
)

// routeKeys are the keys of one route in the config file.
var routeKeys = []string{"events", "projects", "site", "channel", "to"}

// UnknownKeys names the config file's keys that no setting reads — a typo such as
// slack-chanel or pat_secret_file, or event: inside a route — each with the nearest
// known key. They would otherwise be ignored without a word.
func (r *Resolver) UnknownKeys(known []string) []string {
	if r.configPath == "" {
		return nil
	}
	var out []string
	for key := range r.config.AllSettings() {
		if !slices.Contains(known, key) {
			out = append(out, r.unknown(key, "", known))
		}
	}
	if routes, ok := r.config.Get("routes").([]any); ok {
		for i, rt := range routes {
			m, ok := rt.(map[string]any)
			if !ok {
				continue
			}
			for key := range m {
				if !slices.Contains(routeKeys, key) {
					out = append(out, r.unknown(key, fmt.Sprintf("in route %d ", i+1), routeKeys))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func (r *Resolver) unknown(key, where string, known []string) string {
	msg := fmt.Sprintf("config file %s: unknown key %q %sis ignored", r.configPath, key, where)
	if near := nearest(key, known); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return msg
}

// nearest is the known key closest to key, when close enough to be a typo.
func nearest(key string, known []string) string {
	norm := strings.ReplaceAll(strings.ToLower(key), "_", "-")
	best, bestD := "", 4
	for _, k := range known {
		d := text.Distance(norm, k)
		if strings.TrimSuffix(norm, "s") == k || norm+"s" == k {
			d = 1
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}
