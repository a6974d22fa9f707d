package doctor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/destination/builtin"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/selfsigned"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

func setup(t *testing.T) (Setup, *slackfake.Fake) {
	t.Helper()
	sim := tableausim.New(tableausim.Options{})
	sim.AddPAT(tableausim.PAT{Name: "p", Secret: "s"})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	fake := slackfake.New("xoxb-t").Start()
	t.Cleanup(fake.Close)
	dir := t.TempDir()
	cert, _ := selfsigned.Generate(365*24*time.Hour, "relay.example.com")
	_ = os.WriteFile(filepath.Join(dir, "tls.crt"), cert.CertPEM, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "tls.key"), cert.KeyPEM, 0o600)
	tc, _ := tableau.New(tableau.Config{Server: srv.URL, PATName: "p", PATSecret: "s"})
	return Setup{
		Tableau: tc, Slack: slackout.New(slackout.Options{Token: "xoxb-t", APIURL: fake.APIURL()}), Channel: "#alerts",
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		PublicURL: "https://relay.example.com/tableau/x", StateDir: filepath.Join(dir, "state"),
	}, fake
}

func failed(results []Result) map[string]Result {
	out := map[string]Result{}
	for _, r := range results {
		if !r.OK {
			out[r.Check] = r
		}
	}
	return out
}

func TestGoodSetup(t *testing.T) {
	s, _ := setup(t)
	results := Run(context.Background(), s)
	if f := failed(results); len(f) != 0 {
		t.Fatalf("failed: %+v", f)
	}
	if len(results) != 11 {
		t.Errorf("%d checks", len(results))
	}
}

// TestAlertOptionsChecked: --mention-owner needs a Slack scope, --quality-warnings REST
// 3.9, and the reason of a failure needs the right to list jobs.
func TestAlertOptionsChecked(t *testing.T) {
	ctx := context.Background()
	s, fake := setup(t)
	s.MentionOwner, s.QualityWarnings = true, true
	if f := failed(Run(ctx, s)); len(f) != 0 {
		t.Fatalf("failed with both options on a good set-up: %+v", f)
	}
	fake.SetScopes("chat:write,files:write,channels:read")
	if f := failed(Run(ctx, s)); !strings.Contains(f["slack mentions"].Detail, "users:read.email") {
		t.Errorf("missing users:read.email: %+v", f)
	}

	sim := tableausim.New(tableausim.Options{APIVersion: "3.8"})
	sim.AddUser(tableausim.User{ID: "u-creator", Name: "creator", SiteRole: "Creator"})
	sim.AddPAT(tableausim.PAT{Name: "c", Secret: "s", UserID: "u-creator"})
	srv := sim.Start()
	defer srv.Close()
	s.Tableau, _ = tableau.New(tableau.Config{Server: srv.URL, PATName: "c", PATSecret: "s"})
	f := failed(Run(ctx, s))
	if !strings.Contains(f["tableau job rights"].Detail, "without Tableau's reason") {
		t.Errorf("no jobs rights: %+v", f["tableau job rights"])
	}
	if !strings.Contains(f["tableau quality warnings"].Detail, "3.9") {
		t.Errorf("REST 3.8: %+v", f["tableau quality warnings"])
	}

	// A newer server pinned to 3.8 by --api-version: the reachable line says both.
	s, _ = setup(t)
	s.QualityWarnings = true
	s.Tableau, _ = tableau.New(tableau.Config{Server: s.Tableau.Server(), PATName: "p", PATSecret: "s", APIVersion: "3.8"})
	results := Run(ctx, s)
	for _, r := range results {
		if r.Check == "tableau reachable" && !strings.Contains(r.Detail, "REST API 3.24; tabhook speaks 3.8 (--api-version)") {
			t.Errorf("pinned version: %+v", r)
		}
	}
	if r := failed(results)["tableau quality warnings"]; !strings.Contains(r.Fix, "--api-version") {
		t.Errorf("pinned 3.8, quality warnings: %+v", r)
	}
}

