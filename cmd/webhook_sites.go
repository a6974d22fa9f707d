package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/tableau"
)

// siteConn connects to one site, for --all-sites.
type siteConn struct {
	Site    string // content URL; "" the Default site
	Connect func(context.Context) (webhookClient, error)
}

// siteWebhook is a webhook with its site, as --all-sites lists it.
type siteWebhook struct {
	Site string `json:"site"`
	tableau.Webhook
}

const allSitesHelp = "every site: those of the config file's sites:, else every site the token's user can enter (a server administrator's: all of the server's)"

func addAllSitesFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("all-sites", false, allSitesHelp)
}

// allSitesFunc finds the sites --all-sites covers: the config file's sites (each with
// its own token where it has one), else Query Sites with the command's token, which a
// server administrator can use on every site (one after the other: a token holds one
// session at a time).
func allSitesFunc(f *Factory, cmd *cobra.Command) func(context.Context) ([]siteConn, error) {
	return func(ctx context.Context) ([]siteConn, error) {
		fs := cmd.Flags()
		settings, err := config.Sites(f.Resolver().Config())
		if err != nil {
			return nil, &cli.UsageError{Err: err}
		}
		config.InheritCredentials(fs, settings)
		top, err := f.TableauSettings(fs)
		if err != nil {
			return nil, err
		}
		var tcs []tableau.Config
		if settings != nil {
			if tcs, err = config.SiteConfigs(settings, top); err != nil {
				return nil, err
			}
		} else {
			c, err := f.Tableau(ctx, fs)
			if err != nil {
				return nil, err
			}
			sites, err := c.Sites(ctx)
			_ = c.SignOut(context.WithoutCancel(ctx))
			if err != nil {
				return nil, fmt.Errorf("%w; list the sites under sites: in the config file, or use a server administrator's token", err)
			}
			for _, s := range sites {
				tc := top
				tc.Site = s.ContentURL
				tcs = append(tcs, tc)
			}
		}
		out := make([]siteConn, 0, len(tcs))
		for _, tc := range tcs {
			out = append(out, siteConn{Site: tc.Site, Connect: func(ctx context.Context) (webhookClient, error) {
				c, err := tableau.New(tc)
				if err != nil {
					return nil, &cli.UsageError{Err: err}
				}
				if err := c.SignIn(ctx); err != nil {
					return nil, err
				}
				return c, nil
			}})
		}
		return out, nil
	}
}

// eachSite runs fn on every site, one after the other; a site that fails is said on
// stderr and the others go on. The error names the sites that failed.
func eachSite(ctx context.Context, ios *cli.IOStreams, sites []siteConn, fn func(site string, c webhookClient) error) error {
	var failed []error
	for _, s := range sites {
		err := withClient(ctx, s.Connect, func(c webhookClient) error { return fn(s.Site, c) })
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(ios.ErrOut, "site %s: %v\n", relay.SiteLabel(s.Site), err)
			failed = append(failed, fmt.Errorf("site %s: %w", relay.SiteLabel(s.Site), err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s of %d failed (the others' results are shown): %w", plural(len(failed), "site"), len(sites), errors.Join(failed...))
	}
	return nil
}

// printSiteWebhooks writes webhooks of several sites: a SITE column, or "site" in JSON.
func printSiteWebhooks(ios *cli.IOStreams, format string, hooks []siteWebhook) error {
	if format == cli.FormatJSON {
		if hooks == nil {
			hooks = []siteWebhook{}
		}
		return cli.PrintJSON(ios.Out, hooks)
	}
	t := cli.NewTable(ios.Out, ios.OutTTY, "SITE", "ID", "NAME", "EVENT", "STATUS", "URL")
	for _, w := range hooks {
		t.Row(relay.SiteLabel(w.Site), w.ID, w.Name, w.Event, status(w.Webhook), w.URL)
	}
	return t.Render()
}
