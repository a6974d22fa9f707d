package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/relay"
)

func newCmdRun(f *Factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "run --event E [--event E2...] --public-url URL",
		Short: "Listen, register the webhooks, relay events to Slack and destinations; delete the webhooks on exit",
		Long: `Everything in one foreground process: start the listener, create one webhook per
--event pointing at --public-url (named <name-prefix>-<event>, e.g.
tabhook-workbook-updated), verify that Tableau can reach the listener, and relay every
event to Slack — and, where the config file's routes say, to Teams, PagerDuty and signed
webhooks — until SIGINT or SIGTERM. Then: stop accepting, delete every webhook with this
run's names and URL (found by listing, so also one whose create answer was lost), keep
delivering for up to --drain-timeout, sign out, exit 0. A second Ctrl-C exits at once and
prints the command that removes what may be left. --keep-webhooks leaves them in place.

After a crash (kill -9, power loss), the next run adopts the webhooks with the same name
and URL instead of creating duplicates, and delivers what the spool still holds.
Webhooks of other instances (same name, another URL) are never touched.

One run serves several sites when the config file lists them (sites:, or sites: all
for every site a server administrator's token can enter): each site gets its own
webhooks, at the public URL + /<content URL>; see the README's "Several sites".`,
		Example: `  tabhook run --event WorkbookUpdated --event DatasourceRefreshFailed \
    --public-url https://relay.example.com/tableau/8cf0e1d3b6a24c9f \
    --tls-cert /etc/tabhook/tls.crt --tls-key /etc/tabhook/tls.key --slack-channel '#tableau'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.relaySettings(cmd, true)
			if err != nil {
				return err
			}
			opts.Config = cfg
			opts.setOutput(cmd)
			if !cfg.KeepWebhooks {
				reg := admin.Registration{Prefix: cfg.NamePrefix, URL: cfg.PublicURL, Events: cfg.Events}
				cleanup := reg.CleanupCommand()
				if len(cfg.Sites) > 0 || cfg.DiscoverSites != nil {
					cleanup += " --all-sites" // every site's
				}
				f.SetInterruptHint(fmt.Sprintf("Stopped at once: this run's webhooks (%s-*) may be left in Tableau. Remove them with:\n  %s", cfg.NamePrefix, cleanup))
			}
			opts.NotifySocket, _ = f.Env("NOTIFY_SOCKET")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			tuneGC(cmd.Context(), f.Env)
			return runRun(cmd.Context(), opts)
		},
	}
	addRelayFlags(cmd)
	cmd.Flags().StringSlice("event", nil, "event to subscribe to (repeatable; see 'tabhook events')")
	cmd.Flags().String("name-prefix", "tabhook", "prefix of the webhooks' names")
	cmd.Flags().Bool("keep-webhooks", false, "leave the webhooks in place on exit")
	cmd.Flags().Duration("webhook-check", relay.DefaultWebhookCheck, "how often to check the webhooks and put right one deleted, disabled or changed meanwhile")
	cmd.Flags().Bool("verify", true, "ask Tableau to test each webhook once it exists and report whether the delivery arrived")
	_ = cmd.RegisterFlagCompletionFunc("event", completeEvents)
	return cmd
}

func runRun(ctx context.Context, opts *serveOptions) error {
	return relayRun(ctx, opts, "Ready: webhooks registered, waiting for events (Ctrl-C to stop and delete them).")
}
