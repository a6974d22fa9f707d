// Package render turns an event's facts into a Slack Block Kit message with a plain
// text fallback.
package render

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// Slack's limits.
const (
	maxHeader  = 150
	maxSection = 3000
	maxField   = 2000
	maxText    = 4000
)

// Message is what is posted.
type Message struct {
	Text   string // notification fallback (mrkdwn-escaped)
	Blocks []slack.Block
}

// emojis are the events' symbols in a message's header.
var emojis = map[string]string{
	"WorkbookCreated":            ":new:",
	"WorkbookUpdated":            ":pencil2:",
	"WorkbookDeleted":            ":wastebasket:",
	"WorkbookRefreshStarted":     ":hourglass_flowing_sand:",
	"WorkbookRefreshSucceeded":   ":white_check_mark:",
	"WorkbookRefreshFailed":      ":x:",
	"DatasourceCreated":          ":new:",
	"DatasourceUpdated":          ":pencil2:",
	"DatasourceDeleted":          ":wastebasket:",
	"DatasourceRefreshStarted":   ":hourglass_flowing_sand:",
	"DatasourceRefreshSucceeded": ":white_check_mark:",
	"DatasourceRefreshFailed":    ":x:",
	"ViewDeleted":                ":wastebasket:",
	"UserDeleted":                ":wastebasket:",
	"AdminPromoted":              ":arrow_up:",
	"AdminDemoted":               ":arrow_down:",
	"LabelCreated":               ":label:",
	"LabelUpdated":               ":label:",
	"LabelDeleted":               ":label:",
	"SiteCreated":                ":office:",
	"SiteUpdated":                ":office:",
	"SiteDeleted":                ":office:",
}

func emoji(event string) string {
	if e, ok := emojis[event]; ok {
		return e
	}
	return ":bell:"
}

// mrkdwn is a text object for text that may carry untrusted strings (names, projects,
// owners, tags, event types: publishers and forgers choose them). verbatim keeps Slack
// from turning what looks like a URL, a channel or a user into a link or a mention;
// the text is escaped by the caller.
func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, true)
}

// Escape makes text safe where Slack reads mrkdwn.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func link(url, text string) string {
	if url == "" {
		return "*" + Escape(text) + "*"
	}
	// "|" ends a link's URL part; the text is escaped and may not contain it either.
	return "*<" + Escape(strings.ReplaceAll(url, "|", "%7C")) + "|" + Escape(strings.ReplaceAll(text, "|", "¦")) + ">*"
}

// Render builds the message for one event.
func Render(f enrich.Facts) Message {
	n := words.Name(f)
	said := words.Event(f.Event)

	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Cut(emoji(f.Event)+" "+said+": "+n, maxHeader), true, false))

	body := link(f.URL, n)
	if f.Payload.Text != "" {
		body += "\n" + Escape(f.Payload.Text)
	}
	var fields []*slack.TextBlockObject
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, mrkdwn(text.Cut("*"+label+"*\n"+Escape(value), maxField)))
		}
	}
	add("Site", f.Site)
	add("Project", f.Project)
	if owner := ownerText(f); owner != "" {
		fields = append(fields, mrkdwn(text.Cut("*Owner*\n"+owner, maxField)))
	}
	add("Site role", f.SiteRole)
	if len(f.Tags) > 0 {
		add("Tags", strings.Join(f.Tags, ", "))
	}
	section := slack.NewSectionBlock(mrkdwn(text.Cut(body, maxSection)), fields, nil)
	blocks := []slack.Block{header, section}
	blocks = append(blocks, refreshBlocks(f)...)

	var buttons []slack.BlockElement
	if Actionable(f) {
		buttons = actionButtons(f)
	}
	if f.URL != "" {
		btn := slack.NewButtonBlockElement("open", "open", slack.NewTextBlockObject(slack.PlainTextType, "Open in Tableau", false, false))
		btn.URL = f.URL
		buttons = append(buttons, btn)
	}
	if len(buttons) > 0 {
		id := ""
		if Actionable(f) {
			id = ActionsBlockID
		}
		blocks = append(blocks, slack.NewActionBlock(id, buttons...))
	}
	ctx := []slack.MixedElement{mrkdwn(Escape(contextLine(f)))}
	if f.HeldWhileMuted > 0 {
		ctx = append(ctx, mrkdwn(fmt.Sprintf(":mute: %d %s held back while the item was muted", f.HeldWhileMuted, plural(f.HeldWhileMuted, "alert"))))
	}
	if f.Degraded != "" {
		ctx = append(ctx, mrkdwn(":warning: "+Escape(f.Degraded)+"; showing what the webhook said."))
	}
	blocks = append(blocks, slack.NewContextBlock("", ctx...))
	return Message{Text: text.Cut(Fallback(f), maxText), Blocks: blocks}
}

