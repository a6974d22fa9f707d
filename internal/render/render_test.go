package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	return c
}

func TestGolden(t *testing.T) {
	for name, f := range cases() {
		t.Run(name, func(t *testing.T) {
			m := Render(f)
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
