package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
)

type listOptions struct {
	IO      *cli.IOStreams
	Connect func(context.Context) (webhookClient, error)
	Format  string
	Filter  admin.Filter
	// AllSites, when set, lists every site's webhooks (--all-sites).
	AllSites func(context.Context) ([]siteConn, error)
}

func newCmdWebhookList(f *Factory, runF func(context.Context, *listOptions) error) *cobra.Command {
	opts := &listOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:     "list [--event E] [--name-prefix P] [--url-prefix U] [--all-sites]",
		Aliases: []string{"ls"},
		Short:   "List the site's webhooks",
		Long: `List the site's webhooks. STATUS shows why Tableau disabled a webhook, when it did.

On a terminal the output is an aligned table; otherwise tab-separated values without a
header, for scripts. -o json prints an array (empty when nothing matches).

--all-sites lists every site's webhooks with a SITE column ("site" in JSON): the sites
of the config file's sites:, else every site the token's user can enter — on Tableau
Server, a server administrator's token finds the orphaned webhooks of the whole server.
A site that cannot be read is said on stderr; the others are listed (exit 1).`,
		Example: `  tabhook webhook list
  tabhook webhook list --event WorkbookUpdated --name-prefix tabhook- -o json
  tabhook webhook list --all-sites --name-prefix tabhook-`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := readFilter(cmd, true)
			if err != nil {
				return err
			}
			opts.Filter, opts.Connect, opts.Format = filter, clientFunc(f, cmd), outputFormat(cmd)
			if all, _ := cmd.Flags().GetBool("all-sites"); all {
				opts.AllSites = allSitesFunc(f, cmd)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	addFilterFlags(cmd, true)
	addAllSitesFlag(cmd)
	return cmd
}

func readFilter(cmd *cobra.Command, withEvent bool) (admin.Filter, error) {
	var f admin.Filter
	if withEvent {
		names, _ := cmd.Flags().GetStringSlice("event")
		events, err := config.Events(names)
		if err != nil {
			return f, err
		}
		f.Events = events
	}
	f.NamePrefix = stringFlag(cmd.Flags(), "name-prefix")
	f.URLPrefix = stringFlag(cmd.Flags(), "url-prefix")
	return f, nil
}

func listRun(ctx context.Context, opts *listOptions) error {
	if opts.AllSites != nil {
		return listAllSites(ctx, opts)
	}
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		hooks, err := admin.Select(ctx, c, opts.Filter)
		if err != nil {
			return err
		}
		if len(hooks) == 0 && opts.Format != cli.FormatJSON {
			if opts.Filter.Empty() {
				fmt.Fprintln(opts.IO.ErrOut, "The site has no webhooks.")
			} else {
				fmt.Fprintln(opts.IO.ErrOut, "No webhooks match.")
			}
		}
		return printWebhooks(opts.IO, opts.Format, hooks)
	})
}

func listAllSites(ctx context.Context, opts *listOptions) error {
	sites, err := opts.AllSites(ctx)
	if err != nil {
		return err
	}
	var all []siteWebhook
	err = eachSite(ctx, opts.IO, sites, func(site string, c webhookClient) error {
		hooks, err := admin.Select(ctx, c, opts.Filter)
		for _, h := range hooks {
			all = append(all, siteWebhook{Site: site, Webhook: h})
		}
		return err
	})
	if len(all) == 0 && opts.Format != cli.FormatJSON {
		fmt.Fprintf(opts.IO.ErrOut, "No webhooks match on %s.\n", plural(len(sites), "site"))
	}
	return errors.Join(printSiteWebhooks(opts.IO, opts.Format, all), err)
}
