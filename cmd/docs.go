package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newCmdDocs(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs <command>",
		Short: "Generate documentation (man pages)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "man DIR",
		Short:   "Write a man page for every command into DIR",
		Example: "  tabhook docs man /usr/local/share/man/man1",
		Args:    exactlyOneArg("directory to write the man pages to"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			root := c.Root()
			root.DisableAutoGenTag = true // reproducible pages
			header := &doc.GenManHeader{Title: "TABHOOK", Section: "1", Source: "tabhook " + f.Build.Version, Manual: "tabhook manual"}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "Man pages written to %s.\n", args[0])
			return nil
		},
	})
	return cmd
}
