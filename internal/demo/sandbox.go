package demo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/selfsigned"
	"github.com/tabhook/tabhook/internal/tableau"
)

// The sandbox's fixed credentials: it serves loopback only, and they are printed.
const (
	SandboxPAT       = "sandbox"
	SandboxPATSecret = "sandbox-secret"
	SandboxSlack     = "xoxb-sandbox"
	// FirePath is the simulator's sandbox-only endpoint that fires an event.
	FirePath = "/_sandbox/fire"
)

// SandboxOptions configure a sandbox.
type SandboxOptions struct {
	Listen    string    // the simulated Tableau's address, e.g. 127.0.0.1:8787
	RelayPort int       // the port the printed environment gives the relay
	Dir       string    // where the relay's certificate, key and state go
	Out       io.Writer // the environment, then each message as the Slack stand-in gets it
}

// Sandbox runs a simulated Tableau site and a Slack stand-in on loopback until ctx
// ends, so that a person can try the real relay (run, serve, routes, alerts) against
// them: it prints the environment that points tabhook at both, and then every message
// the relay posts. `tabhook demo fire` makes the simulated site deliver an event.
func Sandbox(ctx context.Context, o SandboxOptions) error {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("sandbox directory: %w", err)
	}
	cert, err := selfsigned.Generate(30*24*time.Hour, "127.0.0.1")
	if err != nil {
		return err
	}
	crt, key := filepath.Join(o.Dir, "tls.crt"), filepath.Join(o.Dir, "tls.key")
	if err := os.WriteFile(crt, cert.CertPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(key, cert.KeyPEM, 0o600); err != nil {
		return err
	}
	// The simulated site delivers to the relay's https listener, trusting its
	// certificate (and only it).
	sim := tableausim.New(tableausim.Options{DeliveryTLS: &tls.Config{RootCAs: cert.Pool, MinVersion: tls.VersionTLS12}, RetryDelay: time.Second})
	sim.AddPAT(tableausim.PAT{Name: SandboxPAT, Secret: SandboxPATSecret})
	fake := slackfake.New(SandboxSlack).Start()
	defer fake.Close()
	fake.AddUser("bob@example.com", demoOwner)
	posts := fake.Subscribe()

	mux := http.NewServeMux()
	mux.Handle("/", sim)
	mux.HandleFunc("POST "+FirePath, fireHandler(sim))
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another sandbox or simulator running? pass --listen)", o.Listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprint(o.Out, sandboxEnv(ln.Addr().String(), fake.APIURL(), crt, key, o))
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.Out, "Sandbox stopped.")
			return nil
		case m := <-posts:
			fmt.Fprint(o.Out, describeMessage(m, fake.ChannelName(m.Channel)))
		}
	}
}

