// Package words says Tableau events as people read them — the event in words, the
// item's name, the meaningful line of an error, ordinals and durations — for every
// destination's messages alike (Slack's Block Kit, Teams' cards, PagerDuty's
// summaries, the webhook's body).
package words

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
)

var events = map[string]string{
	"WorkbookCreated":            "Workbook created",
	"WorkbookUpdated":            "Workbook updated",
	"WorkbookDeleted":            "Workbook deleted",
	"WorkbookRefreshStarted":     "Workbook extract refresh started",
	"WorkbookRefreshSucceeded":   "Workbook extract refresh succeeded",
	"WorkbookRefreshFailed":      "Workbook extract refresh failed",
	"DatasourceCreated":          "Data source created",
	"DatasourceUpdated":          "Data source updated",
	"DatasourceDeleted":          "Data source deleted",
	"DatasourceRefreshStarted":   "Data source extract refresh started",
	"DatasourceRefreshSucceeded": "Data source extract refresh succeeded",
	"DatasourceRefreshFailed":    "Data source extract refresh failed",
	"ViewDeleted":                "View deleted",
	"UserDeleted":                "User deleted",
	"AdminPromoted":              "User promoted to site administrator",
	"AdminDemoted":               "User demoted from site administrator",
	"LabelCreated":               "Label created",
	"LabelUpdated":               "Label updated",
	"LabelDeleted":               "Label deleted",
	"SiteCreated":                "Site created",
	"SiteUpdated":                "Site updated",
	"SiteDeleted":                "Site deleted",
}

// Event says the event in words: "Workbook extract refresh failed".
func Event(event string) string {
	if w, ok := events[event]; ok {
		return w
	}
	return "Tableau event " + event
}

// Name is the resource name, or a stand-in when Tableau sent none.
func Name(f enrich.Facts) string {
	if strings.TrimSpace(f.Name) != "" {
		return f.Name
	}
	return "(unnamed " + strings.ToLower(f.Payload.Resource) + " " + f.Payload.ResourceLUID + ")"
}

var (
	// exceptionPrefix is a Java exception's class, which Tableau puts before the text.
	exceptionPrefix = regexp.MustCompile(`^(?:[\w$]+(?:\.[\w$]+)+(?:Exception|Error):\s*)+`)
	// driverPrefix is an ODBC driver's chain of "[vendor][driver][server]" tags.
	driverPrefix = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)+`)
)

// Lines splits Tableau's notes into lines; the recorded notes carry "\n" as two
// characters as often as a real line break.
func Lines(notes string) []string {
	notes = strings.ReplaceAll(strings.ReplaceAll(notes, `\n`, "\n"), "\r", "")
	var out []string
	for _, l := range strings.Split(notes, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Headline is the meaningful line of Tableau's error text: the first line that says
// something once the exception class and the driver tags are taken off.
func Headline(notes string) string {
	for _, l := range Lines(notes) {
		l = strings.TrimSpace(driverPrefix.ReplaceAllString(exceptionPrefix.ReplaceAllString(l, ""), ""))
		if l != "" {
			return l
		}
	}
	return ""
}

// Ordinal is 1st, 2nd, 3rd, 4th, 11th, 21st …
func Ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Duration is a run time as people say it: 45s, 2m 14s, 1h 3m.
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
}
