package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"
)

var (
	mrkdwnLink = regexp.MustCompile(`<([^|>]+)\|([^>]+)>`)
	mention    = regexp.MustCompile(`<@([UW][A-Z0-9]+)>`)
)

// unmrkdwn turns mrkdwn into terminal text: links become "text (url)", entities and
// bold markers are undone.
func unmrkdwn(s string) string {
	s = mrkdwnLink.ReplaceAllString(s, "$2 ($1)")
	s = mention.ReplaceAllString(s, "@$1")
	s = strings.ReplaceAll(s, "*", "")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// Plain shows a message as a terminal would: one line per block element, indented
// under a rule, so the demo can show what Slack would display.
func Plain(m Message) string {
	var b strings.Builder
	line := func(s string) {
		for _, l := range strings.Split(s, "\n") {
			b.WriteString("  │ " + l + "\n")
		}
	}
	for _, blk := range m.Blocks {
		switch v := blk.(type) {
		case *slack.HeaderBlock:
			line(v.Text.Text)
		case *slack.SectionBlock:
			if v.Text != nil {
				line(unmrkdwn(v.Text.Text))
			}
			var fields []string
			for _, f := range v.Fields {
				fields = append(fields, strings.Replace(unmrkdwn(f.Text), "\n", ": ", 1))
			}
			if len(fields) > 0 {
				line(strings.Join(fields, "   "))
			}
		case *slack.ActionBlock:
			var btns []string
			for _, e := range v.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					btns = append(btns, strings.TrimSpace(fmt.Sprintf("[%s] %s", btn.Text.Text, btn.URL)))
				}
			}
			line(strings.Join(btns, "  "))
		case *slack.ContextBlock:
			var parts []string
			for _, e := range v.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					parts = append(parts, unmrkdwn(t.Text))
				}
			}
			line(strings.Join(parts, "  "))
		}
	}
	return "  ┌─\n" + b.String() + "  └─ notification text: " + unmrkdwn(m.Text) + "\n"
}
