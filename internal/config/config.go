// Package config is the one model of a relay's settings: the flags, the environment
// and the config file (routes, destinations, secrets) resolved and checked once, the
// same way for serve, run and doctor — doctor fails exactly where serve and run would
// refuse to start. Reload re-reads what a SIGHUP may change.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"unicode"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tabhook/tabhook/internal/actions"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/destination/builtin"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Options is where the settings come from.
type Options struct {
	Flags    *pflag.FlagSet  // the command's flags (serve's or run's set)
	Resolver *creds.Resolver // flags, environment, config file; prompts where allowed
	Env      creds.LookupEnv // the environment
	Manage   bool            // run: the relay registers and deletes its webhooks
	Version  string          // for User-Agent headers
	Logger   *slog.Logger    // warnings about settings that work but should change
	// Tableau resolves the Tableau connection's settings (shared with the webhook
	// commands).
	Tableau func(*pflag.FlagSet) (tableau.Config, error)
	// Registry is the destination types; nil: the built-in ones.
	Registry *destination.Registry
}

func (o Options) registry() *destination.Registry {
	if o.Registry != nil {
		return o.Registry
	}
	return builtin.Registry()
}

func flag(fs *pflag.FlagSet, name string) string {
	if fl := fs.Lookup(name); fl != nil {
		return fl.Value.String()
	}
	return ""
}

// Load resolves and checks what serve (Manage false) and run (Manage true) need, in
// the order a person would fix them: events and listener first (no network needed),
// then credentials, destinations and routes. An error says which setting to fix; a
// *cli.UsageError is a setting that can never work (exit 2).
func Load(o Options) (relay.Config, error) {
	fs := o.Flags
	var cfg relay.Config
	if o.Manage {
		if err := manage(fs, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := listener(o, &cfg); err != nil {
		return cfg, err
	}
	if err := service(fs, &cfg); err != nil {
		return cfg, err
	}
	sites, err := Sites(o.Resolver.Config())
	if err != nil {
		return cfg, &cli.UsageError{Err: err}
	}
	InheritCredentials(fs, sites)
	tc, err := o.Tableau(fs)
	if err != nil {
		return cfg, err
	}
	cfg.Metrics, cfg.MetricsListen = relay.NewMetrics(), flag(fs, "metrics-listen")
	cfg.DebugPprof, _ = fs.GetBool("debug-pprof")
	tc.OnCall = cfg.Metrics.TableauCall
	switch {
	case AllSites(o.Resolver.Config()):
		cfg.DiscoverSites = discoverSites(tc, cfg)
		client, err := tableau.New(tc)
		if err != nil {
			return cfg, &cli.UsageError{Err: err}
		}
		cfg.Tableau = client // replaced by the first site found
	case sites != nil:
		if err := sitesOf(sites, tc, &cfg, o.Logger); err != nil {
			return cfg, err
		}
	default:
		client, err := tableau.New(tc)
		if err != nil {
			return cfg, &cli.UsageError{Err: err}
		}
		cfg.Tableau = client
	}
	if err := destinationsAndRoutes(o, &cfg); err != nil {
		return cfg, err
	}
	if err := actionSettings(o, &cfg); err != nil {
		return cfg, err
	}
	cfg.Logger, cfg.Version = o.Logger, o.Version
	return cfg, nil
}

func manage(fs *pflag.FlagSet, cfg *relay.Config) error {
	names, _ := fs.GetStringSlice("event")
	events, err := Events(names)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return cli.Usagef("missing events: pass --event (repeatable), set TABHOOK_EVENT, or set event in the config file; see 'tabhook events'")
	}
	cfg.Manage, cfg.Events = true, events
	cfg.NamePrefix = flag(fs, "name-prefix")
	cfg.KeepWebhooks, _ = fs.GetBool("keep-webhooks")
	cfg.Verify, _ = fs.GetBool("verify")
	cfg.WebhookCheck, _ = fs.GetDuration("webhook-check")
	return nil
}

// Events reads event names given to --event (repeatable, comma- or space-separated,
// any spelling) as their API names.
func Events(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		// TABHOOK_EVENT="WorkbookUpdated DatasourceRefreshFailed" works as well as commas.
		for _, part := range strings.FieldsFunc(n, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			ev, err := tableau.ParseEvent(part)
			if err != nil {
				return nil, err
			}
			out = append(out, ev.Name)
		}
	}
	return out, nil
}

