package cmd

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
)

func newCmdSimulator(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulator",
		Short: "Serve the built-in Tableau simulator, to try the webhook commands",
		Long: `Serve the Tableau simulator used by the tests and 'tabhook demo' on a local port, with
one personal access token, and print the environment that points tabhook at it:

  tabhook demo simulator &       # in the background, or in another terminal
  ` + simulatorEnv(defaultSimulatorAddr) + `
  tabhook webhook create --name try --event WorkbookUpdated --url https://127.0.0.1:9/hook
  tabhook webhook list
  kill %1                        # stop it

The simulator keeps everything in memory and stops with Ctrl-C. Its deliveries go to
loopback destinations only when they trust the simulator's TLS settings (none here).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			addr := stringFlag(cmd.Flags(), "listen")
			sim := tableausim.New(tableausim.Options{DeliveryTLS: &tls.Config{MinVersion: tls.VersionTLS12}})
			sim.AddPAT(tableausim.PAT{Name: "simulator", Secret: "simulator-secret"})
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
			fmt.Fprintln(f.IO.Out, simulatorEnv(ln.Addr().String()))
			fmt.Fprintln(f.IO.ErrOut, "Tableau simulator serving; Ctrl-C to stop.")
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	cmd.Flags().String("listen", defaultSimulatorAddr, "address to serve the simulator on")
	// TABHOOK_LISTEN is the relay's listener: exported for serve, it must not move the
	// simulator onto the relay's port.
	creds.MarkCommandLineOnly(cmd.Flags(), "listen")
	return cmd
}

const defaultSimulatorAddr = "127.0.0.1:8787"

// simulatorEnv is the environment that points tabhook at a simulator on addr.
func simulatorEnv(addr string) string {
	return "export TS_SERVER=http://" + addr + " TS_SITE= TS_PAT_NAME=simulator TS_PAT_SECRET=simulator-secret"
}
