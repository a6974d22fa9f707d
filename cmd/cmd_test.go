package cmd

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
)

const (
	testPAT    = "ci-token"
	testSecret = "pat-s3cr3t-0a1b2c"
)

type harness struct {
	sim  *tableausim.Sim
	url  string
	dest string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dest := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(dest.Close)
	sim := tableausim.New(tableausim.Options{DeliveryTLS: dest.Client().Transport.(*http.Transport).TLSClientConfig, RetryDelay: time.Millisecond})
	sim.AddPAT(tableausim.PAT{Name: testPAT, Secret: testSecret})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return &harness{sim: sim, url: srv.URL, dest: dest.URL + "/hook"}
}

// run executes the root command in-process with the given environment.
func run(t *testing.T, f *Factory, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ios, _, out, errOut := cli.Test()
	if f.IO != nil {
		ios.InTTY, ios.ErrTTY, ios.OutTTY = f.IO.InTTY, f.IO.ErrTTY, f.IO.OutTTY
		ios.In = f.IO.In
	}
	f.IO = ios
	f.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	f.Build = BuildInfo{Version: "test"}
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), cli.ExitCode(err)
}

type recordingPrompter struct {
	asked, askedSecret []string
	answers            map[string]string
}

func (p *recordingPrompter) Prompt(label string) (string, error) {
	p.asked = append(p.asked, label)
	return p.answers[label], nil
}

func (p *recordingPrompter) PromptSecret(label string) (string, error) {
	p.askedSecret = append(p.askedSecret, label)
	return p.answers[label], nil
}

// TestPromptsOnTerminal: with a terminal and no PAT configured, the name is asked for
// and the secret is read through the hidden-input prompt.
func TestPromptsOnTerminal(t *testing.T) {
	h := newHarness(t)
	p := &recordingPrompter{answers: map[string]string{"Tableau PAT name": testPAT, "Tableau PAT secret": testSecret}}
	f := &Factory{Prompter: p, IO: &cli.IOStreams{InTTY: true, ErrTTY: true, In: strings.NewReader("")}}
	out, errOut, code := run(t, f, map[string]string{"TS_SERVER": h.url}, "webhook", "list", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("stdout = %q", out)
	}
	if len(p.asked) != 1 || p.asked[0] != "Tableau PAT name" || len(p.askedSecret) != 1 {
		t.Errorf("asked %v, secretly %v", p.asked, p.askedSecret)
	}
	if strings.Contains(out+errOut, testSecret) {
		t.Error("secret echoed")
	}

	// --no-input forbids the prompt even on a terminal.
	p = &recordingPrompter{}
	f = &Factory{Prompter: p, IO: &cli.IOStreams{InTTY: true, ErrTTY: true, In: strings.NewReader("")}}
	_, errOut, code = run(t, f, map[string]string{"TS_SERVER": h.url}, "webhook", "list", "--no-input")
	if code != 2 || !strings.Contains(errOut, "--pat-name") || len(p.asked) != 0 {
		t.Errorf("--no-input: exit %d, asked %v, %s", code, p.asked, errOut)
	}
}

// TestConfirmOnTerminal: deleting by filter on a terminal asks, and only "y" deletes.
func TestConfirmOnTerminal(t *testing.T) {
	h := newHarness(t)
	h.sim.AddWebhook("tabhook-a", "WorkbookUpdated", h.dest)
	env := map[string]string{"TS_SERVER": h.url, "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret}
	for _, tc := range []struct {
		answer string
		code   int
		left   int
	}{{"n\n", 1, 1}, {"\n", 1, 1}, {"y\n", 0, 0}} {
		f := &Factory{IO: &cli.IOStreams{InTTY: true, ErrTTY: true, In: strings.NewReader(tc.answer)}}
		_, errOut, code := run(t, f, env, "webhook", "delete", "--name-prefix", "tabhook-")
		if code != tc.code || len(h.sim.Webhooks()) != tc.left {
			t.Errorf("answer %q: exit %d, %d left; %s", tc.answer, code, len(h.sim.Webhooks()), errOut)
		}
		if !strings.Contains(errOut, "Delete 1 webhook? [y/N]") {
			t.Errorf("no question asked: %s", errOut)
		}
	}
}

// TestNoInputNeverAsks: with --no-input, even on a terminal, nothing is asked: filter
// deletes and prune refuse (exit 2) as they do without a terminal — and prune refuses
// before testing every webhook.
func TestNoInputNeverAsks(t *testing.T) {
	h := newHarness(t)
	h.sim.AddWebhook("tabhook-a", "WorkbookUpdated", "https://127.0.0.1:1/gone")
	env := map[string]string{"TS_SERVER": h.url, "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret}
	for _, args := range [][]string{
		{"webhook", "delete", "--name-prefix", "tabhook-", "--no-input"},
		{"webhook", "prune", "--no-input"},
	} {
		f := &Factory{IO: &cli.IOStreams{InTTY: true, ErrTTY: true, In: strings.NewReader("y\n")}}
		_, errOut, code := run(t, f, env, args...)
		if code != 2 || strings.Contains(errOut, "[y/N]") || len(h.sim.Webhooks()) != 1 {
			t.Errorf("%v: exit %d, %d left; %s", args, code, len(h.sim.Webhooks()), errOut)
		}
		if strings.Contains(errOut, "Testing") {
			t.Errorf("%v: tested webhooks before refusing: %s", args, errOut)
		}
	}
}

// TestSecretsNeverPrinted runs commands through success and failure paths at debug
// level and checks the PAT secret appears in no output or log line.
func TestSecretsNeverPrinted(t *testing.T) {
	h := newHarness(t)
	id := h.sim.AddWebhook("tabhook-a", "WorkbookUpdated", h.dest)
	base := map[string]string{"TS_SERVER": h.url, "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret, "TABHOOK_LOG_LEVEL": "debug"}
	wrong := map[string]string{"TS_SERVER": h.url, "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret + "-wrong", "TABHOOK_LOG_LEVEL": "debug"}
	down := map[string]string{"TS_SERVER": "http://127.0.0.1:1", "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret, "TABHOOK_LOG_LEVEL": "debug"}
	var all bytes.Buffer
	for _, tc := range []struct {
		env  map[string]string
		args []string
	}{
		{base, []string{"webhook", "list"}},
		{base, []string{"webhook", "get", id, "-o", "json"}},
		{base, []string{"webhook", "test", id}},
		{base, []string{"webhook", "create", "--name", "x", "--event", "WorkbookCreated", "--url", "http://insecure"}},
		{base, []string{"webhook", "get", "missing"}},
		{wrong, []string{"webhook", "list"}},
		{down, []string{"webhook", "list"}},
		{base, []string{"webhook", "list", "--help"}},
		{base, []string{"webhook", "delete", "--name-prefix", "tabhook-"}},
		{base, []string{"webhook", "list", "--log-format", "json"}},
	} {
		out, errOut, _ := run(t, &Factory{}, tc.env, tc.args...)
		all.WriteString(out + errOut)
	}
	if !strings.Contains(all.String(), "level=DEBUG") {
		t.Fatal("debug logging was not exercised")
	}
	if strings.Contains(all.String(), testSecret) {
		t.Fatalf("the PAT secret leaked:\n%s", all.String())
	}
}