func listener(o Options, cfg *relay.Config) error {
	fs := o.Flags
	path, public, err := ListenerPath(fs, o.Manage)
	if err != nil {
		return err
	}
	cfg.Path, cfg.PublicURL = path, public
	if err := checkTLS(fs); err != nil {
		return err
	}
	cfg.Server = relay.ServerConfig{Listen: flag(fs, "listen"), CertFile: flag(fs, "tls-cert"), KeyFile: flag(fs, "tls-key")}
	cfg.Server.Insecure, _ = fs.GetBool("insecure-http")
	cfg.StateDir = flag(fs, "state-dir")
	if cfg.StateDir == "" {
		cfg.StateDir = creds.DefaultStateDir(o.Env)
	}
	if cfg.StateDir == "" {
		return &creds.MissingError{Label: "state directory", Flag: "state-dir"}
	}
	cfg.DrainTimeout, _ = fs.GetDuration("drain-timeout")
	if cfg.Store = flag(fs, "store"); cfg.Store != "" {
		if err := CheckStoreURL(cfg.Store); err != nil {
			return err
		}
	}
	cidrs, _ := fs.GetStringSlice("allow-cidr")
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return cli.Usagef("invalid --allow-cidr %q: want a network such as 203.0.113.0/24", c)
		}
		cfg.Allow = append(cfg.Allow, p)
	}
	return nil
}

func service(fs *pflag.FlagSet, cfg *relay.Config) error {
	var err error
	cfg.Service.Workers, _ = fs.GetInt("workers")
	cfg.Service.Lease, _ = fs.GetDuration("lease")
	if cfg.Service.DigestMax, _ = fs.GetInt("digest-max"); cfg.Service.DigestMax < 2 {
		return cli.Usagef("invalid --digest-max %d: at least 2", cfg.Service.DigestMax)
	}
	cfg.HealthEvery, _ = fs.GetDuration("health-every")
	cfg.MentionOwner, _ = fs.GetBool("mention-owner")
	cfg.QualityWarnings, _ = fs.GetBool("quality-warnings")
	if cfg.MaxSpoolSize, err = ParseSize(flag(fs, "max-spool-size")); err != nil {
		return cli.Usagef("invalid --max-spool-size: %v", err)
	}
	cfg.Service.ChannelDeadAfter, _ = fs.GetDuration("channel-dead-after")
	if cfg.Service.Retention, err = ParseRetention(flag(fs, "retention")); err != nil {
		return cli.Usagef("invalid --retention: %v", err)
	}
	return nil
}

// destinationsAndRoutes reads the config file's destinations and routes, and the
// Slack settings where a channel is named.
func destinationsAndRoutes(o Options, cfg *relay.Config) error {
	fs, r := o.Flags, o.Resolver
	var err error
	if cfg.Destinations, err = Destinations(r.Config(), o.registry()); err != nil {
		return &cli.UsageError{Err: err}
	}
	for i, d := range cfg.Destinations {
		cfg.Destinations[i].UserAgent = "tabhook/" + o.Version
		if w := d.Warning(); w != "" && o.Logger != nil {
			o.Logger.Warn(w, "destination", d.Name)
		}
	}
	// Slack is needed where a channel is named. Without destinations it is the one
	// place events go: the default channel is required (asked for on a terminal).
	cfg.Channel = flag(fs, "slack-channel")
	if cfg.Channel == "" && len(cfg.Destinations) == 0 {
		if cfg.Channel, err = r.Require(fs, "slack-channel", "Slack channel"); err != nil {
			return err
		}
	}
	dests := relay.DestinationsByName(cfg.Destinations)
	routing, err := Routing(r.Config(), cfg.Channel, dests)
	if err != nil {
		return &cli.UsageError{Err: err}
	}
	needSlack := len(routing.Channels()) > 0
	token, err := r.Secret(fs, "slack-token", "slack-token-file", "Slack bot token", needSlack)
	if err != nil {
		return err
	}
	cfg.Routes = routing.Routes
	cfg.Slack = slackout.New(slackout.Options{Token: token, APIURL: flag(fs, "slack-api-url"), OnError: cfg.Metrics.SlackError})
	cfg.Reconfigure = reloader(o, dests, needSlack)
	return nil
}

