package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/tableau"
)

func yamlConfig(t *testing.T, text string) *viper.Viper {
	t.Helper()
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSites: sites: is read as a list of sites or all; each mistake is named with
// its entry and how to fix it.
func TestSites(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string // an error containing this; "" none
		urls       []string
	}{
		{"absent", "slack-channel: '#a'", "", nil},
		{"all", "sites: all", "", []string{"*"}},
		{"list", "sites:\n  - content-url: ''\n  - content-url: finance\n    pat-name: fin\n    pat-secret-file: /x\n    events: [workbook-updated]", "", []string{"", "finance"}},
		{"no content-url", "sites:\n  - pat-name: fin", "has no content-url", nil},
		{"twice", "sites:\n  - content-url: finance\n  - content-url: Finance", "site Finance is listed twice", nil},
		{"half a token", "sites:\n  - content-url: finance\n    pat-name: fin", "give pat-name and pat-secret-file together", nil},
		{"unknown key", "sites:\n  - content-url: finance\n    pat-secret: x", `unknown setting "pat-secret"`, nil},
		{"bad content URL", "sites:\n  - content-url: 'fin ance'", "is not a content URL", nil},
		{"bad event", "sites:\n  - content-url: finance\n    events: [Nope]", "sites entry 1", nil},
		{"not a list", "sites: finance", "want a list of sites", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := yamlConfig(t, tc.yaml)
			_, err := Sites(v)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.want == "" && strings.Join(SiteURLs(v), ",") != strings.Join(tc.urls, ",") {
				t.Errorf("site URLs %q, want %q", SiteURLs(v), tc.urls)
			}
		})
	}
}

// TestSitesOf: each site gets its own client (its own token where given, else the
// top-level one), a path and public URL below the relay's; sites on one token share
// it (their calls take turns) rather than end each other's sessions.
func TestSitesOf(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "fin")
	if err := os.WriteFile(secret, []byte("fin-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := []SiteSettings{{ContentURL: ""}, {ContentURL: "finance", PATName: "fin", PATSecretFile: secret}, {ContentURL: "sales"}}
	top := tableau.Config{Server: "https://tableau.example.com", PATName: "admin", PATSecret: "admin-secret"}
	tcs, err := SiteConfigs(settings, top)
	if err != nil {
		t.Fatal(err)
	}
	if tcs[1].PATName != "fin" || tcs[1].PATSecret != "fin-secret" || tcs[1].Site != "finance" || tcs[2].PATName != "admin" {
		t.Errorf("site settings %+v", tcs)
	}
	cfg := relay.Config{Path: "/tableau/abc", PublicURL: "https://relay.example.com/tableau/abc"}
	if err := sitesOf(settings, top, &cfg, nil); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sites) != 3 || cfg.Sites[0].Path != "/tableau/abc" || cfg.Sites[1].Path != "/tableau/abc/finance" ||
		cfg.Sites[2].PublicURL != "https://relay.example.com/tableau/abc/sales" {
		t.Errorf("sites %+v", cfg.Sites)
	}
	settings[1].PATSecretFile = filepath.Join(dir, "missing")
	if _, err := SiteConfigs(settings, top); err == nil || !strings.Contains(err.Error(), "site finance: read the PAT secret") || strings.Contains(err.Error(), "fin-secret") {
		t.Errorf("missing secret file: %v", err)
	}
}
