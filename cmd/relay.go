package cmd

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

// addRelayFlags registers the flags serve and run share.
func addRelayFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.String("slack-token", "", "Slack bot token; prefer --slack-token-file (env SLACK_TOKEN)")
	fs.String("slack-token-file", "", "file holding the Slack bot token (env SLACK_TOKEN_FILE)")
	fs.String("slack-channel", "", "channel to post to: #name or ID (env SLACK_CHANNEL)")
	fs.String("slack-api-url", slackout.DefaultAPIURL, "Slack Web API URL, for proxies and tests (env SLACK_API_URL)")
	fs.String("listen", ":8443", "address to listen on (env TABHOOK_LISTEN)")
	fs.String("public-url", "", "https URL Tableau posts to; its path is the listener path (env TABHOOK_PUBLIC_URL)")
	fs.String("tls-cert", "", "TLS certificate (PEM), reloaded when it changes (env TABHOOK_TLS_CERT)")
	fs.String("tls-key", "", "TLS private key (PEM) (env TABHOOK_TLS_KEY)")
	fs.Bool("insecure-http", false, "serve plain HTTP behind a TLS-terminating proxy (env TABHOOK_INSECURE_HTTP)")
	fs.String("state-dir", "", "where the spool lives (default $STATE_DIRECTORY, else $XDG_STATE_HOME/tabhook; env TABHOOK_STATE_DIR)")
	fs.Duration("drain-timeout", 10*time.Second, "how long to keep delivering after a stop signal")
	fs.String("metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 (off by default)")
	fs.StringSlice("allow-cidr", nil, "accept deliveries only from these networks, e.g. 203.0.113.0/24 (repeatable; behind a proxy, the proxy's address)")
	fs.String("store", "", "PostgreSQL URL (postgres://user@host/db) of a store shared by several serve replicas; empty: the embedded spool in --state-dir (env TABHOOK_STORE)")
	fs.String("max-spool-size", "1GiB", "cap on the backlog: the stored size of undelivered events (pending and dead); at the cap new deliveries get 503 (Tableau retries them) until the backlog is delivered; 0: none (env TABHOOK_MAX_SPOOL_SIZE)")
	fs.Bool("mention-owner", false, "mention a failed refresh's owner in Slack, found by their Tableau e-mail; needs the users:read.email scope")
	fs.Bool("quality-warnings", false, "put a data quality warning (stale data) on a data source whose refresh failed, and remove it when a refresh succeeds; needs REST API 3.9")
	fs.Duration("channel-dead-after", relay.DefaultChannelDeadAfter, "how long events wait for a Slack channel that refuses posts (bot removed, channel archived or gone) before they become dead letters (env TABHOOK_CHANNEL_DEAD_AFTER)")
	fs.String("retention", "7d", "how long delivered events, dead letters, their deduplication keys and quiet items' refresh stories are kept, e.g. 7d, 36h (env TABHOOK_RETENTION)")
	fs.Bool("show-secrets", false, "print the listener path whole in the start-up summary (it is shortened: it goes to logs)")
	fs.Int("workers", 4, "deliveries in parallel")
	_ = fs.MarkHidden("workers")
	fs.Duration("health-every", time.Minute, "how often /readyz's view of Tableau, Slack and a shared store is refreshed")
	_ = fs.MarkHidden("health-every")
	fs.Duration("lease", 30*time.Second, "how long a claimed event stays with a replica that stops renewing it (a shared store)")
	_ = fs.MarkHidden("lease")
}

