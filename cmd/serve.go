package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/sdnotify"
)

type serveOptions struct {
	IO           *cli.IOStreams
	Format       string
	Config       relay.Config
	NotifySocket string // systemd's NOTIFY_SOCKET
}

func newCmdServe(f *Factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the listener for webhooks managed elsewhere",
		Long: `Receive Tableau's webhook deliveries and post each event to Slack, enriched through
the Tableau REST API. The webhooks themselves are managed elsewhere (tabhook webhook
create, or another tool); 'tabhook run' manages them for you.

Every delivery is stored durably in the spool (--state-dir) before Tableau gets its
200, so an event Tableau delivered is never lost: what cannot be posted now is retried,
across restarts. Identical deliveries are posted once.

The listener serves POST on the listener path, GET /healthz and GET /readyz.`,
		Example: `  tabhook serve --public-url https://relay.example.com/tableau/8cf0e1d3b6a24c9f \
    --tls-cert /etc/tabhook/tls.crt --tls-key /etc/tabhook/tls.key --slack-channel '#tableau'
  tabhook serve --insecure-http --listen 127.0.0.1:8080 --path /tableau/8cf0e1d3b6a24c9f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.relaySettings(cmd, false)
			if err != nil {
				return err
			}
			opts.Config, opts.Format = cfg, outputFormat(cmd)
			opts.NotifySocket, _ = f.Env("NOTIFY_SOCKET")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			tuneGC(f.Env)
			return serveRun(cmd.Context(), opts)
		},
	}
	addRelayFlags(cmd)
	cmd.Flags().String("path", "", "listener path when --public-url is not given (env TABHOOK_PATH)")
	return cmd
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	return relayRun(ctx, opts, "Ready: waiting for deliveries (Ctrl-C to stop).")
}

// relayRun runs the relay in the foreground for serve and run: the summary first, a
// line per event, readiness told to systemd, and the ready message on stderr.
func relayRun(ctx context.Context, opts *serveOptions, readyMessage string) error {
	view := newRelayView(opts.IO.Out, opts.Format)
	defer view.close()
	cfg := opts.Config
	cfg.Observe = view.observe
	printSummary(opts.IO, opts.Format, cfg)
	notify := func(state string) {
		if err := sdnotify.Notify(opts.NotifySocket, state); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "warning: could not notify systemd: %v\n", err)
		}
	}
	defer notify("STOPPING=1")
	cfg.Ready = func(addr string) {
		notify("READY=1\nSTATUS=relaying Tableau events to " + cfg.Channel)
		if opts.Format != cli.FormatJSON {
			fmt.Fprintln(opts.IO.ErrOut, readyMessage)
		}
	}
	return relayError(relay.Run(ctx, cfg))
}

// printSummary says, before anything happens, where the relay listens and what it does.
func printSummary(ios *cli.IOStreams, format string, cfg relay.Config) {
	if format == cli.FormatJSON {
		return
	}
	w := ios.ErrOut
	scheme := "https"
	if cfg.Server.Insecure {
		scheme = "http (TLS terminated in front)"
	}
	fmt.Fprintf(w, "tabhook relay\n")
	fmt.Fprintf(w, "  listening  %s  %s, path %s\n", cfg.Server.Listen, scheme, cfg.Path)
	if cfg.PublicURL != "" {
		fmt.Fprintf(w, "  public URL %s\n", cfg.PublicURL)
	}
	fmt.Fprintf(w, "  Slack      %s\n", cfg.Channel)
	fmt.Fprintf(w, "  spool      %s\n", cfg.StateDir)
	if len(cfg.Events) > 0 {
		fmt.Fprintf(w, "  events     %v\n", cfg.Events)
	}
	if GuessablePath(cfg.Path) {
		fmt.Fprintf(w, "warning: the listener path %q is short or plain. Tableau does not sign deliveries, so anyone who can reach the listener and guess the path can post fake events: use a long random path such as /tableau/8cf0e1d3b6a24c9f71d2\n", cfg.Path)
	}
}
