package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/tableau"
)

type deleteOptions struct {
	IO        *cli.IOStreams
	Connect   func(context.Context) (webhookClient, error)
	Format    string
	IDs       []string
	Filter    admin.Filter
	DryRun    bool
	Yes       bool
	CanPrompt bool
}

func newCmdWebhookDelete(f *Factory, runF func(context.Context, *deleteOptions) error) *cobra.Command {
	opts := &deleteOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:               "delete [ID...] [--name N] [--name-prefix P] [--url-prefix U] [--dry-run] [--yes]",
		ValidArgsFunction: completeWebhooks(f),
		Aliases:           []string{"rm"},
		Short:             "Delete webhooks by ID or by filter",
		Long: `Delete webhooks named by ID, or every webhook that matches the filters.

Webhooks named by ID are deleted without a question. Deleting by filter asks for
confirmation on a terminal; without one it refuses unless --yes is given. --dry-run
prints what would be deleted and deletes nothing. A filter that matches nothing is not
an error.`,
		Example: `  tabhook webhook delete 7d60d364-b9f5-4a9c-8aa5-4bdaa38c5dd3
  tabhook webhook delete --name-prefix tabhook- --dry-run
  tabhook webhook delete --url-prefix https://old-relay.example.com/ --yes -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := readFilter(cmd, false)
			if err != nil {
				return err
			}
			filter.Name = stringFlag(cmd.Flags(), "name")
			if len(args) > 0 && !filter.Empty() {
				return cli.Usagef("give webhook IDs or filters, not both")
			}
			if len(args) == 0 && filter.Empty() {
				return cli.Usagef("nothing selected: give webhook IDs, or --name, --name-prefix or --url-prefix\nRun '%s --help' for usage.", cmd.CommandPath())
			}
			opts.IDs, opts.Filter = args, filter
			opts.Connect, opts.Format, opts.CanPrompt = clientFunc(f, cmd), outputFormat(cmd), f.canPrompt(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deleteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().String("name", "", "delete the webhooks with exactly this name")
	addFilterFlags(cmd, false)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be deleted; delete nothing")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	return cmd
}

func deleteRun(ctx context.Context, opts *deleteOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		targets, err := deleteTargets(ctx, c, opts)
		if err != nil {
			return err
		}
		if len(targets) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No webhooks match; nothing to delete.")
			return printWebhooks(opts.IO, opts.Format, targets)
		}
		if opts.DryRun {
			fmt.Fprintf(opts.IO.ErrOut, "Would delete %s (dry run; nothing deleted):\n", plural(len(targets), "webhook"))
			return printWebhooks(opts.IO, opts.Format, targets)
		}
		if len(opts.IDs) == 0 && !opts.Yes {
			if opts.CanPrompt {
				_ = printWebhooks(&cli.IOStreams{Out: opts.IO.ErrOut, OutTTY: true}, cli.FormatTable, targets)
			}
			if err := confirm(opts.IO, opts.CanPrompt, fmt.Sprintf("Delete %s?", plural(len(targets), "webhook"))); err != nil {
				return err
			}
		}
		deleted, err := admin.DeleteAll(ctx, c, targets)
		fmt.Fprintf(opts.IO.ErrOut, "Deleted %s.\n", plural(len(deleted), "webhook"))
		if perr := printWebhooks(opts.IO, opts.Format, deleted); perr != nil && err == nil {
			err = perr
		}
		return err
	})
}

// deleteTargets looks up webhooks named by ID (so a mistyped ID fails before anything is
// deleted) or selects them by filter.
func deleteTargets(ctx context.Context, c webhookClient, opts *deleteOptions) ([]tableau.Webhook, error) {
	if len(opts.IDs) == 0 {
		return admin.Select(ctx, c, opts.Filter)
	}
	targets := make([]tableau.Webhook, 0, len(opts.IDs))
	for _, id := range opts.IDs {
		w, err := c.GetWebhook(ctx, id)
		if err != nil {
			return nil, notFound("delete", id, err)
		}
		targets = append(targets, w)
	}
	return targets, nil
}
