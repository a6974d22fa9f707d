package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/tableau"
)

// SiteSettings is one entry of the config file's sites:
//
//	sites:
//	  - content-url: ""                 # the Default site, with the top-level PAT
//	  - content-url: finance
//	    pat-name: tabhook-finance
//	    pat-secret-file: /etc/tabhook/credentials/finance-pat
//	    events: [DatasourceRefreshFailed]   # run: this site's webhooks (default: --event)
//	    name-prefix: tabhook-finance        # run (default: --name-prefix)
type SiteSettings struct {
	ContentURL    string
	PATName       string
	PATSecretFile string
	Events        []string
	NamePrefix    string
}

// MaxSites bounds sites: one relay's sites, each a session, a path and webhooks.
const MaxSites = 100

var contentURLPattern = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// Sites reads the config file's sites: (nil when absent). Each entry names its content
// URL (required; "" is the Default site); pat-name and pat-secret-file come together.
func Sites(v *viper.Viper) ([]SiteSettings, error) {
	if v == nil || !v.IsSet("sites") {
		return nil, nil
	}
	raw := v.Get("sites")
	if AllSites(v) {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("sites in the config file: want a list of sites, each with content-url (\"\" for the Default site), or all")
	}
	if len(list) > MaxSites {
		return nil, fmt.Errorf("sites in the config file: %d sites; one relay serves at most %d", len(list), MaxSites)
	}
	var out []SiteSettings
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("sites entry %d: want settings such as content-url: finance", i+1)
		}
		s, err := siteSettings(i, m)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(s.ContentURL)
		if seen[key] {
			return nil, fmt.Errorf("sites entry %d: site %s is listed twice", i+1, relay.SiteLabel(s.ContentURL))
		}
		seen[key] = true
		out = append(out, s)
	}
	return out, nil
}

func siteSettings(i int, m map[string]any) (SiteSettings, error) {
	var s SiteSettings
	str := func(key string) (string, error) {
		switch x := m[key].(type) {
		case nil:
			return "", nil
		case string:
			return x, nil
		}
		return "", fmt.Errorf("sites entry %d: %s is not text", i+1, key)
	}
	for key := range m {
		switch key {
		case "content-url", "pat-name", "pat-secret-file", "events", "name-prefix":
		default:
			return s, fmt.Errorf("sites entry %d: unknown setting %q (known: content-url, pat-name, pat-secret-file, events, name-prefix)", i+1, key)
		}
	}
	if _, ok := m["content-url"]; !ok {
		return s, fmt.Errorf("sites entry %d has no content-url: give the site's content URL as in its address (…/#/site/finance/… → finance), or \"\" for the Default site", i+1)
	}
	var err error
	for key, dst := range map[string]*string{"content-url": &s.ContentURL, "pat-name": &s.PATName, "pat-secret-file": &s.PATSecretFile, "name-prefix": &s.NamePrefix} {
		if *dst, err = str(key); err != nil {
			return s, err
		}
	}
	if !contentURLPattern.MatchString(s.ContentURL) {
		return s, fmt.Errorf("sites entry %d: content-url %q is not a content URL (letters, digits, - and _ as in the site's address)", i+1, s.ContentURL)
	}
	if (s.PATName == "") != (s.PATSecretFile == "") {
		return s, fmt.Errorf("sites entry %d (site %s): give pat-name and pat-secret-file together, or neither to use the top-level token", i+1, relay.SiteLabel(s.ContentURL))
	}
	switch ev := m["events"].(type) {
	case nil:
	case []any:
		names := make([]string, 0, len(ev))
		for _, e := range ev {
			names = append(names, fmt.Sprint(e))
		}
		if s.Events, err = Events(names); err != nil {
			return s, fmt.Errorf("sites entry %d: %w", i+1, err)
		}
	case string:
		if s.Events, err = Events([]string{ev}); err != nil {
			return s, fmt.Errorf("sites entry %d: %w", i+1, err)
		}
	default:
		return s, fmt.Errorf("sites entry %d: events is not a list of events", i+1)
	}
	return s, nil
}

// AllSites: the config file says sites: all — every site the token's user can enter
// (a server administrator's: all of the server's), found while running.
func AllSites(v *viper.Viper) bool {
	if v == nil {
		return false
	}
	s, ok := v.Get("sites").(string)
	return ok && strings.EqualFold(strings.TrimSpace(s), "all")
}

// SiteURLs are the content URLs of the config file's sites (nil: one site; "*": any,
// with sites: all), for routes.
func SiteURLs(v *viper.Viper) []string {
	if AllSites(v) {
		return []string{"*"}
	}
	sites, err := Sites(v)
	if err != nil || sites == nil {
		return nil
	}
	out := make([]string, len(sites))
	for i, s := range sites {
		out[i] = s.ContentURL
	}
	return out
}

