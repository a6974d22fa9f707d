package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/tableau"
)

// webhookClient is what the webhook commands need from a signed-in session.
type webhookClient interface {
	admin.API
	SignOut(ctx context.Context) error
}

func newCmdWebhook(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhook <command>",
		Aliases: []string{"webhooks"},
		Short:   "Create, list, inspect, change, test and delete the site's webhooks",
		Long: `Manage the webhooks of one Tableau site.

Events are accepted in any of three spellings, case-insensitively (WorkbookUpdated,
workbook-updated, webhook-source-event-workbook-updated); see 'tabhook events'.
Tableau only delivers to https destinations.`,
	}
	cmd.AddCommand(
		newCmdWebhookCreate(f, nil),
		newCmdWebhookList(f, nil),
		newCmdWebhookGet(f, nil),
		newCmdWebhookUpdate(f, nil),
		newCmdWebhookDelete(f, nil),
		newCmdWebhookTest(f, nil),
		newCmdWebhookPrune(f, nil),
	)
	for _, sub := range cmd.Commands() {
		creds.MarkCommandLineOnly(sub.Flags(), adminFilterKeys...)
	}
	return cmd
}

// clientFunc returns a function that signs in on the command's settings.
func clientFunc(f *Factory, cmd *cobra.Command) func(context.Context) (webhookClient, error) {
	return func(ctx context.Context) (webhookClient, error) {
		c, err := f.Tableau(ctx, cmd.Flags())
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// withClient signs in, runs fn and signs out, so each command uses one session.
func withClient(ctx context.Context, connect func(context.Context) (webhookClient, error), fn func(webhookClient) error) error {
	c, err := connect(ctx)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.SignOut(sctx)
	}()
	return fn(c)
}

func exactlyOneArg(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			hint := ""
			if len(args) == 2 && (args[1] == "true" || args[1] == "false") {
				hint = fmt.Sprintf("\nA true/false flag takes its value with '=': --enabled=%s", args[1])
			}
			return cli.Usagef("%s takes one %s (got %d)%s\nRun '%s --help' for usage.", cmd.CommandPath(), name, len(args), hint, cmd.CommandPath())
		}
		return nil
	}
}

func status(w tableau.Webhook) string {
	if w.Enabled {
		return "enabled"
	}
	if w.StatusChangeReason != "" {
		return "disabled: " + w.StatusChangeReason
	}
	return "disabled"
}

// printWebhooks writes a list as a table or JSON array.
func printWebhooks(ios *cli.IOStreams, format string, hooks []tableau.Webhook) error {
	if format == cli.FormatJSON {
		if hooks == nil {
			hooks = []tableau.Webhook{}
		}
		return cli.PrintJSON(ios.Out, hooks)
	}
	t := cli.NewTable(ios.Out, ios.OutTTY, "ID", "NAME", "EVENT", "STATUS", "URL")
	for _, w := range hooks {
		t.Row(w.ID, w.Name, w.Event, status(w), w.URL)
	}
	return t.Render()
}

// printWebhook writes one webhook in full.
func printWebhook(ios *cli.IOStreams, format string, w tableau.Webhook) error {
	if format == cli.FormatJSON {
		return cli.PrintJSON(ios.Out, w)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.RFC3339)
	}
	owner := w.Owner.Name
	if owner == "" {
		owner = w.Owner.ID
	} else if w.Owner.ID != "" {
		owner += " (" + w.Owner.ID + ")"
	}
	t := cli.NewTable(ios.Out, true)
	for _, kv := range [][2]string{
		{"ID:", w.ID}, {"Name:", w.Name}, {"Event:", w.Event}, {"URL:", w.URL},
		{"Status:", status(w)}, {"Owner:", owner}, {"Created:", ts(w.CreatedAt)}, {"Updated:", ts(w.UpdatedAt)},
	} {
		t.Row(kv[0], kv[1])
	}
	return t.RenderRows()
}

// confirm asks before a destructive action that was not named by ID. Without a
// terminal it refuses: scripts must say --yes.
func confirm(ios *cli.IOStreams, canPrompt bool, question string) error {
	if !canPrompt {
		return cli.Usagef("refusing to %s without confirmation (no terminal to ask on): pass --yes, or --dry-run to only see what would happen", strings.ToLower(strings.TrimSuffix(question, "?")))
	}
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", question)
	answer, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("cancelled; nothing was deleted")}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// addFilterFlags registers the selection flags shared by list, delete and prune.
func addFilterFlags(cmd *cobra.Command, withEvent bool) {
	if withEvent {
		cmd.Flags().StringSlice("event", nil, "only webhooks for this event (repeatable)")
		_ = cmd.RegisterFlagCompletionFunc("event", completeEvents)
	}
	cmd.Flags().String("name-prefix", "", "only webhooks whose name starts with this")
	cmd.Flags().String("url-prefix", "", "only webhooks whose destination URL starts with this")
}

func completeEvents(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return tableau.EventNames(), cobra.ShellCompDirectiveNoFileComp
}

func outputFormat(cmd *cobra.Command) string { return stringFlag(cmd.Flags(), "output") }

// checkDestination refuses locally what Tableau would refuse after a round trip: it
// only delivers to absolute https URLs.
func checkDestination(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return cli.Usagef("invalid --url %q: want an https URL such as https://relay.example.com/tableau/8cf0e1d3b6a24c9f", raw)
	case u.Scheme != "https":
		return cli.Usagef("--url %q: Tableau only delivers to https destinations", raw)
	}
	return nil
}

// notFound says which operation found no webhook, and where to look.
func notFound(op, id string, err error) error {
	if tableau.IsNotFound(err) {
		said := "" // Tableau's words, without the operation already named
		var ae *tableau.APIError
		if errors.As(err, &ae) {
			said = " (" + strings.TrimPrefix(ae.Error(), ae.Op+": ") + ")"
		}
		return &notFoundError{fmt.Sprintf("%s webhook %s: no webhook with that ID on the site%s; 'tabhook webhook list' shows them", op, id, said), err}
	}
	return err
}

// notFoundError says which webhook was not found, once; Tableau's error stays
// reachable (errors.Is, errors.As) without being repeated.
type notFoundError struct {
	msg string
	err error
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.err }

// completeWebhooks completes a webhook ID with its name beside it, from the site.
func completeWebhooks(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := f.Tableau(cmd.Context(), cmd.Flags())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		defer func() { _ = c.SignOut(context.WithoutCancel(cmd.Context())) }()
		hooks, err := c.ListWebhooks(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, w := range hooks {
			if strings.HasPrefix(w.ID, toComplete) {
				out = append(out, cobra.CompletionWithDesc(w.ID, w.Name+" ("+w.Event+")"))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
