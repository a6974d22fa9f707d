package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tabhook/tabhook/internal/fakes/destfake"
	"github.com/tabhook/tabhook/internal/fakes/faultproxy"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/selfsigned"
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
		Dir:   "testdata/script",
		Setup: setupSim,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": cmdExits, "simhook": cmdSimHook, "simcount": cmdSimCount, "simdisable": cmdSimDisable, "simlatency": cmdSimLatency, "simsignins": cmdSimSignIns, "firemany": cmdFireMany, "simwarnings": cmdSimWarnings,
			"freeport": cmdFreePort, "waitfor": cmdWaitFor, "fire": cmdFire, "slack": cmdSlack, "dest": cmdDest, "jsonlines": cmdJSONLines, "pgschema": cmdPGSchema, "pgproxy": cmdPGProxy,
			"click": cmdClick, "slacknote": cmdSlackNote, "ephemeral": cmdEphemeral, "simrefreshes": cmdSimRefreshes, "pdacked": cmdPDAcked,
			"firesite": cmdFireSite, "sitecount": cmdSiteCount, "simpat": cmdSimPAT, "sitehook": cmdSiteHook,
			"simaddsite": cmdSimAddSite, "simdropsite": cmdSimDropSite},
		Deadline: time.Now().Add(5 * time.Minute), // the scripts run two at a time; some take a minute
		Condition: func(cond string) (bool, error) {
			if cond != "pg" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			return postgresReachable()
		},
	})
}

type (
	serverKey struct{}
	simKey    struct{}
	slackKey  struct{}
)

const (
	scriptSlackToken  = "xoxb-script-token-8d1f"
	serverAdminSecret = "server-admin-secret-3b7e"
)

