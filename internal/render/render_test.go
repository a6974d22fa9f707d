package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/tableau"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func facts(event, name string, mod func(*enrich.Facts)) enrich.Facts {
	ev, _ := tableau.ParseEvent(event)
	resource := ev.Resource
	if resource == "" {
		resource = "THING"
	}
	f := enrich.Base(payload.Payload{Resource: resource, EventType: event, ResourceName: name, SiteLUID: "site-1", ResourceLUID: "3cc6cd06-89ce-4fdc-b935-5294135d6d42", CreatedAt: "2026-11-30T07:00:00Z"})
	if mod != nil {
		mod(&f)
	}
	return f
}

func enriched(f *enrich.Facts) {
	f.Project, f.Owner, f.URL, f.Tags = "default", "Bob Smith", "http://tableauserver/#/workbooks/2/views", []string{"Safari", "Sample"}
}

// cases covers every event kind, the unknown event, degraded facts and hostile names.
func cases() map[string]enrich.Facts {
	c := map[string]enrich.Facts{}
	for _, e := range tableau.Events() {
		mod := enriched
		switch {
		case strings.HasSuffix(e.Name, "Deleted"):
			mod = nil // deleted: the payload's facts only
		case e.Resource == "USER":
			mod = func(f *enrich.Facts) { f.Name, f.SiteRole = "Alice", "SiteAdministratorCreator" }
		case e.Resource == "LABEL" || e.Resource == "SITE":
			mod = nil
		}
		c[e.Name] = facts(e.Name, "SafariSample", mod)
	}
	c["unknown-event"] = facts("WorkbookTeleported", "SafariSample", nil)
	c["degraded"] = facts("WorkbookUpdated", "SafariSample", func(f *enrich.Facts) { f.Degraded = "Tableau did not answer" })
	c["escaping"] = facts("WorkbookUpdated", "Q&A <b>bold</b> | pipes", func(f *enrich.Facts) {
		enriched(f)
		f.Project, f.Owner = "R&D > Sales", "O'Brien <admin>"
	})
	c["no-name"] = facts("DatasourceUpdated", "", nil)
	c["long-name"] = facts("WorkbookCreated", strings.Repeat("Ω", 400), nil)
	c["with-text"] = facts("WorkbookRefreshFailed", "Superstore", func(f *enrich.Facts) { f.Payload.Text = "Extract refresh failed: <timeout>" })
	for name, f := range refreshCases() {
		c[name] = f
	}
	return c
}

// refreshCases are the shapes of a refresh's story: why it failed, how often, whose
// it is, and the recovery.
func refreshCases() map[string]enrich.Facts {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	failure := &enrich.Failure{JobID: "bb1aab79", Started: at.Add(-134 * time.Second), Ended: at,
		Error: `java.lang.RuntimeException: [Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Login failed for user.\nIntegrated authentication failed.`}
	return map[string]enrich.Facts{
		"refresh-failed-why": facts("WorkbookRefreshFailed", "Superstore", func(f *enrich.Facts) {
			enriched(f)
			f.Failure, f.Streak, f.OwnerSlackID, f.LastSuccess = failure, 2, "U0BOB", at.Add(-26*time.Hour)
		}),
		"refresh-failed-third": facts("DatasourceRefreshFailed", "Orders", func(f *enrich.Facts) {
			enriched(f)
			f.Failure, f.Streak = failure, 3
			f.Warning = "A data quality warning (stale data) was added to this data source in Tableau."
		}),
		"refresh-failed-no-reason": facts("WorkbookRefreshFailed", "Superstore", func(f *enrich.Facts) {
			enriched(f)
			f.Streak, f.NoReason = 1, "Tableau's reason is not shown: the token's user may not query jobs (site administrators only)."
		}),
		"refresh-failed-actions": facts("WorkbookRefreshFailed", "Superstore", func(f *enrich.Facts) {
			enriched(f)
			f.Failure, f.Streak, f.Actions, f.Kind = failure, 2, true, "workbook"
		}),
		"refresh-failed-after-mute": facts("DatasourceRefreshFailed", "Orders", func(f *enrich.Facts) {
			enriched(f)
			f.Failure, f.Actions, f.Kind, f.HeldWhileMuted = failure, true, "datasource", 3
		}),
		"refresh-recovered": facts("WorkbookRefreshSucceeded", "Superstore", func(f *enrich.Facts) { enriched(f); f.Recovered = 2 }),
		"refresh-recovered-linked": facts("WorkbookRefreshSucceeded", "Superstore", func(f *enrich.Facts) {
			enriched(f)
			f.Recovered, f.EarlierFailure = 2, "https://acme.slack.com/archives/C0ALERTS/p1764486000000100"
		}),
	}
}

