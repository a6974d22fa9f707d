package cmd

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/gctune"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
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
	fs.Bool("debug-pprof", false, "serve Go's profiles at http://METRICS-LISTEN/debug/pprof/ too (for diagnosing memory and CPU)")
	_ = fs.MarkHidden("debug-pprof")
	fs.StringSlice("allow-cidr", nil, "accept deliveries only from these networks, e.g. 203.0.113.0/24 (repeatable; behind a proxy, the proxy's address)")
	fs.String("store", "", "PostgreSQL URL (postgres://user@host/db) of a store shared by several serve replicas; empty: the embedded spool in --state-dir (env TABHOOK_STORE)")
	fs.String("max-spool-size", "1GiB", "cap on the backlog: the stored size of undelivered events (pending and dead); at the cap new deliveries get 503 (Tableau retries them) until the backlog is delivered; 0: none (env TABHOOK_MAX_SPOOL_SIZE)")
	fs.Bool("mention-owner", false, "mention a failed refresh's owner in Slack, found by their Tableau e-mail; needs the users:read.email scope")
	fs.Bool("quality-warnings", false, "put a data quality warning (stale data) on a data source whose refresh failed, and remove it when a refresh succeeds; needs REST API 3.9")
	fs.Duration("channel-dead-after", relay.DefaultChannelDeadAfter, "how long events wait for a Slack channel that refuses posts (bot removed, channel archived or gone) before they become dead letters (env TABHOOK_CHANNEL_DEAD_AFTER)")
	fs.String("retention", "7d", "how long delivered events, dead letters, their deduplication keys and quiet items' refresh stories are kept, e.g. 7d, 36h (env TABHOOK_RETENTION)")
	fs.Bool("actions", false, "offer Run refresh now, Mute 24 h and Acknowledge buttons on failed refreshes' messages; Slack's clicks arrive at the listener path + /slack/actions (needs --slack-signing-secret-file and actions.allow in the config file)")
	fs.String("slack-signing-secret", "", "the Slack app's signing secret, to verify its clicks (--actions); prefer --slack-signing-secret-file")
	fs.String("slack-signing-secret-file", "", "file holding the Slack app's signing secret")
	fs.Bool("show-secrets", false, "print the listener path whole in the start-up summary (it is shortened: it goes to logs)")
	fs.Int("workers", 4, "deliveries in parallel")
	_ = fs.MarkHidden("workers")
	fs.Duration("health-every", time.Minute, "how often /readyz's view of Tableau, Slack and a shared store is refreshed")
	_ = fs.MarkHidden("health-every")
	fs.Int("digest-max", relay.DefaultDigestMax, "the most events one digest message (and one claim) stands for: a backlog after an outage drains as a few digests a channel")
	fs.Duration("lease", 30*time.Second, "how long a claimed event stays with a replica that stops renewing it (a shared store)")
	_ = fs.MarkHidden("lease")
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
// machines, and its heap is small. GOGC and GOMEMLIMIT, when set, win; else the soft
// limit follows the live heap (twice it, at least memoryFloor) until ctx ends: idle
// headroom stays small, and a large backlog's index does not make the collector run
// without pause.
func tuneGC(ctx context.Context, env creds.LookupEnv) {
	if _, set := env("GOGC"); !set {
		debug.SetGCPercent(300)
	}
	if _, set := env("GOMEMLIMIT"); !set {
		go gctune.Follow(ctx, memoryFloor, 5*time.Second)
	}
}

// memoryFloor is the least soft memory limit: the relay's memory with 100,000 events
// pending (live heap about 26 MB) stays under it.
const memoryFloor = 64 << 20

// relaySettings is the one check of a relay's settings (internal/config), for serve
// (manage=false), run (manage=true) and doctor alike.
func (f *Factory) relaySettings(cmd *cobra.Command, manage bool) (relay.Config, error) {
	cfg, err := config.Load(config.Options{
		Flags: cmd.Flags(), Resolver: f.Resolver(), Env: f.Env, Manage: manage,
		Version: f.Build.Version, Logger: f.Logger(), Tableau: f.TableauSettings,
	})
	cfg.Reload = f.Reload
	return cfg, err
}
