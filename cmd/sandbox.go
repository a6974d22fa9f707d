package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/demo"
)

func newCmdSandbox(f *Factory, runF func(context.Context, demo.SandboxOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Keep a simulated Tableau site and a Slack stand-in running, to try the relay on",
		Long: `Start a simulated Tableau site and a local Slack stand-in, print the environment that
points tabhook at them, and print every message the relay posts, until Ctrl-C.

In another terminal, paste the environment and run the real relay ('tabhook run', or
'tabhook serve' with webhooks you create), with your own routes, destinations and alert
options; then make the simulated site deliver any event with 'tabhook demo fire'. The
relay's certificate and state go in --dir; the simulated site trusts that certificate.`,
		Example: `  tabhook demo sandbox
  # in another terminal, after pasting the printed environment:
  tabhook run --event DatasourceRefreshFailed --event DatasourceRefreshSucceeded
  tabhook demo fire DatasourceRefreshFailed --item "Sample datasource"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			o := demo.SandboxOptions{Listen: stringFlag(fs, "listen"), Dir: stringFlag(fs, "dir"), Out: f.IO.Out}
			o.RelayPort, _ = fs.GetInt("relay-port")
			if o.Dir == "" {
				o.Dir = filepath.Join(os.TempDir(), "tabhook-sandbox")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return demo.Sandbox(cmd.Context(), o)
		},
	}
	cmd.Flags().String("listen", "127.0.0.1:8787", "address of the simulated Tableau site")
	cmd.Flags().Int("relay-port", 8443, "the port the printed environment gives the relay's listener")
	cmd.Flags().String("dir", "", "where the relay's certificate, key and state go (default $TMPDIR/tabhook-sandbox)")
	// TABHOOK_LISTEN is the relay's: pasted into this shell it must not move the site.
	creds.MarkCommandLineOnly(cmd.Flags(), "listen", "relay-port", "dir")
	return cmd
}

func newCmdFire(f *Factory, runF func(context.Context, string, demo.FireRequest) error) *cobra.Command {
	var req demo.FireRequest
	cmd := &cobra.Command{
		Use:   "fire EVENT --item NAME",
		Short: "Make the sandbox's simulated site deliver an event to its webhooks",
		Long: `Make the simulated site of 'tabhook demo sandbox' (found by --server, TS_SERVER) deliver
an event about one of its items to every webhook subscribed to it, as Tableau would,
and say what each webhook answered. A …RefreshFailed event leaves a failed job whose
error is --notes, as Tableau's would.`,
		Example: `  tabhook demo fire DatasourceRefreshFailed --item "Sample datasource"
  tabhook demo fire DatasourceRefreshFailed --item "Sample datasource" --notes "Login failed for user 'etl'."
  tabhook demo fire WorkbookUpdated --item SafariSample`,
		Args: exactlyOneArg("event"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return completeEvents(nil, nil, "")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			server, err := f.Resolver().Require(cmd.Flags(), "server", "sandbox Tableau URL")
			if err != nil {
				return err
			}
			if req.Item == "" {
				return cli.Usagef("missing --item: the name (or ID) of the workbook, data source, view or user the event is about")
			}
			req.Event = args[0]
			if runF != nil {
				return runF(cmd.Context(), server, req)
			}
			return fireRun(cmd.Context(), f.IO, server, req)
		},
	}
	cmd.Flags().StringVar(&req.Item, "item", "", "the item the event is about: its name or ID")
	cmd.Flags().StringVar(&req.Notes, "notes", "", "a failed refresh's error, as Tableau's job records it")
	creds.MarkCommandLineOnly(cmd.Flags(), "item", "notes")
	return cmd
}

func fireRun(ctx context.Context, ios *cli.IOStreams, server string, req demo.FireRequest) error {
	res, err := demo.Fire(ctx, server, req)
	if err != nil {
		return err
	}
	if len(res.Deliveries) == 0 {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("no webhook on the site takes %s: start the relay with --event %s (or create one with 'tabhook webhook create')", res.Event, res.Event)}
	}
	failed := 0
	for _, d := range res.Deliveries {
		answer := fmt.Sprintf("answered %d", d.Status)
		if !d.OK {
			failed++
			if d.Err != "" {
				answer = "failed: " + d.Err
			}
		}
		fmt.Fprintf(ios.Out, "%s about %q delivered to %s: %s\n", res.Event, res.Item.Name, d.URL, answer)
	}
	if failed > 0 {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("%d of %d webhooks did not accept the delivery", failed, len(res.Deliveries))}
	}
	return nil
}