// updates are the opening and failure messages as a refresh's outcome rewrites them.
func updates() map[string]Message {
	at := time.Date(2026, 11, 30, 7, 3, 12, 0, time.UTC)
	started := facts("WorkbookRefreshStarted", "Superstore", enriched)
	failed := refreshCases()["refresh-failed-why"]
	return map[string]Message{
		"update-started-succeeded": Updated(started, Outcome{Event: "WorkbookRefreshSucceeded", At: at, Took: 192 * time.Second}),
		"update-started-failed":    Updated(started, Outcome{Event: "WorkbookRefreshFailed", At: at, Took: 192 * time.Second, InThread: true}),
		"update-failed-recovered":  Updated(failed, Outcome{Event: "WorkbookRefreshSucceeded", At: at, Recovered: 2, InThread: true}),
	}
}

// shapes are every message shape: each event alone, and digests.
func shapes() map[string]Message {
	out := map[string]Message{}
	for name, f := range cases() {
		out[name] = Render(f)
	}
	hostile := facts("WorkbookUpdated", "<!channel> <https://evil.example|Sign in again>", enriched)
	hostile.Payload.EventType, hostile.Event = "<!channel> <https://evil.example|Sign in again>", "<!channel> <https://evil.example|Sign in again>"
	out["digest"] = Digest([]enrich.Facts{
		facts("WorkbookRefreshSucceeded", "Sales", enriched),
		facts("DatasourceRefreshFailed", "Q&A <b>", nil),
		hostile,
	})
	var many []enrich.Facts
	for i := range 50 {
		many = append(many, facts("WorkbookRefreshSucceeded", fmt.Sprintf("%02d-%s", i, strings.Repeat("n", 1600)), nil))
	}
	out["digest-long-names"] = Digest(many)
	out["digest-backlog"] = Digest(backlog())
	out["digest-actions"] = Digest(digestWithFailures())
	for name, m := range updates() {
		out[name] = m
	}
	failed := refreshCases()["refresh-failed-actions"]
	acted := Render(failed)
	acted.Blocks = AddNote(acted.Blocks, ":arrows_counterclockwise: Refresh requested by <@U0ALICE> at 2026-11-30 07:05:00 UTC")
	acted.Blocks = AddNote(acted.Blocks, ":mute: Muted for 24 h by <@U0BOB> at 2026-11-30 07:06:00 UTC")
	SwapMute(acted.Blocks, ItemOf(failed).ButtonValue(), true)
	out["refresh-failed-acted-on"] = acted
	return out
}

func TestGolden(t *testing.T) {
	for name, m := range shapes() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep the golden files readable: & < > as they are
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Text   string       `json:"text"`
				Blocks slack.Blocks `json:"blocks"`
			}{m.Text, slack.Blocks{BlockSet: m.Blocks}}); err != nil {
				t.Fatal(err)
			}
			got := bytes.TrimSpace(buf.Bytes())
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/render -update)", err)
			}
			if strings.TrimSpace(string(want)) != string(got) {
				t.Errorf("%s differs from the golden file:\n%s", name, got)
			}
		})
	}
}

func TestFallbackNamesTheEvent(t *testing.T) {
	f := facts("DatasourceRefreshFailed", "Sales & <Ops>", func(f *enrich.Facts) { f.Project, f.Owner = "default", "Bob Smith" })
	got := Render(f).Text
	want := "Data source extract refresh failed: Sales &amp; &lt;Ops&gt; (project default, owner Bob Smith)"
	if got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}

func TestLimits(t *testing.T) {
	f := facts("WorkbookCreated", strings.Repeat("x", 5000), func(f *enrich.Facts) { f.Payload.Text = strings.Repeat("y", 5000) })
	m := Render(f)
	h := m.Blocks[0].(*slack.HeaderBlock)
	if n := len([]rune(h.Text.Text)); n > maxHeader {
		t.Errorf("header %d chars", n)
	}
	s := m.Blocks[1].(*slack.SectionBlock)
	if n := len([]rune(s.Text.Text)); n > maxSection {
		t.Errorf("section %d chars", n)
	}
	var many []enrich.Facts
	for range 500 {
		many = append(many, facts("WorkbookRefreshSucceeded", strings.Repeat("n", 100), enriched))
	}
	d := Digest(many)
	if len(d.Blocks) > 50 {
		t.Errorf("digest has %d blocks", len(d.Blocks))
	}
	for _, b := range d.Blocks[1:] {
		if n := len(b.(*slack.SectionBlock).Text.Text); n > maxSection {
			t.Errorf("digest section %d chars", n)
		}
	}
}

