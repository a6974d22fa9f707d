package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/relay"
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
	Judge     admin.Judge
	// AllSites, when set, prunes every site (--all-sites).
	AllSites func(context.Context) ([]siteConn, error)
}

func newCmdWebhookPrune(f *Factory, runF func(context.Context, *pruneOptions) error) *cobra.Command {
	opts := &pruneOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "prune [--name-prefix P] [--url-prefix U] [--confirm-after D | --once] [--dry-run] [--yes] [--all-sites]",
		Short: "Delete webhooks whose destination no longer answers (orphans)",
		Long: `Delete the webhooks left behind by relays that crashed or moved — and never a live
relay's, even one restarting or paused when prune runs. A matching webhook is an orphan
only when:

  - Tableau already disabled it for failed deliveries, or
  - Tableau's test delivery to it failed every time over --confirm-after (3 tests:
    at the start, half-way, at the end; default 3m — a restart or a deploy is over by
    then).

A webhook whose URL's host answers tabhook's own health endpoint (/healthz) is never an
orphan, and neither is one whose test could not be run at all (kept and reported).
--once tests each webhook once, at once: the old behaviour, for a destination known to
be gone. --dry-run prints each webhook's evidence — tests, times, answers, Tableau's
reason for disabling it — and deletes nothing. Like delete, prune asks for
confirmation on a terminal and refuses without one unless --yes is given.

--all-sites prunes every site (those of the config file's sites:, else every site the
token's user can enter): each site is tested in turn, then one question shows the
orphans per site before anything is deleted.`,
		Example: `  tabhook webhook prune --name-prefix tabhook- --dry-run
  tabhook webhook prune --url-prefix https://relay.example.com/ --yes   # from cron: takes ~3m
  tabhook webhook prune --name-prefix old- --once --yes
  tabhook webhook prune --all-sites --name-prefix tabhook- --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := readFilter(cmd, false)
			if err != nil {
				return err
			}
			opts.Filter = filter
			opts.Connect, opts.Format, opts.CanPrompt = clientFunc(f, cmd), outputFormat(cmd), f.canPrompt(cmd)
			once, _ := cmd.Flags().GetBool("once")
			confirmAfter, _ := cmd.Flags().GetDuration("confirm-after")
			switch {
			case once && cmd.Flags().Changed("confirm-after"):
				return cli.Usagef("give --once or --confirm-after, not both")
			case once:
				confirmAfter = 0
			case confirmAfter <= 0:
				return cli.Usagef("--confirm-after must be positive (or give --once for a single test)")
			}
			opts.Judge = admin.Judge{ConfirmAfter: confirmAfter}
			if all, _ := cmd.Flags().GetBool("all-sites"); all {
				opts.AllSites = allSitesFunc(f, cmd)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	addFilterFlags(cmd, false)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "test and print each webhook's evidence; delete nothing")
	cmd.Flags().Duration("confirm-after", 3*time.Minute, "an orphan fails every test over this long (3 tests)")
	cmd.Flags().Bool("once", false, "test once, at once, and delete what failed (a destination known to be gone)")
	// Less evidence before deleting is asked for on the command line, never inherited.
	creds.MarkCommandLineOnly(cmd.Flags(), "once")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "delete without asking")
	addAllSitesFlag(cmd)
	return cmd
}

func pruneRun(ctx context.Context, opts *pruneOptions) error {
	if opts.AllSites != nil {
		return pruneAllSites(ctx, opts)
	}
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
		hooks, testErrs := judgeOrphans(ctx, opts, c, candidates, "")
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

// judgeOrphans tests the candidates and says each verdict; site prefixes the lines
// of one site among several.
func judgeOrphans(ctx context.Context, opts *pruneOptions, c webhookClient, candidates []tableau.Webhook, site string) (orphans []tableau.Webhook, testErrs []error) {
	if opts.Judge.ConfirmAfter > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%sTesting %s over %s (3 tests; a live relay's webhook is never deleted)...\n", site, plural(len(candidates), "webhook"), opts.Judge.ConfirmAfter)
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "%sTesting %s once...\n", site, plural(len(candidates), "webhook"))
	}
	for _, e := range opts.Judge.Judge(ctx, c, candidates) {
		switch {
		case e.Orphan:
			orphans = append(orphans, e.Webhook)
			fmt.Fprintf(opts.IO.ErrOut, "%sorphan: %s (%s) %s — %s\n", site, e.Webhook.Name, e.Webhook.ID, e.Webhook.URL, e.Why)
		case strings.HasPrefix(e.Why, "kept: a test could not be run"):
			testErrs = append(testErrs, fmt.Errorf("%s: %s", e.Webhook.Name, e.Why))
			fmt.Fprintf(opts.IO.ErrOut, "%s%s (%s) — %s\n", site, e.Webhook.Name, e.Webhook.ID, e.Why)
		default:
			fmt.Fprintf(opts.IO.ErrOut, "%skept: %s (%s) — %s\n", site, e.Webhook.Name, e.Webhook.ID, strings.TrimPrefix(e.Why, "kept: "))
		}
	}
	return orphans, testErrs
}

// pruneAllSites tests every site in turn, then asks once — showing the orphans per
// site — and deletes each site's.
func pruneAllSites(ctx context.Context, opts *pruneOptions) error {
	if !opts.Yes && !opts.DryRun && !opts.CanPrompt {
		return cli.Usagef("prune would delete without confirmation; pass --yes (or --dry-run to only see the orphans)")
	}
	sites, err := opts.AllSites(ctx)
	if err != nil {
		return err
	}
	orphans := map[string][]tableau.Webhook{}
	var testErrs []error
	siteErr := eachSite(ctx, opts.IO, sites, func(site string, c webhookClient) error {
		candidates, err := admin.Select(ctx, c, opts.Filter)
		if err != nil || len(candidates) == 0 {
			return err
		}
		hooks, errs := judgeOrphans(ctx, opts, c, candidates, "site "+relay.SiteLabel(site)+": ")
		orphans[site], testErrs = hooks, append(testErrs, errs...)
		return nil
	})
	var found []siteWebhook
	var counts []string
	for _, s := range sites {
		for _, h := range orphans[s.Site] {
			found = append(found, siteWebhook{Site: s.Site, Webhook: h})
		}
		if n := len(orphans[s.Site]); n > 0 {
			counts = append(counts, fmt.Sprintf("%s: %d", relay.SiteLabel(s.Site), n))
		}
	}
	perSite := " (" + strings.Join(counts, ", ") + ")"
	switch {
	case len(found) == 0:
		fmt.Fprintf(opts.IO.ErrOut, "No orphans on %s.\n", plural(len(sites), "site"))
		return errors.Join(printSiteWebhooks(opts.IO, opts.Format, nil), siteErr, testFailures(testErrs))
	case opts.DryRun:
		fmt.Fprintf(opts.IO.ErrOut, "Would delete %s%s (dry run; nothing deleted).\n", plural(len(found), "orphan"), perSite)
		return errors.Join(printSiteWebhooks(opts.IO, opts.Format, found), siteErr, testFailures(testErrs))
	case !opts.Yes:
		if err := confirm(opts.IO, opts.CanPrompt, fmt.Sprintf("Delete %s%s?", plural(len(found), "orphan"), perSite)); err != nil {
			return err
		}
	}
	var deleted []siteWebhook
	var delErrs []error
	for _, s := range sites {
		if len(orphans[s.Site]) == 0 {
			continue
		}
		err := withClient(ctx, s.Connect, func(c webhookClient) error {
			gone, err := admin.DeleteAll(ctx, c, orphans[s.Site])
			for _, h := range gone {
				deleted = append(deleted, siteWebhook{Site: s.Site, Webhook: h})
			}
			return err
		})
		if err != nil {
			delErrs = append(delErrs, fmt.Errorf("site %s: %w", relay.SiteLabel(s.Site), err))
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted %s.\n", plural(len(deleted), "orphan"))
	return errors.Join(printSiteWebhooks(opts.IO, opts.Format, deleted), siteErr, errors.Join(delErrs...), testFailures(testErrs))
}
