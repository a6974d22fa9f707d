package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tabhook/tabhook/internal/tableausim"
)

const (
	scriptPATName   = "ci-token"
	scriptPATSecret = "pat-s3cr3t-9f8e7d"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"tabhook": func() { os.Exit(run()) }})
}

// TestScripts runs the real binary against a Tableau simulator started for each script.
// Each script sees TS_SERVER, TS_PAT_NAME and TS_PAT_SECRET for the simulator, DEST_OK
// (an https destination answering 200) and DEST_GONE (an https URL nobody listens on).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:      "testdata/script",
		Setup:    setupSim,
		Cmds:     map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": cmdExits, "simhook": cmdSimHook, "simcount": cmdSimCount, "simdisable": cmdSimDisable},
		Deadline: time.Now().Add(2 * time.Minute),
	})
}

type simKey struct{}

func setupSim(e *testscript.Env) error {
	dest := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"received"}`))
	}))
	gone := httptest.NewTLSServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	sim := tableausim.New(tableausim.Options{
		DeliveryTLS: dest.Client().Transport.(*http.Transport).TLSClientConfig,
		RetryDelay:  time.Millisecond,
	})
	sim.AddPAT(tableausim.PAT{Name: scriptPATName, Secret: scriptPATSecret})
	srv := sim.Start()
	e.Defer(func() { srv.Close(); dest.Close() })
	e.Values[simKey{}] = sim
	e.Setenv("TS_SERVER", srv.URL)
	e.Setenv("SIMURL", srv.URL)
	cfg := fmt.Sprintf("server: %s\npat-secret: %s\n", srv.URL, scriptPATSecret)
	if err := os.WriteFile(filepath.Join(e.WorkDir, "sim-config.yaml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	e.Setenv("TS_PAT_NAME", scriptPATName)
	e.Setenv("TS_PAT_SECRET", scriptPATSecret)
	e.Setenv("DEST_OK", dest.URL+"/hook")
	e.Setenv("DEST_GONE", goneURL+"/hook")
	return nil
}

func sim(ts *testscript.TestScript) *tableausim.Sim {
	return ts.Value(simKey{}).(*tableausim.Sim)
}

// exits CODE PROG ARGS... runs a program and checks its exit code exactly.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// simhook VAR NAME EVENT URL registers a webhook directly in the simulator and puts its
// ID in $VAR.
func cmdSimHook(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: simhook VAR NAME EVENT URL")
	}
	ts.Setenv(args[0], sim(ts).AddWebhook(args[1], args[2], args[3]))
}

// simcount N checks how many webhooks the simulator holds.
func cmdSimCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: simcount N")
	}
	got := fmt.Sprint(len(sim(ts).Webhooks()))
	if (got == args[0]) == neg {
		ts.Fatalf("simulator holds %s webhooks; want %s%s", got, map[bool]string{true: "not ", false: ""}[neg], args[0])
	}
}

// simdisable ID REASON disables a webhook as Tableau does after failed deliveries.
func cmdSimDisable(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: simdisable ID REASON")
	}
	if !sim(ts).DisableWebhook(args[0], args[1]) {
		ts.Fatalf("no webhook %s", args[0])
	}
}