func setupSim(e *testscript.Env) error {
	dest := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"received"}`))
	}))
	gone := httptest.NewTLSServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	// The listener's certificate, trusted by the simulator like the test destination's.
	cert, err := selfsigned.Generate(365*24*time.Hour, "127.0.0.1")
	if err != nil {
		return err
	}
	soon, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		return err
	}
	cert.Pool.AddCert(dest.Certificate())
	for name, data := range map[string][]byte{"tls.crt": cert.CertPEM, "tls.key": cert.KeyPEM, "soon.crt": soon.CertPEM, "soon.key": soon.KeyPEM, "signing-secret": []byte(scriptSigningSecret + "\n")} {
		if err := os.WriteFile(filepath.Join(e.WorkDir, name), data, 0o600); err != nil {
			return err
		}
	}
	// A server of three sites: the Default site (what every script but sites.txtar
	// uses, as sim(ts)), finance and sales, each with its own token.
	server := tableausim.NewServer(tableausim.Options{
		DeliveryTLS: &tls.Config{RootCAs: cert.Pool},
		RetryDelay:  time.Millisecond,
	}, "finance", "sales")
	sim := server.Site("")
	e.Values[serverKey{}] = server
	// A server administrator's token: every site, those added later too.
	server.AddPAT(tableausim.PAT{Name: "server-admin", Secret: serverAdminSecret})
	for _, name := range []string{"finance", "sales"} {
		secret := name + "-pat-secret-" + name
		server.Site(name).AddPAT(tableausim.PAT{Name: name + "-pat", Secret: secret})
		if err := os.WriteFile(filepath.Join(e.WorkDir, name+"-pat"), []byte(secret+"\n"), 0o600); err != nil {
			return err
		}
		e.Setenv("SITE_"+strings.ToUpper(name), server.Site(name).SiteID())
	}
	slack := slackfake.New(scriptSlackToken).Start()
	e.Defer(slack.Close)
	e.Values[slackKey{}] = slack
	e.Values[pgProxyKey{}] = &proxyHolder{}
	e.Setenv("SLACK_TOKEN", scriptSlackToken)
	e.Setenv("SLACK_API_URL", slack.APIURL())
	sim.AddPAT(tableausim.PAT{Name: scriptPATName, Secret: scriptPATSecret})
	srv := server.Start()
	e.Defer(func() { srv.Close(); dest.Close() })
	e.Values[simKey{}] = sim
	e.Setenv("TS_SERVER", srv.URL)
	e.Setenv("SITE", sim.SiteID())
	e.Setenv("SIMURL", srv.URL)
	cfg := fmt.Sprintf("server: %s\npat-secret: %s\n", srv.URL, scriptPATSecret)
	if err := os.WriteFile(filepath.Join(e.WorkDir, "sim-config.yaml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	e.Setenv("TS_PAT_NAME", scriptPATName)
	e.Setenv("TS_PAT_SECRET", scriptPATSecret)
	e.Setenv("DEST_OK", dest.URL+"/hook")
	e.Setenv("DEST_GONE", goneURL+"/hook")
	return setupReceivers(e)
}

type receiversKey struct{}

// setupReceivers starts the fake Teams, PagerDuty and webhook receivers, their
// addresses and secrets in files ($WORK/teams-url, pd-key, audit-secret) and $PD_URL,
// $HOOK_URL.
func setupReceivers(e *testscript.Env) error {
	r := map[string]*destfake.Receiver{"teams": destfake.NewTeams(), "pagerduty": destfake.NewPagerDuty(), "webhook": destfake.NewWebhook()}
	for _, x := range r {
		e.Defer(x.Close)
	}
	e.Values[receiversKey{}] = r
	for name, data := range map[string]string{"teams-url": r["teams"].URL(), "pd-key": scriptPDKey, "audit-secret": scriptWebhookSecret} {
		if err := os.WriteFile(filepath.Join(e.WorkDir, name), []byte(data+"\n"), 0o600); err != nil {
			return err
		}
	}
	e.Setenv("PD_URL", r["pagerduty"].URL())
	e.Setenv("HOOK_URL", r["webhook"].URL())
	return nil
}

const (
	scriptPDKey         = "SCRIPTPDKEY0123456789abcdef01234"
	scriptWebhookSecret = "whsec_c2NyaXB0LXNpZ25pbmctc2VjcmV0LTEyMzQ1Njc4"
)

// dest teams|pagerduty|webhook accepted N | fail STATUS | recover |
// verify: check or script a fake receiver.
func cmdDest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: dest teams|pagerduty|webhook accepted N | fail STATUS | recover | verify")
	}
	r, ok := ts.Value(receiversKey{}).(map[string]*destfake.Receiver)[args[0]]
	if !ok {
		ts.Fatalf("dest: no receiver %q", args[0])
	}
	switch args[1] {
	case "accepted":
		// accepted N: waited for, 20 s at most
		deadline := time.Now().Add(20 * time.Second)
		for fmt.Sprint(len(r.Accepted())) != args[2] {
			if time.Now().After(deadline) {
				ts.Fatalf("%s accepted %d requests, want %s", args[0], len(r.Accepted()), args[2])
			}
			time.Sleep(20 * time.Millisecond)
		}
	case "fail":
		status, _ := strconv.Atoi(args[2])
		r.Fail(destfake.Answer{Status: status})
	case "recover":
		r.Recover()
	case "verify":
		wh, err := standardwebhooks.NewWebhook(scriptWebhookSecret)
		if err != nil {
			ts.Fatalf("%v", err)
		}
		for _, q := range r.Accepted() {
			if err := wh.Verify(q.Body, q.Header); err != nil {
				ts.Fatalf("a webhook does not verify: %v", err)
			}
		}
	default:
		ts.Fatalf("dest: unknown subcommand %q", args[1])
	}
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

// simwarnings DATASOURCE_ID N: the data source carries N data quality warnings.
func cmdSimWarnings(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: simwarnings DATASOURCE_ID N")
	}
	got := sim(ts).QualityWarnings(args[0])
	if (fmt.Sprint(len(got)) == args[1]) == neg {
		ts.Fatalf("data source %s carries %d warnings %+v; want %s", args[0], len(got), got, args[1])
	}
}

// simdisable ID REASON disables a webhook as Tableau does after failed deliveries.
func cmdSimDisable(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: simdisable ID REASON")
	}
	id := args[0]
	for _, w := range sim(ts).Webhooks() {
		if w.Name == args[0] {
			id = w.ID // a name works too
		}
	}
	if !sim(ts).DisableWebhook(id, args[1]) {
		ts.Fatalf("no webhook %s", args[0])
	}
}

// simsignins MAX: the simulator took at most MAX sign-ins so far.
func cmdSimSignIns(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: simsignins MAX")
	}
	most, _ := strconv.Atoi(args[0])
	if n := sim(ts).SignIns(); n > most {
		ts.Fatalf("%d sign-ins, want at most %d", n, most)
	}
}

// firemany N INTERVAL EVENT LUID NAME: the simulator delivers N events of this kind,
// one every INTERVAL, each its own (created a minute apart).
func cmdFireMany(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 5 {
		ts.Fatalf("usage: firemany N INTERVAL EVENT LUID NAME")
	}
	n, _ := strconv.Atoi(args[0])
	every, err := time.ParseDuration(args[1])
	if err != nil {
		ts.Fatalf("firemany: %v", err)
	}
	base := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i := range n {
		if _, err := sim(ts).Fire(context.Background(), tableausim.Event{Type: args[2], ResourceLUID: args[3], ResourceName: args[4], CreatedAt: base.Add(time.Duration(i) * time.Minute)}); err != nil {
			ts.Fatalf("firemany: %v", err)
		}
		time.Sleep(every)
	}
}

// simlatency DURATION: the simulator answers REST calls that much later (0: at once).
func cmdSimLatency(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: simlatency DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("simlatency: %v", err)
	}
	sim(ts).SetLatency(d)
}

func slackFake(ts *testscript.TestScript) *slackfake.Fake {
	return ts.Value(slackKey{}).(*slackfake.Fake)
}

// freeport VAR puts a free loopback port in $VAR.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("freeport: %v", err)
	}
	defer ln.Close()
	ts.Setenv(args[0], fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
}

// waitfor webhooks N | messages N | files N | ready URL: poll until the condition holds
// (20 s at most). It waits for a condition, never for a fixed time.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) > 2 && args[0] == "output" {
		waitForOutput(ts, args[1], args[2], args[3:])
		return
	}
	if len(args) != 2 {
		ts.Fatalf("usage: waitfor webhooks|messages|files N, or waitfor ready URL")
	}
	var cond func() (bool, string)
	switch args[0] {
	case "webhooks", "messages", "files":
		want, _ := strconv.Atoi(args[1])
		cond = func() (bool, string) {
			n := 0
			switch args[0] {
			case "webhooks":
				n = len(sim(ts).Webhooks())
			case "messages":
				n = len(slackFake(ts).Messages())
			case "files":
				n = len(slackFake(ts).Files())
			}
			return n == want, fmt.Sprintf("%d %s", n, args[0])
		}
	case "ready", "notready":
		want := http.StatusOK
		if args[0] == "notready" {
			want = http.StatusServiceUnavailable
		}
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		cond = func() (bool, string) {
			resp, err := client.Get(args[1])
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == want, resp.Status
		}
	default:
		ts.Fatalf("waitfor: unknown condition %q", args[0])
	}
	waitUntil(ts, "waitfor "+args[0]+" "+args[1], 20*time.Second, cond)
}

// site is the simulated server's site with this content URL ("default": the Default
// site).
func site(ts *testscript.TestScript, name string) *tableausim.Sim {
	if name == "default" {
		name = ""
	}
	s := ts.Value(serverKey{}).(*tableausim.Server).Site(name)
	if s == nil {
		ts.Fatalf("the simulator has no site %q", name)
	}
	return s
}

// firesite SITE EVENT LUID NAME [CREATED_AT]: fire, on that site ("default" the
// Default site).
func cmdFireSite(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 {
		ts.Fatalf("usage: firesite SITE EVENT LUID NAME [CREATED_AT]")
	}
	fireOn(ts, site(ts, args[0]), neg, args[1:])
}

// sitecount SITE N: how many webhooks the site holds.
func cmdSiteCount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sitecount SITE N")
	}
	waitUntil(ts, "sitecount "+args[0]+" "+args[1], 20*time.Second, func() (bool, string) {
		got := fmt.Sprint(len(site(ts, args[0]).Webhooks()))
		return (got == args[1]) != neg, "site " + args[0] + " holds " + got + " webhooks"
	})
}

// sitehook SITE NAME EVENT URL registers a webhook directly on that site.
func cmdSiteHook(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: sitehook SITE NAME EVENT URL")
	}
	site(ts, args[0]).AddWebhook(args[1], args[2], args[3])
}

// simaddsite NAME: a site is created on the simulated server.
func cmdSimAddSite(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: simaddsite NAME")
	}
	ts.Value(serverKey{}).(*tableausim.Server).AddSite(args[0])
}

// simdropsite NAME: a site is deleted from the simulated server.
func cmdSimDropSite(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: simdropsite NAME")
	}
	ts.Value(serverKey{}).(*tableausim.Server).RemoveSite(args[0])
}

// simpat SITE NAME SECRET: the token's secret changes (revoked, a new one issued).
func cmdSimPAT(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: simpat SITE NAME SECRET")
	}
	site(ts, args[0]).SetPATSecret(args[1], args[2])
}

// fire EVENT LUID NAME [CREATED_AT]: the simulator delivers an event to its webhooks.
func cmdFire(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: fire EVENT LUID NAME [CREATED_AT]")
	}
	fireOn(ts, sim(ts), neg, args)
}

func fireOn(ts *testscript.TestScript, sim *tableausim.Sim, neg bool, args []string) {
	ev := tableausim.Event{Type: args[0], ResourceLUID: args[1], ResourceName: args[2]}
	if len(args) > 3 {
		t, err := time.Parse(time.RFC3339, args[3])
		if err != nil {
			ts.Fatalf("fire: %v", err)
		}
		ev.CreatedAt = t
	}
	ds, err := sim.Fire(context.Background(), ev)
	if err != nil {
		ts.Fatalf("fire: %v", err)
	}
	public := ts.Getenv("TABHOOK_PUBLIC_URL")
	refused, reached := false, false
	for _, d := range ds {
		ts.Logf("fire %s: %s answered %d after %d attempts %s", args[0], d.URL, d.Status, d.Attempts, d.Err)
		ours := public != "" && (d.URL == public || strings.HasPrefix(d.URL, public+"/")) // a site's path extends the relay's
		reached = reached || ours
		if !d.OK && (public == "" || ours) && !neg {
			ts.Fatalf("delivery to %s failed after %d attempts: %d %s", d.URL, d.Attempts, d.Status, d.Err)
		}
		refused = refused || (!d.OK && d.Status == http.StatusServiceUnavailable)
	}
	if public != "" && !reached {
		ts.Fatalf("fire: no webhook of %s points at %s (%d deliveries)", args[0], public, len(ds))
	}
	// ! fire: every attempt was refused with 503 (nothing acknowledged that was not stored).
	if neg && !refused {
		ts.Fatalf("fire: the delivery was not refused with 503: %+v", ds)
	}
}

// slack outage on|off | messages-contain TEXT: switch the Slack fake or check it.
func cmdSlack(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: slack outage on|off | count TEXT=N | fail CHANNEL_ID CODE|ok")
	}
	switch args[0] {
	case "channels":
		// channels ID,ID,...: the channels of the messages, in order
		var got []string
		for _, m := range slackFake(ts).Messages() {
			got = append(got, m.Channel)
		}
		if strings.Join(got, ",") != args[1] {
			ts.Fatalf("messages went to %s, want %s", strings.Join(got, ","), args[1])
		}
	case "threaded", "edited":
		// threaded N: N messages are thread replies; edited N: N were rewritten (a
		// rewrite follows the post it is for: waited for, 10 s at most)
		count := func() (n int) {
			for _, m := range slackFake(ts).Messages() {
				if (args[0] == "threaded" && m.ThreadTS != "") || (args[0] == "edited" && m.Edits > 0) {
					n++
				}
			}
			return n
		}
		deadline := time.Now().Add(10 * time.Second)
		for fmt.Sprint(count()) != args[1] {
			if time.Now().After(deadline) {
				ts.Fatalf("%d messages %s, want %s", count(), args[0], args[1])
			}
			time.Sleep(20 * time.Millisecond)
		}
	case "scopes":
		// scopes LIST: the token's scopes from now on
		slackFake(ts).SetScopes(args[1])
	case "user":
		// user EMAIL ID: users.lookupByEmail finds ID
		slackFake(ts).AddUser(args[1], args[2])
	case "group":
		// group ID MEMBER...: a user group, for usergroups.users.list
		slackFake(ts).AddGroup(args[1], args[2:]...)
	case "private-channel":
		// private-channel NAME ID: a private channel the bot is not in
		slackFake(ts).AddChannel(slackfake.Channel{Name: args[1], ID: args[2], IsPrivate: true})
	case "fail":
		code := args[2]
		if code == "ok" {
			code = ""
		}
		slackFake(ts).FailChannel(args[1], code)
	case "outage":
		slackFake(ts).SetOutage(args[1] == "on")
	case "count":
		// count TEXT=N: how many messages contain TEXT
		text, n, _ := strings.Cut(args[1], "=")
		got := 0
		for _, m := range slackFake(ts).Messages() {
			if strings.Contains(m.Text, text) {
				got++
			}
		}
		if fmt.Sprint(got) != n {
			ts.Fatalf("%d messages contain %q, want %s", got, text, n)
		}
	default:
		ts.Fatalf("slack: unknown subcommand %q", args[0])
	}
}

// waitForOutput runs a program until its stdout matches pattern (20 s at most).
func waitForOutput(ts *testscript.TestScript, pattern, prog string, args []string) {
	re, err := regexp.Compile("(?m)" + pattern)
	if err != nil {
		ts.Fatalf("waitfor output: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_ = ts.Exec(prog, args...)
		if re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitfor output: %s %v never printed %q", prog, args, pattern)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsonlines FILE... checks that every line of each file is a JSON object.
func cmdJSONLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: jsonlines FILE...")
	}
	for _, name := range args {
		text := ts.ReadFile(name)
		if strings.TrimSpace(text) == "" {
			ts.Fatalf("%s is empty", name)
		}
		for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				ts.Fatalf("%s line %d is not a JSON object: %q", name, i+1, line)
			}
		}
	}
}

// testPostgres is the server the PostgreSQL scripts use.
func testPostgres() string {
	if u := os.Getenv("TABHOOK_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// postgresReachable is the [pg] condition: in CI, no server is an error, never a skip.
func postgresReachable() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testPostgres())
	if err != nil {
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("PostgreSQL is not reachable for the replica scripts: %v", err)
		}
		return false, nil
	}
	conn.Close(ctx)
	return true, nil
}

// pgschema VAR makes a schema of the script's own and sets VAR to a store URL that
// uses it; the schema is dropped when the script ends.
func cmdPGSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgschema VAR")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testPostgres())
	ts.Check(err)
	defer conn.Close(ctx)
	name := fmt.Sprintf("tabhook_script_%d", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+name)
	ts.Check(err)
	ts.Defer(func() {
		if c, err := pgx.Connect(context.Background(), testPostgres()); err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(testPostgres(), "?") {
		sep = "&"
	}
	ts.Setenv(args[0], testPostgres()+sep+"search_path="+name)
}

type pgProxyKey struct{}

// pgproxy VAR URL starts a TCP proxy to URL's server and sets VAR to URL through it;
// "pgproxy cut" drops every connection and refuses new ones (the database is gone),
// "pgproxy restore" lets them through again.
func cmdPGProxy(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 1 && (args[0] == "cut" || args[0] == "restore") {
		h := ts.Value(pgProxyKey{}).(*proxyHolder)
		if h.p == nil {
			ts.Fatalf("pgproxy %s: no proxy started", args[0])
		}
		h.p.Cut(args[0] == "cut")
		return
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pgproxy VAR URL | pgproxy cut | pgproxy restore")
	}
	u, err := url.Parse(args[1])
	ts.Check(err)
	p, err := faultproxy.Start(u.Host)
	ts.Check(err)
	ts.Defer(p.Close)
	u.Host = p.Addr()
	ts.Setenv(args[0], u.String())
	ts.Value(pgProxyKey{}).(*proxyHolder).p = p
}

// proxyHolder carries a script's proxy between its commands.
type proxyHolder struct{ p *faultproxy.Proxy }