// InheritCredentials lets a config whose sites all carry their own tokens leave out
// the top-level one: the first site's stands in for it.
func InheritCredentials(fs *pflag.FlagSet, sites []SiteSettings) {
	if len(sites) == 0 || sites[0].PATName == "" || flag(fs, "pat-name") != "" {
		return
	}
	_ = fs.Set("pat-name", sites[0].PATName)
	if flag(fs, "pat-secret") == "" && flag(fs, "pat-secret-file") == "" {
		_ = fs.Set("pat-secret-file", sites[0].PATSecretFile)
	}
}

// sitesOf builds the relay's sites: one Tableau client each (the top-level settings,
// its own token where given), its listener path and public URL below the relay's.
// Sites on one token (a server administrator's) share it: Tableau keeps one session
// per token, so their calls take turns (tableau.SharedToken) — said once, as a token
// per site lets them work at once.
func sitesOf(settings []SiteSettings, top tableau.Config, cfg *relay.Config, log *slog.Logger) error {
	tcs, err := SiteConfigs(settings, top)
	if err != nil {
		return err
	}
	users := map[string][]string{}
	for _, tc := range tcs {
		users[tc.PATName] = append(users[tc.PATName], relay.SiteLabel(tc.Site))
	}
	shared := map[string]*tableau.SharedToken{}
	for name, sites := range users {
		if len(sites) > 1 {
			shared[name] = &tableau.SharedToken{}
			if log != nil {
				log.Warn("several sites share one personal access token: their Tableau calls take turns, and each switch of site signs in again; give each site its own pat-name and pat-secret-file to serve them at once",
					"token", name, "sites", strings.Join(sites, ", "))
			}
		}
	}
	for i, s := range settings {
		tc := tcs[i]
		tc.Token = shared[tc.PATName]
		client, err := tableau.New(tc)
		if err != nil {
			return &cli.UsageError{Err: err}
		}
		cfg.Sites = append(cfg.Sites, relay.Site{
			Name: s.ContentURL, Tableau: client, Events: s.Events, NamePrefix: s.NamePrefix,
			Path: relay.SitePath(cfg.Path, s.ContentURL), PublicURL: relay.SitePath(cfg.PublicURL, s.ContentURL),
		})
	}
	cfg.Tableau = cfg.Sites[0].Tableau
	return nil
}

// SiteConfigs are the Tableau settings of each site: the top-level ones, with the
// site's content URL and its own token where it has one.
func SiteConfigs(settings []SiteSettings, top tableau.Config) ([]tableau.Config, error) {
	out := make([]tableau.Config, 0, len(settings))
	for _, s := range settings {
		tc := top
		tc.Site = s.ContentURL
		if s.PATName != "" {
			secret, err := creds.ReadSecretFile(s.PATSecretFile, "the PAT secret")
			if err != nil {
				return nil, fmt.Errorf("site %s: %w", relay.SiteLabel(s.ContentURL), err)
			}
			tc.PATName, tc.PATSecret = s.PATName, secret
		}
		out = append(out, tc)
	}
	return out, nil
}

// siteSecrets re-reads the sites' own PAT secrets (a reload); the sites on the
// top-level token get secret.
func siteSecrets(settings []SiteSettings, secret string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range settings {
		if s.PATName == "" {
			out[s.ContentURL] = secret
			continue
		}
		v, err := creds.ReadSecretFile(s.PATSecretFile, "the PAT secret")
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", relay.SiteLabel(s.ContentURL), err)
		}
		out[s.ContentURL] = v
	}
	return out, nil
}

// discoverSites is sites: all: with the top-level token (which every site shares, so
// their calls take turns), Query Sites lists the sites to serve.
func discoverSites(top tableau.Config, base relay.Config) func(ctx context.Context) ([]relay.Site, error) {
	shared := &tableau.SharedToken{}
	top.Token = shared
	clients := map[string]*tableau.Client{} // one per site for the relay's life: a site keeps its client
	var lister *tableau.Client              // one session for every listing (signed in again only when it ends)
	return func(ctx context.Context) ([]relay.Site, error) {
		if lister == nil {
			c, err := tableau.New(top)
			if err != nil {
				return nil, err
			}
			lister = c
		}
		found, err := lister.Sites(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w; sites: all needs a token whose user may list the sites (a server administrator's)", err)
		}
		var out []relay.Site
		for _, s := range found {
			if s.State != "" && !strings.EqualFold(s.State, "Active") {
				continue // a suspended site takes no sign-in
			}
			c, ok := clients[s.ContentURL]
			if !ok {
				tc := top
				tc.Site = s.ContentURL
				if c, err = tableau.New(tc); err != nil {
					return nil, err
				}
				clients[s.ContentURL] = c
			}
			out = append(out, relay.Site{Name: s.ContentURL, Tableau: c,
				Path: relay.SitePath(base.Path, s.ContentURL), PublicURL: relay.SitePath(base.PublicURL, s.ContentURL)})
		}
		return out, nil
	}
}
