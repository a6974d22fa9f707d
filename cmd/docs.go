package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
			if err := writeManPages(root, args[0], "tabhook "+f.Build.Version); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			fmt.Fprintf(f.IO.ErrOut, "Man pages written to %s.\n", args[0])
			return nil
		},
	})
	return cmd
}

// writeManPages writes one page per command, each titled after its command
// (TABHOOK-WEBHOOK-LIST): cobra's GenManTree gives every page the first one's title.
func writeManPages(c *cobra.Command, dir, source string) error {
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() || sub.IsAdditionalHelpTopicCommand() {
			continue
		}
		if err := writeManPages(sub, dir, source); err != nil {
			return err
		}
	}
	base := strings.ReplaceAll(c.CommandPath(), " ", "-")
	out, err := os.Create(filepath.Join(dir, base+".1"))
	if err != nil {
		return err
	}
	header := &doc.GenManHeader{Title: strings.ToUpper(base), Section: "1", Source: source, Manual: "tabhook manual"}
	if err := doc.GenMan(c, header, out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
