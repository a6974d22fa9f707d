package cmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/selfsigned"
)

// settingsCase is a relay set-up that cannot work. The same list drives serve (which
// must refuse it, exit 2, or — where noted — start and warn) and doctor (which must
// fail a check naming it): one list, so doctor cannot pass what serve refuses.
type settingsCase struct {
	name   string
	config string            // the config file
	env    map[string]string // changes to the working environment ("" unsets)
	serve  string            // what serve's error says; "" when serve starts (then warn says)
	warn   string            // what serve warns of when it starts anyway
	check  string            // the failing doctor check
	detail string            // what that check says
}

var settingsCases = []settingsCase{
	{name: "route to an undefined destination",
		config: "destinations:\n  audit: {type: webhook, url: https://audit.example.com/x, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}\nroutes:\n  - events: [WorkbookUpdated]\n    to: [ops-team]\n",
		serve:  `route 1: to names "ops-team", which is not a destination \(defined: audit\)`,
		check:  "serve settings", detail: `to names "ops-team"`},
	{name: "PagerDuty route carrying WorkbookUpdated",
		config: "destinations:\n  oncall: {type: pagerduty, routing-key: 0123456789abcdef0123456789abcdef}\nroutes:\n  - events: [WorkbookUpdated, WorkbookRefreshFailed]\n    to: [oncall]\n",
		serve:  `route 1 sends WorkbookUpdated to oncall, a pagerduty destination`,
		check:  "serve settings", detail: "a pagerduty destination"},
	{name: "unknown destination type",
		config: "destinations:\n  oncall: {type: pagerdty, routing-key: x}\n",
		serve:  `destinations.oncall.type: unknown type "pagerdty"`,
		check:  "serve settings", detail: "unknown type"},
	{name: "misspelt top-level destination key",
		config: "destination:\n  oncall: {type: pagerduty}\n",
		warn:   `unknown key "destination"`,
		check:  "config file", detail: `"destination"`},
	{name: "route to a channel that does not exist",
		config: "routes:\n  - events: [WorkbookUpdated]\n    channel: \"#no-such-channel\"\n",
		warn:   "",
		check:  "slack route #no-such-channel", detail: "channel_not_found"},
	{name: "no TLS and no --insecure-http",
		config: "path: /tableau/5b1e0c9a7d3f4e28\n",
		env:    map[string]string{"TABHOOK_TLS_CERT": "", "TABHOOK_TLS_KEY": ""},
		serve:  "no TLS certificate",
		check:  "tls certificate", detail: "none configured"},
	{name: "missing listener path",
		config: "slack-channel: \"#alerts\"\n",
		env:    map[string]string{"TABHOOK_PATH": ""},
		serve:  "missing listener path",
		check:  "serve settings", detail: "missing listener path"},
	{name: "bad max-spool-size",
		config: "max-spool-size: lots\n",
		serve:  "invalid --max-spool-size",
		check:  "serve settings", detail: "max-spool-size"},
	{name: "retention shorter than an hour",
		config: "retention: 5m\n",
		serve:  "invalid --retention",
		check:  "serve settings", detail: "at least an hour"},
	{name: "store that is not PostgreSQL",
		config: "store: mysql://db/x\n",
		serve:  "invalid --store",
		check:  "serve settings", detail: "invalid --store"},
}

func relayEnv(t *testing.T, h *harness, slack *slackfake.Fake) map[string]string {
	t.Helper()
	dir := t.TempDir()
	cert, err := selfsigned.Generate(365*24*time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(crt, cert.CertPEM, 0o600)
	_ = os.WriteFile(key, cert.KeyPEM, 0o600)
	return map[string]string{
		"TS_SERVER": h.url, "TS_PAT_NAME": testPAT, "TS_PAT_SECRET": testSecret,
		"SLACK_TOKEN": "xoxb-doctor", "SLACK_API_URL": slack.APIURL(), "SLACK_CHANNEL": "#alerts",
		"TABHOOK_PATH": "/tableau/5b1e0c9a7d3f4e28", "TABHOOK_TLS_CERT": crt, "TABHOOK_TLS_KEY": key,
		"TABHOOK_STATE_DIR": filepath.Join(dir, "state"), "TABHOOK_LISTEN": "127.0.0.1:0",
	}
}

// TestDoctorFailsWhereServeRefuses: every set-up serve refuses (or that would post
// nowhere), doctor fails, naming the same fault.
func TestDoctorFailsWhereServeRefuses(t *testing.T) {
	h := newHarness(t)
	slack := slackfake.New("xoxb-doctor").Start()
	t.Cleanup(slack.Close)
	base := relayEnv(t, h, slack)

	// The working set-up passes doctor: the failures below are the cases' own.
	if out, errOut, code := run(t, &Factory{}, base, "doctor", "--no-input"); code != 0 {
		t.Fatalf("doctor on the working set-up: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range settingsCases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.env {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			if c.serve != "" {
				_, errOut, code := run(t, &Factory{}, env, "serve", "--config", path, "--no-input")
				if code != 2 || !regexp.MustCompile(c.serve).MatchString(errOut) {
					t.Errorf("serve: exit %d, want 2 saying %q:\n%s", code, c.serve, errOut)
				}
			}
			if c.warn != "" {
				_, errOut, _ := run(t, &Factory{}, env, "doctor", "--config", path) // same pre-run as serve
				if !strings.Contains(errOut, c.warn) {
					t.Errorf("no warning %q:\n%s", c.warn, errOut)
				}
			}
			out, errOut, code := run(t, &Factory{}, env, "doctor", "--config", path)
			line := regexp.MustCompile(`(?m)^FAIL +` + regexp.QuoteMeta(c.check) + ` +.*` + regexp.QuoteMeta(c.detail))
			if code != 1 || !line.MatchString(out) {
				t.Errorf("doctor: exit %d, want 1 with a failing %q check saying %q:\n%s%s", code, c.check, c.detail, out, errOut)
			}
		})
	}
}
