package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
)

// ResolveBuild fills what the linker did not stamp from the module's build information,
// so `go run` and `go install` still report something true.
func ResolveBuild(b BuildInfo) BuildInfo {
	// Release tooling writes placeholders when it has nothing better.
	if b.Commit == "none" {
		b.Commit = ""
	}
	if strings.HasPrefix(b.Date, "0001-01-01") {
		b.Date = ""
	}
	info, ok := debug.ReadBuildInfo()
	if b.Version == "" {
		b.Version = "dev"
		if ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
	}
	if ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.Date == "":
				b.Date = s.Value
			}
		}
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := f.Build
			if outputFormat(cmd) == cli.FormatJSON {
				return cli.PrintJSON(f.IO.Out, map[string]string{"version": b.Version, "commit": b.Commit, "date": b.Date, "go": runtime.Version()})
			}
			_, err := fmt.Fprintln(f.IO.Out, versionLine(b))
			return err
		},
	}
}

// versionLine is what --version and 'tabhook version' print.
func versionLine(b BuildInfo) string {
	return fmt.Sprintf("tabhook %s (commit %s, built %s, %s)", b.Version, b.Commit, b.Date, runtime.Version())
}