// TestDigestRepresentsEveryEvent: names too long to list all still leave every event
// represented: named, or counted in "and N more".
func TestDigestRepresentsEveryEvent(t *testing.T) {
	for _, n := range []int{2, 50, 400} {
		var many []enrich.Facts
		for i := range n {
			many = append(many, facts("WorkbookRefreshSucceeded", fmt.Sprintf("item-%03d-%s", i, strings.Repeat("n", 1600)), nil))
		}
		d := Digest(many)
		all := ""
		for _, b := range d.Blocks[1:] {
			all += b.(*slack.SectionBlock).Text.Text + "\n"
		}
		named := 0
		for i := range n {
			if strings.Contains(all, fmt.Sprintf("item-%03d-", i)) {
				named++
			}
		}
		more := 0
		if i := strings.Index(all, "…and "); i >= 0 {
			fmt.Sscanf(all[i:], "…and %d more", &more)
		}
		if named+more != n || len(d.Blocks) > 50 {
			t.Errorf("%d events: %d named + %d counted, %d blocks", n, named, more, len(d.Blocks))
		}
	}
}

// backlog is what piled up during an outage: 1,000 events, a few failures among them.
func backlog() []enrich.Facts {
	var out []enrich.Facts
	for i := range 1000 {
		switch {
		case i%100 == 7:
			out = append(out, facts("DatasourceRefreshFailed", fmt.Sprintf("Orders %03d", i), nil))
		case i%2 == 0:
			out = append(out, facts("WorkbookRefreshSucceeded", fmt.Sprintf("Sales %03d", i), nil))
		default:
			out = append(out, facts("WorkbookUpdated", fmt.Sprintf("Draft %03d", i), nil))
		}
	}
	return out
}

// digestWithFailures is a storm with seven failures, --actions on: the first five get
// buttons of their own.
func digestWithFailures() []enrich.Facts {
	var out []enrich.Facts
	for i := range 12 {
		if i%3 == 0 {
			out = append(out, facts("WorkbookUpdated", fmt.Sprintf("Draft %02d", i), nil))
			continue
		}
		out = append(out, facts("DatasourceRefreshFailed", fmt.Sprintf("Orders %02d", i), func(f *enrich.Facts) {
			f.Actions, f.Kind = true, "datasource"
			f.Payload.ResourceLUID = fmt.Sprintf("ds-%02d", i)
		}))
	}
	return out
}

// TestDigestButtonsPerItem: a digest gives its first failures buttons of their own,
// each carrying its item; Mute swaps only the clicked item's button.
func TestDigestButtonsPerItem(t *testing.T) {
	m := Digest(digestWithFailures())
	if n := Items(m.Blocks); n != maxDigestActions {
		t.Fatalf("%d items with buttons, want %d", n, maxDigestActions)
	}
	var values []string
	for _, b := range m.Blocks {
		if ab, ok := b.(*slack.ActionBlock); ok {
			values = append(values, ab.Elements.ElementSet[0].(*slack.ButtonBlockElement).Value)
		}
	}
	it, err := ParseItem(values[1])
	if err != nil || it.ID != "ds-02" || it.Name != "Orders 02" || it.Kind != "datasource" {
		t.Fatalf("the second item's button: %q → %+v %v", values[1], it, err)
	}
	SwapMute(m.Blocks, values[1], true)
	b, _ := json.Marshal(m.Blocks)
	if strings.Count(string(b), ActionUnmute) != 1 || strings.Count(string(b), ActionMute+`"`) != maxDigestActions-1 {
		t.Errorf("mute swapped more than the clicked item's button: %s", b)
	}
	all := Plain(m)
	for i := range 12 {
		if !strings.Contains(all, fmt.Sprintf(" %02d", i)) {
			t.Errorf("event %d is not named", i)
		}
	}
}

// TestBacklogDigestSummarises: a digest of a backlog counts every event by type,
// failures first, names the failures before anything else, and counts the rest.
func TestBacklogDigestSummarises(t *testing.T) {
	d := Digest(backlog())
	counts := d.Blocks[1].(*slack.SectionBlock).Text.Text
	if counts != "*By event:* 10 × Data source extract refresh failed · 500 × Workbook extract refresh succeeded · 490 × Workbook updated" {
		t.Errorf("counts: %s", counts)
	}
	list := d.Blocks[2].(*slack.SectionBlock).Text.Text
	if !strings.HasPrefix(list, "• Data source extract refresh failed: *Orders 007*") || strings.Count(list, "refresh failed") != 10 {
		t.Errorf("failures are not named first: %.300s", list)
	}
	last := d.Blocks[len(d.Blocks)-1].(*slack.SectionBlock).Text.Text
	if !strings.HasPrefix(last, "…and 950 more") {
		t.Errorf("the rest: %s", last)
	}
	if len(d.Blocks) > 6 {
		t.Errorf("a backlog's digest has %d blocks: a summary, not a wall", len(d.Blocks))
	}
}

