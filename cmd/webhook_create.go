package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/tableau"
)

type createOptions struct {
	IO       *cli.IOStreams
	Connect  func(context.Context) (webhookClient, error)
	Format   string
	Name     string
	Event    string // API name once validated
	URL      string
	Disabled bool
}

func newCmdWebhookCreate(f *Factory, runF func(context.Context, *createOptions) error) *cobra.Command {
	opts := &createOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "create --name NAME --event EVENT --url URL",
		Short: "Create a webhook",
		Long: `Create a webhook that makes Tableau POST the event's JSON payload to URL.

URL must be https: Tableau refuses anything else.`,
		Example: `  tabhook webhook create --name ops-refresh-failed --event DatasourceRefreshFailed \
    --url https://relay.example.com/tableau/8cf0e1d3b6a24c9f
  tabhook webhook create --name staging --event workbook-updated --url https://... --disabled -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fs, r := cmd.Flags(), f.Resolver()
			var err error
			if opts.Name, err = r.Require(fs, "name", "webhook name"); err != nil {
				return err
			}
			event, err := r.Require(fs, "event", "webhook event")
			if err != nil {
				return err
			}
			ev, err := tableau.ParseEvent(event)
			if err != nil {
				return err
			}
			opts.Event = ev.Name
			if opts.URL, err = r.Require(fs, "url", "destination URL"); err != nil {
				return err
			}
			if err := checkDestination(opts.URL); err != nil {
				return err
			}
			opts.Connect, opts.Format = clientFunc(f, cmd), outputFormat(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "webhook name")
	cmd.Flags().StringVar(&opts.Event, "event", "", "event that triggers the webhook (see 'tabhook events')")
	cmd.Flags().StringVar(&opts.URL, "url", "", "https destination URL")
	cmd.Flags().BoolVar(&opts.Disabled, "disabled", false, "create the webhook disabled")
	_ = cmd.RegisterFlagCompletionFunc("event", completeEvents)
	return cmd
}

func createRun(ctx context.Context, opts *createOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		// Names identify webhooks for 'test --name' and 'delete --name': a second
		// webhook of the same name would make both ambiguous.
		if same, err := admin.Select(ctx, c, admin.Filter{Name: opts.Name}); err != nil {
			return err
		} else if len(same) > 0 {
			return cli.Usagef("a webhook named %q already exists (%s, %s → %s): names identify webhooks for 'webhook test --name' and 'delete --name'; choose another name, or change that one with 'tabhook webhook update %s'", opts.Name, same[0].ID, same[0].Event, same[0].URL, same[0].ID)
		}
		enabled := !opts.Disabled
		w, err := c.CreateWebhook(ctx, tableau.WebhookSpec{Name: &opts.Name, Event: &opts.Event, URL: &opts.URL, Enabled: &enabled})
		if err != nil {
			return err
		}
		return printWebhook(opts.IO, opts.Format, w)
	})
}