// relaySettings resolves and checks what serve (manage=false) and run (manage=true)
// need, in the order a person would fix them: events and listener first (no network
// needed), then credentials, destinations and routes. It is the one check of a relay's
// settings: doctor runs it too, so doctor fails exactly where serve and run would
// refuse to start.
func (f *Factory) relaySettings(cmd *cobra.Command, manage bool) (relay.Config, error) {
	fs := cmd.Flags()
	var cfg relay.Config
	if manage {
		names, _ := fs.GetStringSlice("event")
		events, err := parseEvents(names)
		if err != nil {
			return cfg, err
		}
		if len(events) == 0 {
			return cfg, cli.Usagef("missing events: pass --event (repeatable), set TABHOOK_EVENT, or set event in the config file; see 'tabhook events'")
		}
		cfg.Manage, cfg.Events = true, events
		cfg.NamePrefix = stringFlag(fs, "name-prefix")
		cfg.KeepWebhooks, _ = fs.GetBool("keep-webhooks")
		cfg.Verify, _ = fs.GetBool("verify")
		cfg.WebhookCheck, _ = fs.GetDuration("webhook-check")
	}
	path, public, err := listenerPath(fs, manage)
	if err != nil {
		return cfg, err
	}
	cfg.Path, cfg.PublicURL = path, public
	if err := checkTLS(fs); err != nil {
		return cfg, err
	}
	cfg.Server = relay.ServerConfig{Listen: stringFlag(fs, "listen"), CertFile: stringFlag(fs, "tls-cert"), KeyFile: stringFlag(fs, "tls-key")}
	cfg.Server.Insecure, _ = fs.GetBool("insecure-http")
	cfg.StateDir = stringFlag(fs, "state-dir")
	if cfg.StateDir == "" {
		env := f.Env
		cfg.StateDir = creds.DefaultStateDir(env)
	}
	if cfg.StateDir == "" {
		return cfg, &creds.MissingError{Label: "state directory", Flag: "state-dir"}
	}
	cfg.DrainTimeout, _ = fs.GetDuration("drain-timeout")
	if cfg.Store = stringFlag(fs, "store"); cfg.Store != "" {
		if err := checkStoreURL(cfg.Store); err != nil {
			return cfg, err
		}
	}
	cidrs, _ := fs.GetStringSlice("allow-cidr")
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return cfg, cli.Usagef("invalid --allow-cidr %q: want a network such as 203.0.113.0/24", c)
		}
		cfg.Allow = append(cfg.Allow, p)
	}
	cfg.Service.Workers, _ = fs.GetInt("workers")
	cfg.Service.Lease, _ = fs.GetDuration("lease")
	cfg.HealthEvery, _ = fs.GetDuration("health-every")
	cfg.MentionOwner, _ = fs.GetBool("mention-owner")
	cfg.QualityWarnings, _ = fs.GetBool("quality-warnings")
	if cfg.MaxSpoolSize, err = parseSize(stringFlag(fs, "max-spool-size")); err != nil {
		return cfg, cli.Usagef("invalid --max-spool-size: %v", err)
	}
	cfg.Service.ChannelDeadAfter, _ = fs.GetDuration("channel-dead-after")
	if cfg.Service.Retention, err = parseRetention(stringFlag(fs, "retention")); err != nil {
		return cfg, cli.Usagef("invalid --retention: %v", err)
	}

	tc, err := f.TableauSettings(fs)
	if err != nil {
		return cfg, err
	}
	cfg.Metrics, cfg.MetricsListen = relay.NewMetrics(), stringFlag(fs, "metrics-listen")
	tc.OnCall = cfg.Metrics.TableauCall
	client, err := tableau.New(tc)
	if err != nil {
		return cfg, &cli.UsageError{Err: err}
	}
	cfg.Tableau = client
	r := f.Resolver()
	if cfg.Destinations, err = readDestinations(r.Config()); err != nil {
		return cfg, &cli.UsageError{Err: err}
	}
	for i, d := range cfg.Destinations {
		cfg.Destinations[i].UserAgent = "tabhook/" + f.Build.Version
		if w := d.Warning(); w != "" {
			f.Logger().Warn(w, "destination", d.Name)
		}
	}
	// Slack is needed where a channel is named. Without destinations it is the one
	// place events go: the default channel is required (asked for on a terminal).
	cfg.Channel = stringFlag(fs, "slack-channel")
	if cfg.Channel == "" && len(cfg.Destinations) == 0 {
		if cfg.Channel, err = r.Require(fs, "slack-channel", "Slack channel"); err != nil {
			return cfg, err
		}
	}
	routing, err := readRouting(r.Config(), cfg.Channel, relay.DestinationTypes(cfg.Destinations))
	if err != nil {
		return cfg, &cli.UsageError{Err: err}
	}
	needSlack := len(routing.Channels()) > 0
	token, err := r.Secret(fs, "slack-token", "slack-token-file", "Slack bot token", needSlack)
	if err != nil {
		return cfg, err
	}
	cfg.Routes = routing.Routes
	cfg.Slack = slackout.New(slackout.Options{Token: token, APIURL: stringFlag(fs, "slack-api-url"), OnError: cfg.Metrics.SlackError})
	cfg.Logger, cfg.Version = f.Logger(), f.Build.Version
	cfg.Reload, cfg.Reconfigure = f.Reload, f.reconfigure(fs, relay.DestinationTypes(cfg.Destinations), needSlack)
	return cfg, nil
}