func TestFaultsNamed(t *testing.T) {
	ctx := context.Background()
	s, fake := setup(t)
	fake.AddChannel(slackfake.Channel{ID: "G0X", Name: "private", IsPrivate: true})
	s.Channel = "#private"
	if f := failed(Run(ctx, s)); !strings.Contains(f["slack channel"].Fix, "/invite") {
		t.Errorf("bot not in channel: %+v", f)
	}

	s, _ = setup(t)
	s.Now = time.Now().Add(360 * 24 * time.Hour) // 5 days before expiry
	if f := failed(Run(ctx, s)); !strings.Contains(f["tls certificate"].Detail, "expires") {
		t.Errorf("expiring certificate: %+v", f)
	}
	s.Now = time.Now().Add(400 * 24 * time.Hour)
	if f := failed(Run(ctx, s)); !strings.Contains(f["tls certificate"].Detail, "expired") {
		t.Errorf("expired certificate: %+v", f)
	}

	s, _ = setup(t)
	s.Tableau, _ = tableau.New(tableau.Config{Server: s.Tableau.Server(), PATName: "p", PATSecret: "wrong"})
	if f := failed(Run(ctx, s)); !strings.Contains(f["tableau token"].Detail, "401001") {
		t.Errorf("rejected PAT: %+v", f)
	}

	s, fake = setup(t)
	fakeURL := fake.APIURL()
	s.Tableau, _ = tableau.New(tableau.Config{Server: "http://127.0.0.1:1", PATName: "p", PATSecret: "s"})
	s.Slack = slackout.New(slackout.Options{Token: "xoxb-wrong", APIURL: fakeURL})
	f := failed(Run(ctx, s))
	if _, ok := f["tableau reachable"]; !ok {
		t.Errorf("unreachable Tableau: %+v", f)
	}
	if !strings.Contains(f["slack token"].Detail, "invalid_auth") {
		t.Errorf("wrong Slack token: %+v", f)
	}
	// Slack not answering is not blamed on the token.
	s.Slack = slackout.New(slackout.Options{Token: "xoxb-t", APIURL: "http://127.0.0.1:1/api/"})
	f = failed(Run(ctx, s))
	if r, ok := f["slack reachable"]; !ok || !strings.Contains(r.Fix, "SLACK_API_URL") || strings.Contains(r.Fix, "token (xoxb") {
		t.Errorf("unreachable Slack: %+v", f)
	}

	s, _ = setup(t)
	s.PublicURL = "https://other.example.com/x"
	if f := failed(Run(ctx, s)); !strings.Contains(f["tls certificate"].Detail, "not valid for other.example.com") {
		t.Errorf("wrong host: %+v", f)
	}
	s.StateDir = "/proc/tabhook-cannot-write-here"
	if f := failed(Run(ctx, s)); f["state directory"].Fix == "" {
		t.Errorf("unwritable state dir: %+v", f)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	_ = os.WriteFile(cfg, []byte("pat-secret: x\n"), 0o644)
	s.ConfigPath, s.ConfigSecrets = cfg, true
	if f := failed(Run(ctx, s)); !strings.Contains(f["config file"].Detail, "world-readable") {
		t.Errorf("world-readable secrets: %+v", f)
	}
	if r := scopes([]string{"chat:write"}); r.OK || !strings.Contains(r.Detail, "files:write") {
		t.Errorf("missing scopes: %+v", r)
	}
	if r := scopes([]string{"chat:write", "files:write", "channels:read"}); !r.OK || !strings.Contains(r.Detail, "without") {
		t.Errorf("minimal scopes: %+v", r)
	}
}

// TestStateDirNotCreated: doctor checks the state directory without creating it.
func TestStateDirNotCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	r := stateDir(Setup{StateDir: dir})
	if !r.OK || !strings.Contains(r.Detail, "does not exist yet") {
		t.Fatalf("missing state dir: %+v", r)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("doctor created %s", dir)
	}
}