// sandboxEnv is the environment for the relay and the admin commands, and what to try.
func sandboxEnv(simAddr, slackAPI, crt, key string, o SandboxOptions) string {
	port := o.RelayPort
	if port == 0 {
		port = 8443
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A simulated Tableau site and a Slack stand-in, on loopback until Ctrl-C.\n")
	fmt.Fprintf(&b, "# In another terminal, paste this environment:\n\n")
	fmt.Fprintf(&b, "export TS_SERVER=http://%s TS_SITE= TS_PAT_NAME=%s TS_PAT_SECRET=%s\n", simAddr, SandboxPAT, SandboxPATSecret)
	fmt.Fprintf(&b, "export SLACK_API_URL=%s SLACK_TOKEN=%s SLACK_CHANNEL='#alerts'\n", slackAPI, SandboxSlack)
	fmt.Fprintf(&b, "export TABHOOK_LISTEN=127.0.0.1:%d TABHOOK_PUBLIC_URL=https://127.0.0.1:%d/tableau/sandbox-5b1e0c9a7d3f4e28\n", port, port)
	fmt.Fprintf(&b, "export TABHOOK_TLS_CERT=%s TABHOOK_TLS_KEY=%s TABHOOK_STATE_DIR=%s\n\n", crt, key, filepath.Join(o.Dir, "state"))
	fmt.Fprintf(&b, "# then run the relay, and fire events at it:\n")
	fmt.Fprintf(&b, "tabhook run --event DatasourceRefreshFailed --event DatasourceRefreshSucceeded --mention-owner\n")
	fmt.Fprintf(&b, "tabhook demo fire DatasourceRefreshFailed --item \"Sample datasource\"\n")
	fmt.Fprintf(&b, "tabhook demo fire DatasourceRefreshSucceeded --item \"Sample datasource\"\n\n")
	fmt.Fprintf(&b, "# The channels are #alerts and #general. Messages the relay posts appear below.\n\n")
	return b.String()
}

// describeMessage is a message as a person reads it in the terminal.
func describeMessage(m slackfake.Message, channel string) string {
	var blocks slack.Blocks
	_ = json.Unmarshal(m.Blocks, &blocks)
	where := "#" + channel
	if m.ThreadTS != "" {
		where += " (in thread " + m.ThreadTS + ")"
	}
	return fmt.Sprintf("Slack %s at %s:\n%s\n", where, m.At.Local().Format(time.TimeOnly), render.Plain(render.Message{Text: m.Text, Blocks: blocks.BlockSet}))
}

// FireRequest asks the sandbox's site to deliver an event.
type FireRequest struct {
	Event string `json:"event"`
	Item  string `json:"item"`            // name or ID; events about no content take any name
	Notes string `json:"notes,omitempty"` // a failed refresh's error
}

// FireResult is what the site did with it.
type FireResult struct {
	Event      string                `json:"event"`
	Item       tableausim.Item       `json:"item"`
	Deliveries []tableausim.Delivery `json:"deliveries"`
	Error      string                `json:"error,omitempty"`
}

func fireHandler(sim *tableausim.Sim) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req FireRequest
		answer := func(status int, res FireResult) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(res)
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			answer(http.StatusBadRequest, FireResult{Error: "want {\"event\":…, \"item\":…}: " + err.Error()})
			return
		}
		ev, err := tableau.ParseEvent(req.Event)
		if err != nil {
			answer(http.StatusBadRequest, FireResult{Error: err.Error()})
			return
		}
		item, err := sim.FindItem(ev.Name, req.Item)
		if err != nil {
			answer(http.StatusNotFound, FireResult{Event: ev.Name, Error: err.Error()})
			return
		}
		ds, err := sim.Fire(r.Context(), tableausim.Event{Type: ev.Name, ResourceLUID: item.ID, ResourceName: item.Name, Notes: req.Notes})
		if err != nil {
			answer(http.StatusInternalServerError, FireResult{Error: err.Error()})
			return
		}
		if ds == nil {
			ds = []tableausim.Delivery{}
		}
		answer(http.StatusOK, FireResult{Event: ev.Name, Item: item, Deliveries: ds})
	}
}

// Fire asks the sandbox at server (its TS_SERVER) to deliver an event, and returns
// what its webhooks answered.
func Fire(ctx context.Context, server string, req FireRequest) (FireResult, error) {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(server, "/")+FirePath, bytes.NewReader(body))
	if err != nil {
		return FireResult{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return FireResult{}, fmt.Errorf("reach the sandbox at %s: %w (start it with 'tabhook demo sandbox' and paste its environment)", server, err)
	}
	defer resp.Body.Close()
	var res FireResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		if resp.StatusCode == http.StatusNotFound {
			return res, fmt.Errorf("%s is not a tabhook sandbox (it answered %s to %s); start one with 'tabhook demo sandbox'", server, resp.Status, FirePath)
		}
		return res, fmt.Errorf("read the sandbox's answer: %w", err)
	}
	if res.Error != "" {
		return res, errors.New(res.Error)
	}
	return res, nil
}