// reconfigure re-reads the config file for the settings a reload may change: the
// routes, and the default channel unless a flag or the environment set it (they still
// win over the file, as at start-up).
//
// The Slack token and the PAT secret are read again too (their files, or the config
// file), so a rotated one dropped into the LoadCredential= file takes effect with
// `systemctl reload`.
func (f *Factory) reconfigure(fs *pflag.FlagSet, dests map[string]destination.Type, needSlack bool) func() (relay.Reloaded, error) {
	current := stringFlag(fs, "slack-channel")
	return func() (relay.Reloaded, error) {
		r, err := creds.Load(creds.Options{ConfigPath: f.resolver.ConfigPath(), Env: f.Env})
		if err != nil {
			return relay.Reloaded{}, err
		}
		channel := current
		if src := f.resolver.Source("slack-channel"); src != creds.SourceFlag && src != creds.SourceEnv {
			if channel = r.Config().GetString("slack-channel"); channel == "" && len(dests) == 0 {
				return relay.Reloaded{}, errors.New("the config file sets no slack-channel")
			}
		}
		routing, err := readRouting(r.Config(), channel, dests)
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
		current = channel
		return relay.Reloaded{Routing: routing, SlackToken: token, PATSecret: secret}, nil
	}
}

// readRouting reads the routes of the config file:
//
//	routes:
//	  - events: [DatasourceRefreshFailed, WorkbookRefreshFailed]
//	    channel: "#data-alerts"
//	  - projects: [Finance]
//	    channel: "#finance"
func readRouting(v *viper.Viper, defaultChannel string, dests map[string]destination.Type) (relay.Routing, error) {
	var routes []relay.Route
	if v != nil && v.IsSet("routes") {
		if err := v.UnmarshalKey("routes", &routes); err != nil {
			return relay.Routing{}, fmt.Errorf("routes in the config file: %w", err)
		}
	}
	routing, err := relay.Routing{Default: defaultChannel, Routes: routes, Destinations: dests}.Check()
	if err != nil {
		return relay.Routing{}, fmt.Errorf("routes in the config file: %w", err)
	}
	return routing, nil
}

// readDestinations reads the config file's destinations, their secrets from their
// files: a destination that cannot work stops the start (exit 2) naming the key.
//
//	destinations:
//	  ops-teams: {type: teams, url-file: /etc/tabhook/credentials/teams-url}
//	  oncall:    {type: pagerduty, routing-key-file: /etc/tabhook/credentials/pd-key}
//	  audit:     {type: webhook, url: https://audit.example.com/tableau, secret-file: /etc/tabhook/credentials/audit-secret}
func readDestinations(v *viper.Viper) ([]destination.Config, error) {
	if v == nil || !v.IsSet("destinations") {
		return nil, nil
	}
	raw, ok := v.Get("destinations").(map[string]any)
	if !ok {
		return nil, errors.New("destinations in the config file: want a map of names to settings")
	}
	return destination.Parse(raw, func(path string) (string, error) {
		b, err := os.ReadFile(path)
		return string(b), err
	})
}

