package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/sdnotify"
)

type serveOptions struct {
	IO           *cli.IOStreams
	Format       string
	LogJSON      bool // --log-format json: every line the process writes is JSON
	ShowSecrets  bool // print the listener path whole
	Config       relay.Config
	NotifySocket string // systemd's NOTIFY_SOCKET
}

// setOutput reads the flags that decide how the relay's output looks.
func (o *serveOptions) setOutput(cmd *cobra.Command) {
	o.Format = outputFormat(cmd)
	o.LogJSON = strings.EqualFold(stringFlag(cmd.Flags(), "log-format"), "json")
	o.ShowSecrets, _ = cmd.Flags().GetBool("show-secrets")
}

func newCmdServe(f *Factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the listener for webhooks managed elsewhere",
		Long: `Receive Tableau's webhook deliveries and post each event to Slack — and, where the
config file's routes say, to Teams, PagerDuty and signed webhooks — enriched through the
Tableau REST API. The webhooks themselves are managed elsewhere (tabhook webhook
create, or another tool); 'tabhook run' manages them for you.

Every delivery is stored durably in the spool (--state-dir) before Tableau gets its
200, so an event Tableau delivered is never lost: what cannot be posted now is retried,
across restarts. Identical deliveries are posted once.

The listener serves POST on the listener path, GET /healthz and GET /readyz. A relay of
several sites (the config file's sites:) takes each site's deliveries at the listener
path + /<content URL> (the Default site's at the path itself); see the README's
"Several sites".`,
		Example: `  tabhook serve --public-url https://relay.example.com/tableau/8cf0e1d3b6a24c9f \
    --tls-cert /etc/tabhook/tls.crt --tls-key /etc/tabhook/tls.key --slack-channel '#tableau'
  tabhook serve --insecure-http --listen 127.0.0.1:8080 --path /tableau/8cf0e1d3b6a24c9f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.relaySettings(cmd, false)
			if err != nil {
				return err
			}
			cfg.WatchWebhooks = stringFlag(cmd.Flags(), "watch-webhooks")
			cfg.WebhookCheck, _ = cmd.Flags().GetDuration("webhook-check")
			opts.Config = cfg
			opts.setOutput(cmd)
			opts.NotifySocket, _ = f.Env("NOTIFY_SOCKET")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			tuneGC(cmd.Context(), f.Env)
			return serveRun(cmd.Context(), opts)
		},
	}
	addRelayFlags(cmd)
	cmd.Flags().String("path", "", "listener path when --public-url is not given (env TABHOOK_PATH)")
	cmd.Flags().String("watch-webhooks", "", "name prefix of webhooks managed elsewhere to watch: /readyz and the log say when none points here, or one is disabled (never changed)")
	cmd.Flags().Duration("webhook-check", relay.DefaultWebhookCheck, "how often --watch-webhooks looks")
	return cmd
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	return relayRun(ctx, opts, "Ready: waiting for deliveries (Ctrl-C to stop).")
}

// relayRun runs the relay in the foreground for serve and run: the summary first, a
// line per event, readiness told to systemd, and the ready message on stderr. With
// --log-format json every line is JSON: the summary and the ready message become log
// records and the events JSON lines, so a journal or a log shipper parses all of it.
func relayRun(ctx context.Context, opts *serveOptions, readyMessage string) error {
	jsonLines := opts.Format == cli.FormatJSON || opts.LogJSON
	format := opts.Format
	if jsonLines {
		format = cli.FormatJSON
	}
	view := newRelayView(opts.IO.Out, format)
	defer view.close()
	cfg := opts.Config
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Observe = view.observe
	switch {
	case opts.LogJSON:
		logSummary(log, cfg, opts.ShowSecrets)
	case opts.Format != cli.FormatJSON:
		printSummary(opts.IO.ErrOut, cfg, opts.ShowSecrets)
	}
	notify := func(state string) {
		if err := sdnotify.Notify(opts.NotifySocket, state); err != nil {
			log.Warn("could not notify systemd", "err", err)
		}
	}
	defer notify("STOPPING=1")
	cfg.Ready = func(addr string) {
		notify("READY=1\nSTATUS=relaying Tableau events to " + cfg.Channel)
		switch {
		case opts.LogJSON:
			log.Info(readyMessage)
		case opts.Format != cli.FormatJSON:
			fmt.Fprintln(opts.IO.ErrOut, readyMessage)
		}
	}
	return relayError(relay.Run(ctx, cfg))
}

// printSummary says, before anything happens, where the relay listens and what it does.
// The listener path is the only secret a forged delivery needs: shown shortened, as it
// goes to the journal under systemd, unless --show-secrets.
func printSummary(w io.Writer, cfg relay.Config, showSecrets bool) {
	scheme := "https"
	if cfg.Server.Insecure {
		scheme = "http (TLS terminated in front)"
	}
	fmt.Fprintf(w, "tabhook relay\n")
	fmt.Fprintf(w, "  listening  %s  %s, path %s\n", cfg.Server.Listen, scheme, shownPath(cfg.Path, showSecrets))
	if cfg.PublicURL != "" {
		fmt.Fprintf(w, "  public URL %s\n", shownURL(cfg.PublicURL, cfg.Path, showSecrets))
	}
	if cfg.DiscoverSites != nil {
		fmt.Fprintf(w, "  sites      all the token's user can enter (sites: all), each at %s/<content URL>; listed again every --webhook-check; one token, so their Tableau calls take turns\n", shownPath(cfg.Path, showSecrets))
	}
	for _, s := range cfg.Sites {
		// The secret is the relay's path, which each site's extends with its name.
		where := "path " + relay.SitePath(shownPath(cfg.Path, showSecrets), s.Name)
		if cfg.PublicURL != "" {
			where = relay.SitePath(shownURL(cfg.PublicURL, cfg.Path, showSecrets), s.Name)
		}
		fmt.Fprintf(w, "  site       %s: %s\n", s.Label(), where)
	}
	switch channels := (relay.Routing{Default: cfg.Channel, Routes: cfg.Routes}).Channels(); {
	case len(channels) == 0:
		fmt.Fprintf(w, "  Slack      none: every route sends to the destinations below\n")
	case cfg.Channel == "":
		fmt.Fprintf(w, "  Slack      %s (routes only: an event no route takes is not sent)\n", strings.Join(channels, ", "))
	default:
		fmt.Fprintf(w, "  Slack      %s\n", cfg.Channel)
	}
	for _, d := range cfg.Destinations {
		fmt.Fprintf(w, "  %-10s %s (%s)\n", d.Name, d.Where(), d.Type())
	}
	if cfg.Store != "" {
		fmt.Fprintf(w, "  store      %s\n", pgstore.Redact(cfg.Store))
	} else {
		fmt.Fprintf(w, "  spool      %s\n", cfg.StateDir)
	}
	if len(cfg.Events) > 0 {
		fmt.Fprintf(w, "  events     %v\n", cfg.Events)
	}
	if r := cfg.Service.Retention; r > 0 {
		fmt.Fprintf(w, "  retention  %s (delivered events, dead letters, keys, item stories)\n", days(r))
	}
	if cfg.Actions != nil {
		fmt.Fprintf(w, "  actions    buttons on failed refreshes, for %s; Slack's Interactivity Request URL: %s\n", strings.Join(cfg.Actions.Allow, ", "), actionsURL(cfg, showSecrets))
	}
	if config.GuessablePath(cfg.Path) {
		fmt.Fprintf(w, "warning: %s\n", guessableWarning)
	}
}

// days says a retention as it is usually given: 7d, 36h.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

const guessableWarning = "the listener path is short or plain. Tableau does not sign deliveries, so anyone who can reach the listener and guess the path can post fake events: use a long random path such as /tableau/8cf0e1d3b6a24c9f71d2"

// actionsURL is where Slack's clicks go (--actions): the public URL's, or the
// listener path's, /slack/actions — what to paste into the Slack app's Interactivity
// settings.
func actionsURL(cfg relay.Config, showSecrets bool) string {
	if cfg.PublicURL != "" {
		return strings.TrimSuffix(shownURL(cfg.PublicURL, cfg.Path, showSecrets), "/") + "/slack/actions"
	}
	return relay.ActionsPath(shownPath(cfg.Path, showSecrets))
}

// logSummary is printSummary as one log record.
func logSummary(log *slog.Logger, cfg relay.Config, showSecrets bool) {
	attrs := []any{"listen", cfg.Server.Listen, "tls", !cfg.Server.Insecure, "path", shownPath(cfg.Path, showSecrets), "slack_channel", cfg.Channel, "state_dir", cfg.StateDir}
	if cfg.Store != "" {
		attrs = append(attrs, "store", pgstore.Redact(cfg.Store))
	}
	for _, d := range cfg.Destinations {
		attrs = append(attrs, "destination_"+d.Name, string(d.Type())+" "+d.Where())
	}
	if cfg.PublicURL != "" {
		attrs = append(attrs, "public_url", shownURL(cfg.PublicURL, cfg.Path, showSecrets))
	}
	if len(cfg.Events) > 0 {
		attrs = append(attrs, "events", cfg.Events)
	}
	if cfg.Actions != nil {
		attrs = append(attrs, "actions_allow", cfg.Actions.Allow, "actions_url", actionsURL(cfg, showSecrets))
	}
	log.Info("tabhook relay starting", attrs...)
	if config.GuessablePath(cfg.Path) {
		log.Warn(guessableWarning)
	}
}

// shownPath is the listener path with its last segment cut to four characters.
func shownPath(p string, showSecrets bool) string {
	i := strings.LastIndex(p, "/")
	if showSecrets || i < 0 || len(p)-i-1 <= 4 {
		return p
	}
	return p[:i+1+4] + "…"
}

// shownURL is the public URL with its path shortened as shownPath does.
func shownURL(u, path string, showSecrets bool) string {
	if showSecrets || path == "" {
		return u
	}
	return strings.Replace(u, path, shownPath(path, false), 1)
}