// TestUntrustedTextIsVerbatim: every mrkdwn object is verbatim, so Slack links and
// mentions nothing by itself.
func TestUntrustedTextIsVerbatim(t *testing.T) {
	for name, m := range shapes() {
		b, _ := json.Marshal(m.Blocks)
		if strings.Count(string(b), `"type":"mrkdwn"`) != strings.Count(string(b), `"verbatim":true`) {
			t.Errorf("%s: a mrkdwn object is not verbatim: %s", name, b)
		}
	}
}

func TestHeaderTakesNamesAsTheyAre(t *testing.T) {
	m := Render(facts("WorkbookUpdated", "Q&A <draft>", nil))
	h := m.Blocks[0].(*slack.HeaderBlock)
	if !strings.Contains(h.Text.Text, "Q&A <draft>") {
		t.Errorf("plain_text header escaped the name: %q", h.Text.Text)
	}
	s := m.Blocks[1].(*slack.SectionBlock)
	if !strings.Contains(s.Text.Text, "Q&amp;A &lt;draft&gt;") {
		t.Errorf("mrkdwn section did not escape the name: %q", s.Text.Text)
	}
}

// FuzzUntrustedNames: whatever publishers (or a forger) put in names, projects,
// owners, tags, event types, the payload's text or an error, no message shape contains
// a mention (<!…>, <@…>, <#…>) or a link (<http…>) that did not come from tabhook: the
// only "<" in mrkdwn is the link tabhook makes to the item's own URL.
func FuzzUntrustedNames(f *testing.F) {
	f.Add("<!channel>", "<https://evil.example|Sign in>", "<@U123>", "<#C1>", "<!here>", "&lt;!channel&gt;")
	f.Add("Q&A <b>", "R&D > Sales", "O'Brien", "a|b", "WorkbookUpdated", "\u003c!everyone\u003e")
	f.Fuzz(func(t *testing.T, name, project, owner, tag, event, text string) {
		const url = "https://tableau.example/#/workbooks/1"
		fs := enrich.Base(payload.Payload{Resource: "WORKBOOK", EventType: event, ResourceName: name, SiteLUID: "s", ResourceLUID: "r", CreatedAt: text, Text: text})
		fs.Project, fs.Owner, fs.Tags, fs.URL, fs.Degraded = project, owner, []string{tag}, url, text
		plain := fs
		plain.URL = ""
		failed := fs
		failed.Event, failed.Failure, failed.NoReason, failed.Warning, failed.Streak = "WorkbookRefreshFailed", &enrich.Failure{Error: text}, text, tag, 3
		failed.OwnerSlackID = owner // only a Slack user ID may become a mention
		msgs := []Message{Render(fs), Render(plain), Digest([]enrich.Facts{fs, plain, fs}), Render(failed),
			Updated(failed, Outcome{Event: event, Recovered: 1, InThread: true})}
		for _, m := range msgs {
			checkNoInjection(t, m, url)
		}
	})
}

func checkNoInjection(t *testing.T, m Message, url string) {
	t.Helper()
	var texts []string
	texts = append(texts, m.Text)
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				texts = append(texts, b.Text.Text)
			}
			for _, f := range b.Fields {
				texts = append(texts, f.Text)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					texts = append(texts, o.Text)
				}
			}
		}
	}
	for _, s := range texts {
		s = strings.ReplaceAll(s, "<"+url+"|", "")
		for _, bad := range []string{"<!", "<@", "<#", "<http", "<mailto"} {
			if strings.Contains(s, bad) {
				t.Fatalf("%q reached a message: %q", bad, s)
			}
		}
	}
}

// TestNotesAreBounded: a message clicked on again and again keeps its last maxNotes
// lines of what was done (a context block holds ten elements), the newest last.
func TestNotesAreBounded(t *testing.T) {
	blocks := Render(refreshCases()["refresh-failed-actions"]).Blocks
	for i := range 25 {
		blocks = AddNote(blocks, fmt.Sprintf("note %02d", i))
	}
	var notes *slack.ContextBlock
	for _, b := range blocks {
		if cb, ok := b.(*slack.ContextBlock); ok && cb.BlockID == NotesBlockID {
			if notes != nil {
				t.Fatal("more than one notes block")
			}
			notes = cb
		}
	}
	els := notes.ContextElements.Elements
	if len(els) != maxNotes || els[len(els)-1].(*slack.TextBlockObject).Text != "note 24" || els[0].(*slack.TextBlockObject).Text != "note 15" {
		t.Fatalf("%d notes, first %v", len(els), els[0])
	}
}