// listenerPath takes the path from --public-url, else --path.
func listenerPath(fs *pflag.FlagSet, needPublicURL bool) (path, public string, err error) {
	public = stringFlag(fs, "public-url")
	if public == "" {
		if needPublicURL {
			return "", "", &creds.MissingError{Label: "public URL (the https URL Tableau posts to)", Flag: "public-url"}
		}
		path = stringFlag(fs, "path")
		if path == "" {
			return "", "", cli.Usagef("missing listener path: pass --public-url (the https URL Tableau posts to) or --path, or set TABHOOK_PUBLIC_URL or TABHOOK_PATH")
		}
		return path, "", checkPath(path)
	}
	u, err := url.Parse(public)
	if err != nil || u.Host == "" {
		return "", "", cli.Usagef("invalid --public-url %q: want an https URL such as https://relay.example.com/tableau/8cf0e1d3b6a24c9f", public)
	}
	if u.Scheme != "https" {
		return "", "", cli.Usagef("--public-url %q must be https: Tableau delivers webhooks only to https URLs", public)
	}
	return u.Path, public, checkPath(u.Path)
}

func checkPath(p string) error {
	if p == "" || p == "/" || !strings.HasPrefix(p, "/") {
		return cli.Usagef("the listener path %q must be a path below /, e.g. /tableau/8cf0e1d3b6a24c9f", p)
	}
	switch p {
	case "/healthz", "/readyz":
		return cli.Usagef("the listener path may not be %s: that path reports health", p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-._~", r)) {
			return cli.Usagef("the listener path %q may hold only letters, digits and / - . _ ~", p)
		}
	}
	return nil
}

// GuessablePath reports whether the last segment of the path is too short or too
// plain to keep strangers from posting fake events (deliveries are not signed).
func GuessablePath(p string) bool {
	seg := p[strings.LastIndex(p, "/")+1:]
	if len(seg) < 16 {
		return true
	}
	var letters, digits bool
	for _, r := range seg {
		letters = letters || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digits = digits || (r >= '0' && r <= '9')
	}
	return !(letters && digits)
}

func checkTLS(fs *pflag.FlagSet) error {
	insecure, _ := fs.GetBool("insecure-http")
	cert, key := stringFlag(fs, "tls-cert"), stringFlag(fs, "tls-key")
	switch {
	case insecure && (cert != "" || key != ""):
		return cli.Usagef("--insecure-http and --tls-cert/--tls-key exclude each other")
	case insecure:
		return nil
	case cert == "" && key == "":
		return cli.Usagef("no TLS certificate: Tableau delivers only to https, so pass --tls-cert and --tls-key, or --insecure-http when a proxy in front terminates TLS")
	case cert == "" || key == "":
		return cli.Usagef("--tls-cert and --tls-key go together")
	}
	return nil
}

// relayError maps the relay's failures to exit codes: rejected credentials already
// say so themselves (exit 4); a channel that does not exist is configuration (exit 2).
func relayError(err error) error {
	if slackout.Code(err) == "channel_not_found" {
		return &cli.UsageError{Err: err}
	}
	return err
}

// tuneGC trades memory for CPU in the long-running relay: intake is CPU-bound on small
// machines, and its heap is small. GOGC and GOMEMLIMIT, when set, win; the soft limit
// keeps a burst from growing the process past it.
func tuneGC(env creds.LookupEnv) {
	if _, set := env("GOGC"); !set {
		debug.SetGCPercent(300)
	}
	if _, set := env("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(256 << 20)
	}
}

// parseSize reads a size such as 1GiB, 500MB, 64KiB or a number of bytes; 0 means no cap.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		factor int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	factor := int64(1)
	for _, u := range units {
		if cut, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(cut), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1GiB, 500MB or 0 for no cap", s)
	}
	return int64(n * float64(factor)), nil
}

// parseRetention reads a retention such as 7d, 36h or 90m: at least an hour (shorter
// would forget deduplication keys while Tableau may still retry).
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("%q: want a duration of at least an hour, such as 7d, 36h or 90m", s)
	}
	return d, nil
}

// checkStoreURL accepts postgres:// and postgresql:// URLs.
func checkStoreURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return cli.Usagef("invalid --store %s: want a PostgreSQL URL such as postgres://tabhook@db.example.com:5432/tabhook, or leave it empty for the embedded spool", pgstore.Redact(raw))
	}
	return nil
}
