// Package teams posts events to a Microsoft Teams channel through a Workflows webhook
// ("When a Teams webhook request is received"; the Office 365 connectors are retired):
// a message with one Adaptive Card, version 1.4 — Workflows refuse newer ones.
//
// The cards are built with github.com/atc0005/go-teams-notify's adaptivecard package,
// a typed and validated Adaptive Card model capped at version 1.4; they are sent with
// this package's own HTTP client, which keeps the URL's signature out of every error
// and reads 429's Retry-After.
package teams

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atc0005/go-teams-notify/v2/adaptivecard"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
	txt "github.com/tabhook/tabhook/internal/text"
	"github.com/tabhook/tabhook/internal/words"
)

// MaxBytes is the most a message may weigh: Teams refuses more than 28 KB.
const MaxBytes = 28 * 1024

// limits are how long untrusted texts may be in a card; tighter ones are tried when
// a card is too heavy.
type limits struct {
	name, field, errorText, digestItems int
}

var tries = []limits{
	{name: 250, field: 500, errorText: 2000, digestItems: 40},
	{name: 120, field: 200, errorText: 500, digestItems: 20},
	{name: 60, field: 80, errorText: 150, digestItems: 8},
}

// Payload is the JSON body for events: one card for one event, a digest card for
// several. It is under MaxBytes: long fields are cut until it fits.
func Payload(events []destination.Event) ([]byte, error) {
	var last int
	for _, l := range tries {
		card := single(events, l)
		if len(events) > 1 {
			card = digest(events, l)
		}
		b, err := message(card)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxBytes {
			return b, nil
		}
		last = len(b)
	}
	return nil, fmt.Errorf("the card weighs %d bytes even cut short; Teams takes %d", last, MaxBytes)
}

func message(card adaptivecard.Card) ([]byte, error) {
	msg := adaptivecard.NewMessage()
	if err := msg.Attach(card); err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid card: %w", err)
	}
	return json.Marshal(msg)
}

// escape keeps untrusted text from being read as the markdown Teams renders in text
// blocks and facts (links, emphasis, headings, quotes, lists): the marks are escaped
// wherever they stand, and those that start a list only at the start of a line —
// of any line: multi-line text (an error's notes) starts several.
func escape(s string) string {
	var b strings.Builder
	lineStart := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case strings.ContainsRune("\\*_[]()`~#><|", r):
			b.WriteByte('\\')
		case lineStart && (r == '-' || r == '+'):
			b.WriteByte('\\')
		case lineStart && r >= '0' && r <= '9':
			// "1." or "1)" starts an ordered list: its mark is escaped.
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j < len(s) && (s[j] == '.' || s[j] == ')') {
				b.WriteString(s[i:j])
				b.WriteByte('\\')
				b.WriteByte(s[j])
				i, lineStart = j+1, false
				continue
			}
		}
		b.WriteRune(r)
		lineStart = r == '\n' || (lineStart && (r == ' ' || r == '\t'))
		i += size
	}
	return b.String()
}

// symbol stands for the outcome in the title.
func symbol(event string) string {
	switch {
	case strings.HasSuffix(event, "Failed"):
		return "❌"
	case strings.HasSuffix(event, "Succeeded"):
		return "✅"
	case strings.HasSuffix(event, "Started"):
		return "⏳"
	case strings.HasSuffix(event, "Deleted"):
		return "🗑️"
	}
	return "🔔"
}

// linked is the item's name, linked to Tableau when the URL is known.
func linked(f enrich.Facts, l limits) string {
	n := escape(txt.Cut(words.Name(f), l.name))
	if f.URL == "" || strings.ContainsAny(f.URL, " )") {
		return "**" + n + "**"
	}
	return "**[" + n + "](" + f.URL + ")**"
}

// heading is a large bold line; not the "heading" style, which needs card version 1.5.
func heading(s string) adaptivecard.Element {
	e := adaptivecard.NewTextBlock(s, true)
	e.Size, e.Weight = "large", "bolder"
	return e
}