// reloader re-reads the config file for the settings a reload may change: the
// routes, and the default channel unless a flag or the environment set it (they still
// win over the file, as at start-up).
//
// The Slack token and the PAT secret are read again too (their files, or the config
// file), so a rotated one dropped into the LoadCredential= file takes effect with
// `systemctl reload`.
func reloader(o Options, dests map[string]destination.Config, needSlack bool) func() (relay.Reloaded, error) {
	fs := o.Flags
	current := flag(fs, "slack-channel")
	return func() (relay.Reloaded, error) {
		r, err := creds.Load(creds.Options{ConfigPath: o.Resolver.ConfigPath(), Env: o.Env})
		if err != nil {
			return relay.Reloaded{}, err
		}
		channel := current
		if src := o.Resolver.Source("slack-channel"); src != creds.SourceFlag && src != creds.SourceEnv {
			if channel = r.Config().GetString("slack-channel"); channel == "" && len(dests) == 0 {
				return relay.Reloaded{}, errors.New("the config file sets no slack-channel")
			}
		}
		routing, err := Routing(r.Config(), channel, dests)
		if err != nil {
			return relay.Reloaded{}, err
		}
		if !needSlack && len(routing.Channels()) > 0 {
			return relay.Reloaded{}, errors.New("the routes now name a Slack channel, but the relay started without Slack: restart it (with a Slack token) to post to Slack")
		}
		token, err := r.Secret(fs, "slack-token", "slack-token-file", "Slack bot token", needSlack)
		if err != nil {
			return relay.Reloaded{}, fmt.Errorf("re-read the Slack token: %w", err)
		}
		secret, err := r.Secret(fs, "pat-secret", "pat-secret-file", "Tableau PAT secret", true)
		if err != nil {
			return relay.Reloaded{}, fmt.Errorf("re-read the Tableau PAT secret: %w", err)
		}
		var perSite map[string]string
		if sites, err := Sites(r.Config()); err != nil {
			return relay.Reloaded{}, err
		} else if sites != nil {
			if perSite, err = siteSecrets(sites, secret); err != nil {
				return relay.Reloaded{}, err
			}
		}
		current = channel
		return relay.Reloaded{Routing: routing, SlackToken: token, PATSecret: secret, SiteSecrets: perSite}, nil
	}
}

// Routing reads the routes of the config file:
//
//	routes:
//	  - events: [DatasourceRefreshFailed, WorkbookRefreshFailed]
//	    channel: "#data-alerts"
//	  - projects: [Finance]
//	    channel: "#finance"
func Routing(v *viper.Viper, defaultChannel string, dests map[string]destination.Config) (relay.Routing, error) {
	var routes []relay.Route
	if v != nil && v.IsSet("routes") {
		if err := v.UnmarshalKey("routes", &routes); err != nil {
			return relay.Routing{}, fmt.Errorf("routes in the config file: %w", err)
		}
	}
	routing, err := relay.Routing{Default: defaultChannel, Routes: routes, Destinations: dests, Sites: SiteURLs(v)}.Check()
	if err != nil {
		return relay.Routing{}, fmt.Errorf("routes in the config file: %w", err)
	}
	return routing, nil
}

// Destinations reads the config file's destinations, their secrets from their
// files: a destination that cannot work stops the start (exit 2) naming the key.
//
//	destinations:
//	  ops-teams: {type: teams, url-file: /etc/tabhook/credentials/teams-url}
//	  oncall:    {type: pagerduty, routing-key-file: /etc/tabhook/credentials/pd-key}
//	  audit:     {type: webhook, url: https://audit.example.com/tableau, secret-file: /etc/tabhook/credentials/audit-secret}
func Destinations(v *viper.Viper, reg *destination.Registry) ([]destination.Config, error) {
	if v == nil || !v.IsSet("destinations") {
		return nil, nil
	}
	raw, ok := v.Get("destinations").(map[string]any)
	if !ok {
		return nil, errors.New("destinations in the config file: want a map of names to settings")
	}
	if reg == nil {
		reg = builtin.Registry()
	}
	return reg.Parse(raw, func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return string(b), err
	})
}

// actionSettings reads what acting from Slack's messages needs (--actions): who may
// act (actions.allow in the config file) and the Slack app's signing secret.
//
//	actions:
//	  allow: [U0123ABCD, S0456EFGH]   # Slack user IDs and user group IDs
func actionSettings(o Options, cfg *relay.Config) error {
	on, _ := o.Flags.GetBool("actions")
	if !on {
		return nil
	}
	var allow []string
	if v := o.Resolver.Config(); v != nil {
		allow = v.GetStringSlice("actions.allow")
	}
	if err := actions.CheckAllow(allow); err != nil {
		return cli.Usagef("--actions: %v", err)
	}
	secret, err := o.Resolver.Secret(o.Flags, "slack-signing-secret", "slack-signing-secret-file", "Slack signing secret (Basic Information → App Credentials)", true)
	if err != nil {
		return err
	}
	cfg.Actions = &relay.ActionsConfig{SigningSecret: secret, Allow: allow}
	return nil
}
