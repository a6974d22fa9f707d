package cmd

import (
	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/tableau"
)

func newCmdEvents(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "events",
		Short: "List the webhook events, their payload resource and webhook-source element",
		Long: `List the events a webhook can subscribe to.

Every command accepts each event in any of three spellings, case-insensitively: the
API name (EVENT), the kebab-case form (KEBAB) and the webhook-source element used by
API versions before 3.9 (WEBHOOK-SOURCE).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			events := tableau.Events()
			if outputFormat(cmd) == cli.FormatJSON {
				type row struct {
					Name     string `json:"name"`
					Kebab    string `json:"kebab"`
					Resource string `json:"resource"`
					Source   string `json:"source"`
				}
				rows := make([]row, len(events))
				for i, e := range events {
					rows[i] = row{e.Name, tableau.Kebab(e.Name), e.Resource, e.Source}
				}
				return cli.PrintJSON(f.IO.Out, rows)
			}
			t := cli.NewTable(f.IO.Out, f.IO.OutTTY, "EVENT", "KEBAB", "RESOURCE", "WEBHOOK-SOURCE")
			for _, e := range events {
				t.Row(e.Name, tableau.Kebab(e.Name), e.Resource, e.Source)
			}
			return t.Render()
		},
	}
}
