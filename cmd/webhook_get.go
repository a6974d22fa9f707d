package cmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
)

type getOptions struct {
	IO      *cli.IOStreams
	Connect func(context.Context) (webhookClient, error)
	Format  string
	ID      string
}

func newCmdWebhookGet(f *Factory, runF func(context.Context, *getOptions) error) *cobra.Command {
	opts := &getOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:               "get ID",
		ValidArgsFunction: completeWebhooks(f),
		Short:             "Show one webhook",
		Long:              "Show one webhook in full, including why Tableau disabled it, if it did.",
		Example:           `  tabhook webhook get 7d60d364-b9f5-4a9c-8aa5-4bdaa38c5dd3 -o json`,
		Args:              exactlyOneArg("webhook ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Connect, opts.Format = args[0], clientFunc(f, cmd), outputFormat(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return getRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func getRun(ctx context.Context, opts *getOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		w, err := c.GetWebhook(ctx, opts.ID)
		if err != nil {
			return notFound("get", opts.ID, err)
		}
		return printWebhook(opts.IO, opts.Format, w)
	})
}
