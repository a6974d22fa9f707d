package cmd

import (
	"context"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/demo"
	"github.com/tabhook/tabhook/internal/slackout"
)

type demoOptions struct {
	IO      *cli.IOStreams
	Format  string
	Options demo.Options
}

func newCmdDemo(f *Factory, runF func(context.Context, *demoOptions) error) *cobra.Command {
	opts := &demoOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline against a built-in Tableau simulator",
		Long: `Start an in-process Tableau Server simulator and the real relay: register webhooks,
verify them, let the simulator deliver five events, and print the Slack messages the
relay posts, then delete the webhooks and exit. Nothing outside this process is
contacted. The demo shows:

  - a workbook update, with the workbook's preview image in the message's thread;
  - a data source refresh that fails: Tableau's reason (from the job), the owner
    mentioned, a data quality warning put on the data source;
  - its next refresh succeeding: "recovered" in the failure's thread, the failure's
    message rewritten, the warning removed;
  - a workbook deletion and an admin promotion.

With --slack-token (or SLACK_TOKEN) and --slack-channel the messages are posted to
Slack for real. To try the relay yourself — your routes, destinations, options — keep
a simulated site and Slack running with 'tabhook demo sandbox', and fire events at it
with 'tabhook demo fire'.

With --sites the simulated server has more sites besides the Default one, and the one
relay serves them all (config sites:): a token and a path per site, each site's event
posted naming its site.`,
		Example: `  tabhook demo
  tabhook demo --sites finance
  SLACK_TOKEN=xoxb-... tabhook demo --slack-channel '#tabhook-test'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := f.Resolver().Secret(cmd.Flags(), "slack-token", "slack-token-file", "Slack bot token", false)
			if err != nil {
				return err
			}
			opts.Format = outputFormat(cmd)
			opts.Options = demo.Options{
				Out: f.IO.Out, SlackToken: token, SlackChannel: stringFlag(cmd.Flags(), "slack-channel"),
				SlackAPIURL: stringFlag(cmd.Flags(), "slack-api-url"), Logger: f.Logger(), UserAgent: "tabhook/" + f.Build.Version,
			}
			opts.Options.Sites, _ = cmd.Flags().GetStringSlice("sites")
			for _, s := range opts.Options.Sites {
				if s == "" || !validDemoSite.MatchString(s) || len(opts.Options.Sites) > 5 {
					return cli.Usagef("invalid --sites %q: give up to five content URLs such as finance,sales (letters, digits, - and _)", strings.Join(opts.Options.Sites, ","))
				}
			}
			if token != "" && opts.Options.SlackChannel == "" {
				return cli.Usagef("posting the demo to Slack needs --slack-channel (or SLACK_CHANNEL)")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return demoRun(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(newCmdSimulator(f), newCmdSandbox(f, nil), newCmdFire(f, nil))
	fs := cmd.Flags()
	fs.String("slack-token", "", "post to Slack for real with this bot token (env SLACK_TOKEN)")
	fs.String("slack-token-file", "", "file holding the Slack bot token (env SLACK_TOKEN_FILE)")
	fs.String("slack-channel", "", "channel to post to when a token is given (env SLACK_CHANNEL)")
	fs.String("slack-api-url", slackout.DefaultAPIURL, "Slack Web API URL (env SLACK_API_URL)")
	fs.StringSlice("sites", nil, "more simulated sites (content URLs) served by the one relay, each with an event")
	creds.MarkCommandLineOnly(fs, "sites")
	return cmd
}

func demoRun(ctx context.Context, opts *demoOptions) error {
	view := newRelayView(opts.IO.Out, opts.Format)
	defer view.close()
	o := opts.Options
	o.Observe, o.Flush = view.observe, view.close
	if opts.Format == cli.FormatJSON {
		o.Out = opts.IO.ErrOut // stdout carries only the JSON lines
	}
	return demo.Run(ctx, o)
}

var validDemoSite = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
