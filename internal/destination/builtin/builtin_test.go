package builtin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/destination/builtin"
	"github.com/tabhook/tabhook/internal/destination/pagerduty"
)

const (
	teamsURL = "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRET-SIG-9f2"
	pdKey    = "R0UT1NGKEY0123456789abcdef012345"
	whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func TestParse(t *testing.T) {
	reg := builtin.Registry()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	teamsFile, keyFile := write("teams-url", teamsURL+"\n"), write("pd-key", pdKey+"\n")
	read := func(p string) (string, error) { b, err := os.ReadFile(p); return string(b), err }
	good := map[string]any{
		"ops-teams": map[string]any{"type": "teams", "url-file": teamsFile},
		"oncall":    map[string]any{"type": "pagerduty", "routing-key-file": keyFile},
		"audit":     map[string]any{"type": "webhook", "url": "https://audit.example.com/tableau", "secret": whSecret},
	}
	list, err := reg.Parse(good, read)
	if err != nil || len(list) != 3 {
		t.Fatalf("Parse: %v %+v", err, list)
	}
	byName := map[string]destination.Config{}
	for _, c := range list {
		byName[c.Name] = c
	}
	if c := byName["ops-teams"]; c.Value("url") != teamsURL || c.Where() != "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke" {
		t.Errorf("teams: %+v, where %s", c, c.Where())
	}
	if c := byName["oncall"]; c.Value("routing-key") != pdKey || c.Value("api-url") != pagerduty.DefaultAPIURL {
		t.Errorf("pagerduty: %+v", c)
	}

	cases := []struct {
		name  string
		entry map[string]any
		want  string
	}{
		{"unknown type", map[string]any{"type": "pagerdty"}, `destinations.x.type: unknown type "pagerdty" (want teams, pagerduty or webhook)`},
		{"no type", map[string]any{"url": teamsURL}, `destinations.x.type: unknown type ""`},
		{"missing secret file", map[string]any{"type": "teams", "url-file": filepath.Join(dir, "nope")}, "destinations.x.url-file: open "},
		{"missing url", map[string]any{"type": "teams"}, "destinations.x: missing the Teams workflow URL (it carries its signature): set url-file (or url inline)"},
		{"both", map[string]any{"type": "teams", "url": teamsURL, "url-file": teamsFile}, "destinations.x: give url or url-file, not both"},
		{"unknown key", map[string]any{"type": "teams", "url": teamsURL, "channel": "#x"}, "destinations.x.channel: not a setting of a teams destination (url, url-file)"},
		{"http", map[string]any{"type": "teams", "url": "http://teams.example.com/hook?sig=SECRET-SIG-9f2"}, "destinations.x.url (or url-file): https is required (plain http only to a loopback address): http://teams.example.com/hook"},
		{"short key", map[string]any{"type": "pagerduty", "routing-key": "abc"}, "destinations.x.routing-key: not a PagerDuty routing key"},
		{"bad secret", map[string]any{"type": "webhook", "url": "https://a.example/x", "secret": "hunter2"}, "destinations.x.secret: not a Standard Webhooks secret"},
		{"no secret", map[string]any{"type": "webhook", "url": "https://a.example/x"}, "destinations.x: missing the signing secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Parse(map[string]any{"x": tc.entry}, read)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, secret := range []string{"SECRET-SIG-9f2", "hunter2", pdKey} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
	if _, err := reg.Parse(map[string]any{"Ops Teams": map[string]any{"type": "teams"}}, read); err == nil || !strings.Contains(err.Error(), "lower-case") {
		t.Errorf("a bad name: %v", err)
	}
	if _, err := reg.Parse(map[string]any{"local": map[string]any{"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": whSecret}}, read); err != nil {
		t.Errorf("plain http to loopback refused: %v", err)
	}
}

// TestRetiredConnectorWarned: an Office 365 connector URL works but is warned about;
// a Workflows URL is not.
func TestRetiredConnectorWarned(t *testing.T) {
	for url, warned := range map[string]bool{
		"https://contoso.webhook.office.com/webhookb2/1c2d3e@4f5a/IncomingWebhook/abc/def":         true,
		"https://outlook.office.com/webhookb2/1c2d3e@4f5a/IncomingWebhook/abc/def":                 true,
		"https://prod-12.westus.logic.azure.com/workflows/7a1c/triggers/manual/paths/invoke?sig=x": false,
	} {
		c, err := builtin.Registry().Build("t", "teams", map[string]string{"url": url})
		if err != nil {
			t.Fatal(err)
		}
		w := c.Warning()
		if (w != "") != warned || (warned && !strings.Contains(w, "Workflows")) {
			t.Errorf("%s: warning %q, want warned=%v", url, w, warned)
		}
	}
	c, err := builtin.Registry().Build("w", "webhook", map[string]string{"url": "https://x.webhook.office.com/webhookb2/x", "secret": whSecret})
	if err != nil || c.Warning() != "" {
		t.Error("a webhook destination warned as a Teams connector")
	}
}
