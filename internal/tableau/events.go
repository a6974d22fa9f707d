package tableau

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tabhook/tabhook/internal/text"
)

// Event describes one webhook event Tableau can send.
type Event struct {
	Name     string // API name, e.g. WorkbookUpdated
	Resource string // the payload's "resource", e.g. WORKBOOK
	Source   string // the webhook-source element used before API 3.9
}

// events is the catalogue from Tableau's webhook documentation.
var events = []Event{
	{"WorkbookCreated", "WORKBOOK", "webhook-source-event-workbook-created"},
	{"WorkbookUpdated", "WORKBOOK", "webhook-source-event-workbook-updated"},
	{"WorkbookDeleted", "WORKBOOK", "webhook-source-event-workbook-deleted"},
	{"WorkbookRefreshStarted", "EXTRACTS", "webhook-source-event-workbook-refresh-started"},
	{"WorkbookRefreshSucceeded", "EXTRACTS", "webhook-source-event-workbook-refresh-succeeded"},
	{"WorkbookRefreshFailed", "EXTRACTS", "webhook-source-event-workbook-refresh-failed"},
	{"DatasourceCreated", "DATASOURCE", "webhook-source-event-datasource-created"},
	{"DatasourceUpdated", "DATASOURCE", "webhook-source-event-datasource-updated"},
	{"DatasourceDeleted", "DATASOURCE", "webhook-source-event-datasource-deleted"},
	{"DatasourceRefreshStarted", "EXTRACTS", "webhook-source-event-datasource-refresh-started"},
	{"DatasourceRefreshSucceeded", "EXTRACTS", "webhook-source-event-datasource-refresh-succeeded"},
	{"DatasourceRefreshFailed", "EXTRACTS", "webhook-source-event-datasource-refresh-failed"},
	{"ViewDeleted", "VIEW", "webhook-source-event-view-deleted"},
	{"UserDeleted", "USER", "webhook-source-event-user-deleted"},
	{"AdminPromoted", "USER", "webhook-event-user-promoted-admin"},
	{"AdminDemoted", "USER", "webhook-event-user-demoted-admin"},
	{"LabelCreated", "LABEL", "webhook-source-event-label-created"},
	{"LabelUpdated", "LABEL", "webhook-source-event-label-updated"},
	{"LabelDeleted", "LABEL", "webhook-source-event-label-deleted"},
	{"SiteCreated", "SITE", "webhook-source-event-site-created"},
	{"SiteUpdated", "SITE", "webhook-source-event-site-updated"},
	{"SiteDeleted", "SITE", "webhook-source-event-site-deleted"},
}

// Events returns the catalogue of webhook events in documentation order.
func Events() []Event {
	out := make([]Event, len(events))
	copy(out, events)
	return out
}

// EventNames returns the API names of every event, sorted.
func EventNames() []string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.Name
	}
	sort.Strings(names)
	return names
}

// UnknownEventError is returned by ParseEvent for a name that is not in the catalogue.
type UnknownEventError struct{ Name string }

// UsageError marks an unknown event as the caller's mistake (exit 2).
func (e *UnknownEventError) UsageError() bool { return true }

func (e *UnknownEventError) Error() string {
	if near := nearestEvent(e.Name); near != "" {
		return fmt.Sprintf("unknown event %q; did you mean %s? ('tabhook events' lists all %d)", e.Name, near, len(events))
	}
	return fmt.Sprintf("unknown event %q; valid events: %s", e.Name, strings.Join(EventNames(), ", "))
}

// nearestEvent is the event whose name is closest to s (edit distance at most a
// fifth of its length, and at least 2), or "": a typo, not another word.
func nearestEvent(s string) string {
	key := normalizeEvent(s)
	best, bestD := "", max(2, len(key)/5)+1
	for _, e := range events {
		if d := text.Distance(key, normalizeEvent(e.Name)); d < bestD {
			best, bestD = e.Name, d
		}
	}
	return best
}

// ParseEvent accepts an event in any of its three spellings, case-insensitively:
// WorkbookUpdated, workbook-updated or webhook-source-event-workbook-updated.
func ParseEvent(s string) (Event, error) {
	key := normalizeEvent(s)
	for _, e := range events {
		if key == normalizeEvent(e.Name) || key == normalizeEvent(e.Source) || key == normalizeEvent(Kebab(e.Name)) {
			return e, nil
		}
	}
	return Event{}, &UnknownEventError{Name: s}
}

// EventBySource maps a webhook-source element name to its event; ok is false when unknown.
func EventBySource(source string) (Event, bool) {
	for _, e := range events {
		if strings.EqualFold(source, e.Source) {
			return e, true
		}
	}
	return Event{}, false
}

func normalizeEvent(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, p := range []string{"webhook-source-event-", "webhook-event-"} {
		s = strings.TrimPrefix(s, p)
	}
	s = strings.ReplaceAll(s, "-", "")
	s = strings.ReplaceAll(s, "_", "")
	// The documented source names for admin events read "user-promoted-admin".
	switch s {
	case "userpromotedadmin":
		return "adminpromoted"
	case "userdemotedadmin":
		return "admindemoted"
	}
	return s
}

// Kebab turns an API name into kebab case: WorkbookRefreshFailed → workbook-refresh-failed.
func Kebab(name string) string {
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
