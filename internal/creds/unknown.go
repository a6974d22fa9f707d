package creds

import (
	"fmt"
	"slices"
	"strings"
)

// routeKeys are the keys of one route in the config file.
var routeKeys = []string{"events", "projects", "channel", "to"}

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
		d := distance(norm, k)
		if strings.TrimSuffix(norm, "s") == k || norm+"s" == k {
			d = 1
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
