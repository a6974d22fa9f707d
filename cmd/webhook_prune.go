package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/tableau"
)

type pruneOptions struct {
	IO        *cli.IOStreams
	Connect   func(context.Context) (webhookClient, error)
	Format    string
	Filter    admin.Filter
	DryRun    bool
	Yes       bool
	CanPrompt bool
}

func newCmdWebhookPrune(f *Factory, runF func(context.Context, *pruneOptions) error) *cobra.Command {
	opts := &pruneOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "prune [--name-prefix P] [--url-prefix U] [--dry-run] [--yes]",
		Short: "Delete webhooks whose destination no longer answers (orphans)",
		Long: `Ask Tableau to test every matching webhook and delete those whose destination does not
answer 2xx: the webhooks left behind by relays that crashed or moved.

A webhook whose test could not be run at all is kept and reported. Like delete, prune
asks for confirmation on a terminal and refuses without one unless --yes is given.`,
		Example: `  tabhook webhook prune --name-prefix tabhook- --dry-run
  tabhook webhook prune --url-prefix https://relay.example.com/ --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := readFilter(cmd, false)
			if err != nil {
				return err
			}
			opts.Filter = filter
			opts.Connect, opts.Format, opts.CanPrompt = clientFunc(f, cmd), outputFormat(cmd), f.canPrompt(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	addFilterFlags(cmd, false)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "test and print the orphans; delete nothing")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	return cmd
}

func pruneRun(ctx context.Context, opts *pruneOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		candidates, err := admin.Select(ctx, c, opts.Filter)
		if err != nil {
			return err
		}
		if len(candidates) == 0 {
			fmt.Fprintln(opts.IO.ErrOut, "No webhooks match; nothing to prune.")
			return printWebhooks(opts.IO, opts.Format, nil)
		}
		if !opts.Yes && !opts.DryRun && !opts.CanPrompt {
			// Refuse before testing: each test can take Tableau's full delivery timeout.
			return cli.Usagef("prune would delete without confirmation; pass --yes (or --dry-run to only see the orphans)")
		}
		fmt.Fprintf(opts.IO.ErrOut, "Testing %s...\n", plural(len(candidates), "webhook"))
		orphans, testErrs := admin.Orphans(admin.TestAll(ctx, c, candidates))
		for _, e := range testErrs {
			fmt.Fprintf(opts.IO.ErrOut, "kept (test failed): %v\n", e)
		}
		hooks := make([]tableau.Webhook, len(orphans))
		for i, o := range orphans {
			hooks[i] = o.Webhook
			fmt.Fprintf(opts.IO.ErrOut, "orphan: %s (%s) — %s answered %d\n", o.Webhook.Name, o.Webhook.ID, o.Webhook.URL, o.Result.Status)
		}
		if len(hooks) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "No orphans: every tested destination answered 2xx.\n")
			return errors.Join(printWebhooks(opts.IO, opts.Format, nil), testFailures(testErrs))
		}
		if opts.DryRun {
			fmt.Fprintf(opts.IO.ErrOut, "Would delete %s (dry run; nothing deleted).\n", plural(len(hooks), "orphan"))
			return errors.Join(printWebhooks(opts.IO, opts.Format, hooks), testFailures(testErrs))
		}
		if !opts.Yes {
			if err := confirm(opts.IO, opts.CanPrompt, fmt.Sprintf("Delete %s?", plural(len(hooks), "orphan"))); err != nil {
				return err
			}
		}
		deleted, err := admin.DeleteAll(ctx, c, hooks)
		fmt.Fprintf(opts.IO.ErrOut, "Deleted %s.\n", plural(len(deleted), "orphan"))
		return errors.Join(printWebhooks(opts.IO, opts.Format, deleted), err, testFailures(testErrs))
	})
}

func testFailures(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s could not be tested and were kept", plural(len(errs), "webhook"))
}