// Fallback is the notification text: the event in words, the name, project and owner.
func Fallback(f enrich.Facts) string {
	s := words.Event(f.Event) + ": " + words.Name(f)
	var extra []string
	if f.Site != "" {
		extra = append(extra, "site "+f.Site)
	}
	if f.Project != "" {
		extra = append(extra, "project "+f.Project)
	}
	if f.Owner != "" {
		extra = append(extra, "owner "+f.Owner)
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	s = Escape(s + refreshFallback(f))
	if slackUser.MatchString(f.OwnerSlackID) {
		s += " <@" + f.OwnerSlackID + ">" // the mention that notifies the owner
	}
	return s
}

func contextLine(f enrich.Facts) string {
	parts := []string{f.Event}
	if t, err := time.Parse(time.RFC3339, f.Payload.CreatedAt); err == nil {
		parts = append(parts, clock(t))
	} else if f.Payload.CreatedAt != "" {
		parts = append(parts, f.Payload.CreatedAt)
	}
	return strings.Join(parts, " · ")
}

// Digest limits: each event's line is cut to maxDigestLine characters, and the list
// to maxDigestSections sections; events past that are counted, never dropped. A digest
// of more than maxDigestNamed events — a backlog after an outage — names that many,
// failures first, after a count of every event by type.
const (
	maxDigestLine     = 300
	maxDigestSections = 45
	maxDigestNamed    = 50
	// maxDigestActions is how many failures of a digest get buttons of their own
	// (--actions): the first, in order.
	maxDigestActions = 5
)

// Digest is one message that stands for several events of one channel: it names each
// of them, or — should they not fit in one message — names as many as fit and says
// how many more there are and where to see them. Every event it is given is
// represented, so each may be marked delivered.
func Digest(facts []enrich.Facts) Message {
	title := fmt.Sprintf(":package: %d Tableau events", len(facts))
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, text.Cut(title, maxHeader), true, false))}
	listed := facts
	if len(facts) > maxDigestNamed {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text.Cut(countByEvent(facts), maxSection)), nil, nil))
		listed = worstFirst(facts)[:maxDigestNamed]
	}
	named := 0
	// The first failures (--actions) stand alone, each with its buttons.
	var rest []enrich.Facts
	for _, f := range listed {
		if Actionable(f) && named < maxDigestActions {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(digestLine(f)), nil, nil), slack.NewActionBlock("", actionButtons(f)...))
			named++
			continue
		}
		rest = append(rest, f)
	}
	var sections []string
	var chunk strings.Builder
	for _, f := range rest {
		l := digestLine(f)
		if chunk.Len()+len(l)+1 > maxSection {
			if len(sections) == maxDigestSections-2 {
				break // the last sections are kept for the counts
			}
			sections = append(sections, chunk.String())
			chunk.Reset()
		}
		if chunk.Len() > 0 {
			chunk.WriteByte('\n')
		}
		chunk.WriteString(l)
		named++
	}
	if chunk.Len() > 0 {
		sections = append(sections, chunk.String())
	}
	if rest := len(facts) - named; rest > 0 {
		sections = append(sections, fmt.Sprintf("…and %d more; `tabhook deliveries list` shows every event.", rest))
	}
	for _, sec := range sections {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(sec), nil, nil))
	}
	return Message{Text: Escape(fmt.Sprintf("%d Tableau events", len(facts))), Blocks: blocks}
}

// digestLine names one event of a digest.
func digestLine(f enrich.Facts) string {
	site := ""
	if f.Site != "" {
		site = " (site " + Escape(f.Site) + ")"
	}
	return text.Cut("• "+Escape(words.Event(f.Event))+": "+link(f.URL, text.Cut(words.Name(f), maxDigestLine))+site, maxSection)
}

// countByEvent is "*By event:* 950 × Workbook extract refresh failed · 50 × …",
// failures first, then the most frequent.
func countByEvent(facts []enrich.Facts) string {
	counts := map[string]int{}
	failed := map[string]bool{}
	for _, f := range facts {
		counts[f.Event]++
		failed[f.Event] = f.IsFailure()
	}
	events := make([]string, 0, len(counts))
	for e := range counts {
		events = append(events, e)
	}
	sort.Slice(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if failed[a] != failed[b] {
			return failed[a]
		}
		if counts[a] != counts[b] {
			return counts[a] > counts[b]
		}
		return a < b
	})
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = fmt.Sprintf("%d × %s", counts[e], Escape(words.Event(e)))
	}
	return "*By event:* " + strings.Join(parts, " · ")
}

// worstFirst is the events with refresh failures first, each group in its order.
func worstFirst(facts []enrich.Facts) []enrich.Facts {
	out := make([]enrich.Facts, 0, len(facts))
	for _, f := range facts {
		if f.IsFailure() {
			out = append(out, f)
		}
	}
	for _, f := range facts {
		if !f.IsFailure() {
			out = append(out, f)
		}
	}
	return out
}