func text(s string, subtle bool) adaptivecard.Element {
	e := adaptivecard.NewTextBlock(s, true)
	e.IsSubtle = subtle
	return e
}

// single is the card of one event: the same facts as the Slack message.
func single(events []destination.Event, l limits) adaptivecard.Card {
	f := events[0].Facts
	card := adaptivecard.NewCard()
	title := heading(symbol(f.Event) + " " + escape(words.Event(f.Event)) + ": " + escape(txt.Cut(words.Name(f), l.name)))
	body := []adaptivecard.Element{title, text(linked(f, l), false)}
	facts := adaptivecard.NewFactSet()
	add := func(title, value string) {
		if value != "" {
			_ = facts.AddFact(adaptivecard.Fact{Title: title, Value: escape(txt.Cut(value, l.field))})
		}
	}
	add("Site", f.Site)
	add("Project", f.Project)
	add("Owner", f.Owner)
	add("Site role", f.SiteRole)
	add("Tags", strings.Join(f.Tags, ", "))
	if t, err := time.Parse(time.RFC3339, f.Payload.CreatedAt); err == nil {
		add("When", t.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	if len(facts.Facts) > 0 {
		body = append(body, adaptivecard.Element(facts))
	}
	body = append(body, outcome(f, l)...)
	if f.Degraded != "" {
		body = append(body, text("⚠️ "+escape(f.Degraded)+"; showing what the webhook said.", true))
	}
	_ = card.AddElement(false, body...)
	if f.URL != "" {
		if open, err := adaptivecard.NewActionOpenURL(f.URL, "Open in Tableau"); err == nil {
			_ = card.AddAction(false, open)
		}
	}
	return card
}

// outcome is what a refresh's failure or recovery adds: the reason, how often.
func outcome(f enrich.Facts, l limits) []adaptivecard.Element {
	var out []adaptivecard.Element
	if fl := f.Failure; fl != nil && fl.Error != "" {
		out = append(out, text("**Why:** "+escape(txt.Cut(words.Headline(fl.Error), l.field)), false))
		box := adaptivecard.NewContainer()
		box.Style = "emphasis"
		_ = box.AddElement(false, text(escape(txt.Cut(fl.Error, l.errorText)), false))
		out = append(out, adaptivecard.Element(box))
		if !fl.Started.IsZero() {
			s := "Started " + fl.Started.UTC().Format("2006-01-02 15:04:05 MST")
			if d := fl.Took(); d > 0 {
				s += ", ran " + words.Duration(d)
			}
			out = append(out, text(s, true))
		}
	}
	if f.NoReason != "" {
		out = append(out, text(escape(f.NoReason), true))
	}
	if f.Streak > 1 {
		out = append(out, text(words.Ordinal(f.Streak)+" failure in a row", false))
	}
	if f.Streak >= 3 {
		out = append(out, text("⚠️ Tableau suspends a refresh task after 5 failures in a row (Tableau Cloud does; Tableau Server can be set to).", false))
	}
	if f.Recovered > 0 {
		out = append(out, text(fmt.Sprintf("Recovered after %d failures", f.Recovered), false))
	}
	return out
}

// digest is one card for several events: each named, or counted when they do not fit.
func digest(events []destination.Event, l limits) adaptivecard.Card {
	card := adaptivecard.NewCard()
	body := []adaptivecard.Element{heading(fmt.Sprintf("📦 %d Tableau events", len(events)))}
	var lines []string
	for i, e := range events {
		if i == l.digestItems {
			lines = append(lines, fmt.Sprintf("…and %d more; `tabhook deliveries list` shows every event.", len(events)-i))
			break
		}
		lines = append(lines, "- "+escape(words.Event(e.Facts.Event))+": "+linked(e.Facts, l))
	}
	body = append(body, text(strings.Join(lines, "\n"), false))
	_ = card.AddElement(false, body...)
	return card
}
