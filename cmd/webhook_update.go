package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/tableau"
)

type updateOptions struct {
	IO      *cli.IOStreams
	Connect func(context.Context) (webhookClient, error)
	Format  string
	ID      string
	Spec    tableau.WebhookSpec
}

func newCmdWebhookUpdate(f *Factory, runF func(context.Context, *updateOptions) error) *cobra.Command {
	opts := &updateOptions{IO: f.IO}
	var name, url, event string
	var enabled bool
	cmd := &cobra.Command{
		Use:               "update ID [--name N] [--url URL] [--event E] [--enabled=true|false]",
		ValidArgsFunction: completeWebhooks(f),
		Short:             "Change a webhook, or re-enable one Tableau disabled",
		Long: `Change a webhook's name, destination, event or state. Flags not given are left as
they are.

Tableau disables a webhook whose deliveries keep failing and records why ('tabhook
webhook get' shows it); --enabled=true turns it back on once the destination is fixed.`,
		Example: `  tabhook webhook update 7d60d364-b9f5-4a9c-8aa5-4bdaa38c5dd3 --enabled=false
  tabhook webhook update 7d60d364-b9f5-4a9c-8aa5-4bdaa38c5dd3 --url https://relay2.example.com/hook --enabled=true`,
		Args: exactlyOneArg("webhook ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := f.Resolver()
			given := func(flag string) bool { return r.Source(flag) != creds.SourceDefault }
			opts.ID = args[0]
			if given("name") {
				opts.Spec.Name = &name
			}
			if given("url") {
				if err := checkDestination(url); err != nil {
					return err
				}
				opts.Spec.URL = &url
			}
			if given("event") {
				ev, err := tableau.ParseEvent(event)
				if err != nil {
					return err
				}
				opts.Spec.Event = &ev.Name
			}
			if given("enabled") {
				opts.Spec.Enabled = &enabled
			}
			if opts.Spec == (tableau.WebhookSpec{}) {
				return cli.Usagef("nothing to change: pass --name, --url, --event or --enabled")
			}
			opts.Connect, opts.Format = clientFunc(f, cmd), outputFormat(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return updateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.Flags().StringVar(&url, "url", "", "new https destination URL")
	cmd.Flags().StringVar(&event, "event", "", "new event")
	// No default shown: a state not given is left as it is.
	cmd.Flags().BoolVar(&enabled, "enabled", false, "--enabled=true turns the webhook on, --enabled=false off; left as it is when not given")
	_ = cmd.RegisterFlagCompletionFunc("event", completeEvents)
	return cmd
}

func updateRun(ctx context.Context, opts *updateOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		w, err := c.UpdateWebhook(ctx, opts.ID, opts.Spec)
		if err != nil {
			return notFound("update", opts.ID, err)
		}
		return printWebhook(opts.IO, opts.Format, w)
	})
}
