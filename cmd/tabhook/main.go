// Command tabhook manages Tableau webhooks and relays their events to Slack.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tabhook/tabhook/cmd"
	"github.com/tabhook/tabhook/internal/cli"
)

// Stamped by the linker: -X main.version=... -X main.commit=... -X main.date=...
var (
	version string
	commit  string
	date    string
)

func main() {
	os.Exit(run())
}

func run() int {
	// SIGHUP asks serve and run to re-read their configuration.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ios := cli.System()
	f := &cmd.Factory{IO: ios, Env: os.LookupEnv, Reload: hup, Build: cmd.ResolveBuild(cmd.BuildInfo{Version: version, Commit: commit, Date: date})}

	// The one place signals are handled: the first SIGINT/SIGTERM cancels the context so
	// long-running commands shut down cleanly; a second one ends the process at once,
	// saying what the clean stop would have finished (run: the webhooks to delete).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stops := make(chan os.Signal, 2)
	signal.Notify(stops, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stops)
	go func() {
		<-stops
		cancel()
		<-stops
		if hint := f.InterruptHint(); hint != "" {
			fmt.Fprintln(ios.ErrOut, hint)
		}
		os.Exit(130)
	}()
	root := cmd.NewRootCmd(f)
	err := root.ExecuteContext(ctx)
	f.Finish()
	if err != nil {
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Err != nil {
			fmt.Fprintln(ios.ErrOut, "Error:", err)
		}
	}
	return cli.ExitCode(err)
}
