package creds

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func envOf(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("server", "", "")
	fs.String("pat-name", "", "")
	fs.String("pat-secret", "", "")
	fs.String("pat-secret-file", "", "")
	fs.String("listen", ":8443", "")
	fs.String("name-prefix", "tabhook", "")
	fs.StringSlice("event", nil, "")
	fs.Bool("insecure-http", false, "")
	return fs
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence checks every pair of layers: flag > env > config > default.
func TestPrecedence(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		config  string
		want    string
		wantSrc Source
	}{
		{"default only", nil, nil, "", ":8443", SourceDefault},
		{"config over default", nil, nil, "listen: :9000\n", ":9000", SourceConfig},
		{"env over config", nil, map[string]string{"TABHOOK_LISTEN": ":9100"}, "listen: :9000\n", ":9100", SourceEnv},
		{"env over default", nil, map[string]string{"TABHOOK_LISTEN": ":9100"}, "", ":9100", SourceEnv},
		{"flag over env", []string{"--listen", ":9200"}, map[string]string{"TABHOOK_LISTEN": ":9100"}, "", ":9200", SourceFlag},
		{"flag over config", []string{"--listen", ":9200"}, nil, "listen: :9000\n", ":9200", SourceFlag},
		{"flag over all", []string{"--listen", ":9200"}, map[string]string{"TABHOOK_LISTEN": ":9100"}, "listen: :9000\n", ":9200", SourceFlag},
		{"empty env ignored", nil, map[string]string{"TABHOOK_LISTEN": ""}, "listen: :9000\n", ":9000", SourceConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			if tc.config != "" {
				env["TABHOOK_CONFIG"] = writeConfig(t, tc.config)
			}
			r, err := Load(Options{Env: envOf(env)})
			if err != nil {
				t.Fatal(err)
			}
			fs := flags()
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := r.Apply(fs); err != nil {
				t.Fatal(err)
			}
			if got := value(fs, "listen"); got != tc.want {
				t.Errorf("listen = %q, want %q", got, tc.want)
			}
			if got := r.Source("listen"); got != tc.wantSrc {
				t.Errorf("source = %v, want %v", got, tc.wantSrc)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	for flag, want := range map[string]string{
		"server": "TS_SERVER", "site": "TS_SITE", "pat-name": "TS_PAT_NAME", "pat-secret-file": "TS_PAT_SECRET_FILE",
		"api-version": "TS_API_VERSION", "ca-cert": "TS_CA_CERT", "slack-token": "SLACK_TOKEN", "slack-token-file": "SLACK_TOKEN_FILE", "slack-signing-secret-file": "SLACK_SIGNING_SECRET_FILE",
		"slack-channel": "SLACK_CHANNEL", "slack-api-url": "SLACK_API_URL", "listen": "TABHOOK_LISTEN",
		"drain-timeout": "TABHOOK_DRAIN_TIMEOUT", "no-input": "TABHOOK_NO_INPUT", "state-dir": "TABHOOK_STATE_DIR",
	} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

func TestConfigListsAndBools(t *testing.T) {
	p := writeConfig(t, "event:\n  - WorkbookUpdated\n  - workbook-created\ninsecure-http: true\nserver: https://tab.example.com\n")
	r, err := Load(Options{ConfigPath: p, Env: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	fs := flags()
	_ = fs.Parse(nil)
	if err := r.Apply(fs); err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.GetStringSlice("event"); strings.Join(got, "|") != "WorkbookUpdated|workbook-created" {
		t.Errorf("event = %v", got)
	}
	if got, _ := fs.GetBool("insecure-http"); !got {
		t.Error("insecure-http not read from config")
	}
	if r.ConfigPath() != p {
		t.Errorf("ConfigPath = %q", r.ConfigPath())
	}
	if fs.Lookup("server").Changed {
		t.Error("a value from the config file must not count as given on the command line")
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := Load(Options{ConfigPath: "/nonexistent/tabhook.yaml", Env: envOf(nil)}); err == nil {
		t.Error("an explicitly named missing config file must fail")
	}
	r, err := Load(Options{Env: envOf(map[string]string{"XDG_CONFIG_HOME": t.TempDir()})})
	if err != nil || r.ConfigPath() != "" {
		t.Errorf("missing default config: %v, %q", err, r.ConfigPath())
	}
	var ce *ConfigError
	if _, err := Load(Options{ConfigPath: writeConfig(t, "server: [unclosed\n"), Env: envOf(nil)}); !errors.As(err, &ce) {
		t.Errorf("bad YAML: %v", err)
	}
	r, _ = Load(Options{ConfigPath: writeConfig(t, "insecure-http: maybe\n"), Env: envOf(nil)})
	fs := flags()
	if err := r.Apply(fs); err == nil || !strings.Contains(err.Error(), "insecure-http") {
		t.Errorf("bad bool: %v", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	if got := DefaultConfigPath(envOf(map[string]string{"XDG_CONFIG_HOME": "/x"})); got != "/x/tabhook/config.yaml" {
		t.Error(got)
	}
	if got := DefaultConfigPath(envOf(map[string]string{"HOME": "/home/u"})); got != "/home/u/.config/tabhook/config.yaml" {
		t.Error(got)
	}
	if got := DefaultStateDir(envOf(map[string]string{"STATE_DIRECTORY": "/var/lib/tabhook:/other", "XDG_STATE_HOME": "/s"})); got != "/var/lib/tabhook" {
		t.Error(got)
	}
	if got := DefaultStateDir(envOf(map[string]string{"XDG_STATE_HOME": "/s"})); got != "/s/tabhook" {
		t.Error(got)
	}
	if got := DefaultStateDir(envOf(map[string]string{"HOME": "/h"})); got != "/h/.local/state/tabhook" {
		t.Error(got)
	}
}

type fakePrompter struct {
	answers map[string]string
	secret  bool
}

func (p *fakePrompter) Prompt(label string) (string, error) { return p.answers[label], nil }
func (p *fakePrompter) PromptSecret(label string) (string, error) {
	p.secret = true
	return p.answers[label] + "\n", nil
}

func TestRequireAndPrompt(t *testing.T) {
	r, _ := Load(Options{Env: envOf(nil), ConfigPath: ""})
	r.configPath = ""
	fs := flags()
	_, err := r.Require(fs, "pat-name", "Tableau PAT name")
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v", err)
	}
	want := "missing Tableau PAT name: pass --pat-name, set TS_PAT_NAME, or set pat-name in the config file"
	if err.Error() != want {
		t.Errorf("message = %q", err.Error())
	}
	p := &fakePrompter{answers: map[string]string{"Tableau PAT name": "ops\n", "Tableau PAT secret": "hunter2"}}
	r.prompter = p
	if v, err := r.Require(fs, "pat-name", "Tableau PAT name"); err != nil || v != "ops" || r.Source("pat-name") != SourcePrompt {
		t.Errorf("prompted = %q, %v", v, err)
	}
	if v, err := r.Secret(fs, "pat-secret", "pat-secret-file", "Tableau PAT secret", true); err != nil || v != "hunter2" || !p.secret {
		t.Errorf("secret = %q, %v (hidden prompt used: %v)", v, err, p.secret)
	}
}

func TestSecretLayers(t *testing.T) {
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a")
	_ = os.WriteFile(fileA, []byte("from-file\n"), 0o600)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"env file", nil, map[string]string{"TS_PAT_SECRET_FILE": fileA}, "from-file"},
		{"env value", nil, map[string]string{"TS_PAT_SECRET": "env-value"}, "env-value"},
		{"flag value beats env file", []string{"--pat-secret", "flag-value"}, map[string]string{"TS_PAT_SECRET_FILE": fileA}, "flag-value"},
		{"flag file beats env value", []string{"--pat-secret-file", fileA}, map[string]string{"TS_PAT_SECRET": "env-value"}, "from-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := Load(Options{Env: envOf(tc.env), ConfigPath: ""})
			fs := flags()
			_ = fs.Parse(tc.args)
			if err := r.Apply(fs); err != nil {
				t.Fatal(err)
			}
			got, err := r.Secret(fs, "pat-secret", "pat-secret-file", "Tableau PAT secret", true)
			if err != nil || got != tc.want {
				t.Errorf("secret = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	r, _ := Load(Options{Env: envOf(map[string]string{"TS_PAT_SECRET_FILE": filepath.Join(dir, "missing")})})
	fs := flags()
	_ = r.Apply(fs)
	if _, err := r.Secret(fs, "pat-secret", "pat-secret-file", "Tableau PAT secret", true); err == nil {
		t.Error("missing secret file must fail")
	}
	r, _ = Load(Options{Env: envOf(nil)})
	if v, err := r.Secret(flags(), "pat-secret", "pat-secret-file", "x", false); v != "" || err != nil {
		t.Errorf("optional secret = %q, %v", v, err)
	}
}