// TestDamagedStateNamed: files the spool set aside as damaged make the check fail.
func TestDamagedStateNamed(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spool.db.damaged-20261130T070000Z"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := stateDir(Setup{StateDir: dir}); r.OK || !strings.Contains(r.Detail, "spool.db.damaged-20261130T070000Z") {
		t.Fatalf("damaged state: %+v", r)
	}
}

func TestInWords(t *testing.T) {
	for d, want := range map[time.Duration]string{120 * time.Hour: "5 days", 49 * time.Hour: "2 days", 30 * time.Hour: "30 hours", 3 * time.Minute: "3 minutes", 90 * time.Second: "90 seconds", time.Second: "1 second"} {
		if got := inWords(d); got != want {
			t.Errorf("inWords(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStoreUnreachableNamed: a shared store that does not answer fails the check,
// naming the URL without its password.
func TestStoreUnreachableNamed(t *testing.T) {
	r := sharedStore(context.Background(), "postgres://relay:db-s3cret@127.0.0.1:1/tabhook")
	if r.OK || strings.Contains(r.Detail, "db-s3cret") || !strings.Contains(r.Detail, "relay:xxxxx@127.0.0.1:1") {
		t.Fatalf("%+v", r)
	}
}

func TestDestinationsChecked(t *testing.T) {
	s, _ := setup(t)
	reg := builtin.Registry()
	teams, err := reg.Build("ops-teams", "teams", map[string]string{"url": "https://teams.example.com/workflows/x?sig=SECRET-SIG"})
	if err != nil {
		t.Fatal(err)
	}
	oncall, err := reg.Build("oncall", "pagerduty", map[string]string{"routing-key": "R0UT1NGKEY0123456789abcdef012345", "api-url": "https://nowhere.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	s.Destinations = []destination.Config{teams, oncall}
	s.Resolve = func(_ context.Context, host string) ([]string, error) {
		if host == "teams.example.com" {
			return []string{"192.0.2.1"}, nil
		}
		return nil, errors.New("no such host")
	}
	results := Run(context.Background(), s)
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Check] = r
		if strings.Contains(r.Detail, "SECRET-SIG") {
			t.Errorf("a result shows the Teams signature: %+v", r)
		}
	}
	if r := byName["destination ops-teams"]; !r.OK || !strings.Contains(r.Detail, "teams https://teams.example.com/workflows/x") {
		t.Errorf("teams: %+v", r)
	}
	if r := byName["destination oncall"]; r.OK || !strings.Contains(r.Detail, "nowhere.invalid does not resolve") {
		t.Errorf("pagerduty: %+v", r)
	}
	s.Destinations, s.DestinationsErr = nil, errors.New("destinations.x.type: unknown type")
	if f := failed(Run(context.Background(), s)); !strings.Contains(f["destinations"].Detail, "unknown type") {
		t.Errorf("a config error: %+v", f)
	}
}

// TestActionsScope: user groups in actions.allow need usergroups:read; user IDs alone
// need nothing more.
func TestActionsScope(t *testing.T) {
	for _, tc := range []struct {
		have, allow []string
		ok          bool
	}{
		{[]string{"chat:write"}, []string{"U0ALICE"}, true},
		{[]string{"chat:write"}, []string{"U0ALICE", "S0ONCALL"}, false},
		{[]string{"chat:write", "usergroups:read"}, []string{"S0ONCALL"}, true},
		{nil, []string{"S0ONCALL"}, true}, // scopes not reported: said, not failed
		{[]string{"chat:write"}, []string{"owner"}, false},
		{[]string{"chat:write", "users:read.email"}, []string{"owner"}, true},
	} {
		r := actionsScope(tc.have, tc.allow)
		if r.OK != tc.ok || (!r.OK && !strings.Contains(r.Fix, "usergroups:read") && !strings.Contains(r.Fix, "users:read.email")) {
			t.Errorf("%v %v: %+v", tc.have, tc.allow, r)
		}
	}
}
