package cmd

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/doctor"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

type doctorOptions struct {
	IO     *cli.IOStreams
	Format string
	Setup  doctor.Setup
}

func newCmdDoctor(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	opts := &doctorOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the whole set-up and say what to fix",
		Long: `Check, one line each: the config file (and that it is not world-readable when it holds
a secret); Tableau reachable, its version, the token accepted and allowed to manage
webhooks and to read jobs (the reason a refresh failed); with --quality-warnings, REST
API 3.9; the Slack token accepted and its scopes (with --mention-owner, users:read.email);
the channel found and the bot able to post there; each destination besides Slack
(settings, secret, host resolves — nothing is sent); the TLS certificate and key readable, matching, not expiring within 14 days
and valid for the public URL's host; the state directory writable.

First of all it runs the very check serve (or run, when events are set) starts with, so
it fails wherever they would refuse to start. It takes their flags and config file (the
ones it does not look at further are hidden here). Exits 0 when every check passes, 1
otherwise. -o json prints the results for monitoring. It never prompts.`,
		Example: `  tabhook doctor --config /etc/tabhook/config.yaml
  tabhook doctor -o json | jq '.[] | select(.ok | not)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Setup = f.doctorSetup(cmd)
			opts.Format = outputFormat(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return doctorRun(cmd.Context(), opts)
		},
	}
	addRelayFlags(cmd)
	cmd.Flags().String("path", "", "listener path (not checked; accepted so serve's config works unchanged)")
	cmd.Flags().String("watch-webhooks", "", "check, as serve --watch-webhooks does, that webhooks with this name prefix point at the relay, enabled")
	cmd.Flags().StringSlice("event", nil, "accepted so run's config works unchanged")
	cmd.Flags().String("name-prefix", "tabhook", "accepted so run's config works unchanged")
	// Accepted, so serve's and run's config works unchanged, and checked by their own
	// settings check, but not what a person reads doctor's help for.
	for _, name := range []string{"path", "event", "name-prefix", "drain-timeout", "show-secrets", "metrics-listen", "allow-cidr", "listen"} {
		_ = cmd.Flags().MarkHidden(name)
	}
	return cmd
}

// doctorSetup gathers what to check from the settings, without prompting: a missing
// setting is a failed check, not an error. The settings are checked by the very
// function serve and run start with (relaySettings): run's when an event is set.
func (f *Factory) doctorSetup(cmd *cobra.Command) doctor.Setup {
	fs, r := cmd.Flags(), f.Resolver()
	r.SetPrompter(nil)
	s := doctor.Setup{
		ConfigPath: r.ConfigPath(), Channel: stringFlag(fs, "slack-channel"),
		CertFile: stringFlag(fs, "tls-cert"), KeyFile: stringFlag(fs, "tls-key"),
		PublicURL: stringFlag(fs, "public-url"), StateDir: stringFlag(fs, "state-dir"),
	}
	s.Insecure, _ = fs.GetBool("insecure-http")
	s.WatchWebhooks, s.Path = stringFlag(fs, "watch-webhooks"), stringFlag(fs, "path")
	events, _ := fs.GetStringSlice("event")
	s.Command = "serve"
	if len(events) > 0 {
		s.Command = "run"
	}
	cfg, err := f.relaySettings(cmd, s.Command == "run")
	s.SettingsErr = err
	if err == nil {
		s.Retention = days(cfg.Service.Retention)
		if cfg.Actions != nil {
			s.ActionsAllow = cfg.Actions.Allow
		}
		sites := cfg.Sites
		if cfg.DiscoverSites != nil {
			// sites: all — the sites the relay would serve now, each checked.
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			found, derr := cfg.DiscoverSites(ctx)
			cancel()
			if derr != nil {
				s.SettingsErr = fmt.Errorf("sites: all: could not list the server's sites: %w", derr)
			}
			sites = found
		}
		for _, site := range sites {
			if c, ok := site.Tableau.(*tableau.Client); ok {
				s.Sites = append(s.Sites, doctor.Site{Name: site.Label(), Tableau: c})
			}
		}
	}
	s.Destinations, s.DestinationsErr = config.Destinations(r.Config(), nil)
	if err == nil {
		s.Routed = routedChannels(cfg.Routes)
		s.SlackUnused = len((relay.Routing{Default: cfg.Channel, Routes: cfg.Routes}).Channels()) == 0
	}
	s.MentionOwner, _ = fs.GetBool("mention-owner")
	s.QualityWarnings, _ = fs.GetBool("quality-warnings")
	if s.StateDir == "" {
		s.StateDir = creds.DefaultStateDir(f.Env)
	}
	if cfg := r.Config(); cfg != nil {
		s.ConfigSecrets = cfg.IsSet("pat-secret") || cfg.IsSet("slack-token")
	}
	s.UnknownKeys = r.UnknownKeys(configKeys(cmd.Root()))
	s.Store = stringFlag(fs, "store")
	if tc, err := f.TableauSettings(fs); err == nil {
		if c, err := tableau.New(tc); err == nil {
			s.Tableau = c
		}
	}
	if token, err := r.Secret(fs, "slack-token", "slack-token-file", "Slack bot token", false); err == nil && token != "" {
		s.Slack = slackout.New(slackout.Options{Token: token, APIURL: stringFlag(fs, "slack-api-url")})
	}
	return s
}

// routedChannels are the channels the routes post to besides the default one, each
// once, in the routes' order.
func routedChannels(routes []relay.Route) []string {
	var out []string
	for _, rt := range routes {
		if rt.Channel != "" && !slices.Contains(out, rt.Channel) {
			out = append(out, rt.Channel)
		}
	}
	return out
}

func doctorRun(ctx context.Context, opts *doctorOptions) error {
	results := doctor.Run(ctx, opts.Setup)
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if opts.Format == cli.FormatJSON {
		if err := cli.PrintJSON(opts.IO.Out, results); err != nil {
			return err
		}
	} else {
		width := 22 // the widest label, so a long one (a route's channel) keeps the columns
		for _, r := range results {
			width = max(width, len(r.Check))
		}
		for _, r := range results {
			mark := "ok  "
			if !r.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(opts.IO.Out, "%s  %-*s %s\n", mark, width, r.Check, r.Detail)
			if r.Fix != "" {
				fmt.Fprintf(opts.IO.Out, "      %-*s fix: %s\n", width, "", r.Fix)
			}
		}
	}
	if failed > 0 {
		return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("%d of %d checks failed", failed, len(results))}
	}
	fmt.Fprintf(opts.IO.ErrOut, "All %d checks passed.\n", len(results))
	return nil
}
