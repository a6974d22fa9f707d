package cmd

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/tableau"
)

type testOptions struct {
	IO      *cli.IOStreams
	Connect func(context.Context) (webhookClient, error)
	Format  string
	ID      string
	Name    string
}

func newCmdWebhookTest(f *Factory, runF func(context.Context, *testOptions) error) *cobra.Command {
	opts := &testOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:               "test ID | --name NAME",
		ValidArgsFunction: completeWebhooks(f),
		Short:             "Ask Tableau to send its test delivery and show the destination's answer",
		Long: `Ask Tableau to send its test delivery (an empty POST) to the webhook's destination,
and print the status and body the destination answered, as Tableau saw them.

Exits 1 when the destination did not answer 2xx: this is the way to check, from
Tableau's side of the network, that a listener is reachable.`,
		Example: `  tabhook webhook test 7d60d364-b9f5-4a9c-8aa5-4bdaa38c5dd3
  tabhook webhook test --name tabhook-workbook-updated -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = stringFlag(cmd.Flags(), "name")
			switch {
			case len(args) > 1, len(args) == 1 && opts.Name != "":
				return cli.Usagef("give one webhook ID or --name, not both")
			case len(args) == 0 && opts.Name == "":
				return cli.Usagef("give a webhook ID or --name\nRun '%s --help' for usage.", cmd.CommandPath())
			case len(args) == 1:
				opts.ID = args[0]
			}
			opts.Connect, opts.Format = clientFunc(f, cmd), outputFormat(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return testRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().String("name", "", "the webhook with this exact name")
	return cmd
}

type testOutput struct {
	ID     string `json:"id"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	OK     bool   `json:"ok"`
}

func testRun(ctx context.Context, opts *testOptions) error {
	return withClient(ctx, opts.Connect, func(c webhookClient) error {
		var w tableau.Webhook
		var err error
		if opts.ID != "" {
			w, err = c.GetWebhook(ctx, opts.ID)
			err = notFound("test", opts.ID, err)
		} else {
			w, err = admin.ByName(ctx, c, opts.Name)
		}
		if err != nil {
			return err
		}
		res, err := c.TestWebhook(ctx, w.ID)
		if err != nil {
			return err
		}
		if opts.Format == cli.FormatJSON {
			if err := cli.PrintJSON(opts.IO.Out, testOutput{ID: w.ID, Status: res.Status, Body: res.Body, OK: res.OK}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(opts.IO.Out, "%d %s\n", res.Status, http.StatusText(res.Status))
			if res.Body != "" {
				fmt.Fprintln(opts.IO.Out, res.Body)
			}
		}
		if !res.OK {
			return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("webhook %s: destination %s answered Tableau's test with %d, not 2xx", w.Name, w.URL, res.Status)}
		}
		fmt.Fprintf(opts.IO.ErrOut, "Tableau reached %s.\n", w.URL)
		return nil
	})
}
