package teams

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	gmtext "github.com/yuin/goldmark/text"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/enrich"
)

// texts collects every string a card shows as markdown: text blocks' "text", facts'
// "title" and "value".
func texts(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "text" || k == "title" || k == "value") {
				*out = append(*out, s)
			} else {
				texts(e, out)
			}
		}
	case []any:
		for _, e := range x {
			texts(e, out)
		}
	}
}

// markup is what a markdown renderer reads into s besides paragraphs, text and the
// card's own emphasis: lists, headings, quotes, code, breaks, and links to anything
// but the item itself.
func markup(s, itemURL string) []string {
	src := []byte(s)
	doc := goldmark.New().Parser().Parse(gmtext.NewReader(src))
	var found []string
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Document, *ast.Paragraph, *ast.Text, *ast.Emphasis, *ast.String, *ast.TextBlock:
		case *ast.Link:
			if string(n.Destination) != itemURL {
				found = append(found, "a link to "+string(n.Destination))
			}
		default:
			found = append(found, n.Kind().String())
		}
		return ast.WalkContinue, nil
	})
	return found
}

// ownList drops the digest's own list — one list, an item per event — from what
// markup found: any more items came from a name.
func ownList(found []string, events int) []string {
	var out []string
	lists, items := 0, 0
	for _, k := range found {
		switch k {
		case "List":
			lists++
		case "ListItem":
			items++
		default:
			out = append(out, k)
		}
	}
	if lists > 1 || items > events {
		out = append(out, fmt.Sprintf("%d lists with %d items (the digest's own: 1 with %d)", lists, items, events))
	}
	return out
}

// TestNamesMakeNoMarkdown: names, projects, owners, tags and an error's notes chosen by
// whoever named the content — line breaks, list marks, headings, quotes, links, bidi
// overrides — render as the text they are, in a card and in a digest.
func TestNamesMakeNoMarkdown(t *testing.T) {
	hostile := "a\n- listitem\n1. numbered\n2) also\n# heading\n> quote\n  + indented\n[x](https://evil.example)\n---\n```code```"
	item := func(f enrich.Facts) enrich.Facts {
		f.Project, f.Owner, f.Tags = hostile, hostile, []string{hostile}
		return f
	}
	f := item(facts("WorkbookRefreshFailed", hostile))
	f.Failure = &enrich.Failure{Error: hostile}
	for name, events := range map[string][]destination.Event{
		"card":   {ev(f)},
		"digest": {ev(f), ev(item(facts("WorkbookUpdated", hostile))), ev(item(facts("WorkbookDeleted", "- x\n- y")))},
	} {
		b, err := Payload(events)
		if err != nil {
			t.Fatal(err)
		}
		var msg any
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		var all []string
		texts(msg, &all)
		for _, s := range all {
			got := markup(s, f.URL)
			if name == "digest" {
				got = ownList(got, len(events))
			}
			if len(got) > 0 {
				t.Errorf("%s: %q renders as %s", name, s, strings.Join(got, ", "))
			}
		}
	}
}
