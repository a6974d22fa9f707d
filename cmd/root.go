// Package cmd wires tabhook's commands: flags, argument checks and output. The work
// itself lives in internal packages.
package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/tableau"
)

// BuildInfo is stamped by the linker in releases and read from the module otherwise.
type BuildInfo struct {
	Version string
	Commit  string
	Date    string
}

// Factory hands commands their dependencies. Fields set by tests replace the real ones.
type Factory struct {
	IO    *cli.IOStreams
	Env   creds.LookupEnv
	Build BuildInfo
	// Prompter overrides the terminal prompter (tests).
	Prompter creds.Prompter
	// Reload delivers SIGHUP to long-running commands (set by main).
	Reload <-chan os.Signal

	warnOnce sync.Once // the http:// warning, once per command however often settings are read

	hintMu sync.Mutex
	hint   string // what a forced exit (second signal) leaves undone

	resolver *creds.Resolver
	logger   *slog.Logger
	finish   []func()
}

// Finish runs what must happen after the command, whatever its outcome.
func (f *Factory) Finish() {
	for _, fn := range f.finish {
		fn()
	}
}

// Resolver is the settings resolver, ready once the root command's pre-run has read the
// config file.
func (f *Factory) Resolver() *creds.Resolver { return f.resolver }

// Logger writes to stderr at the configured level and format.
func (f *Factory) Logger() *slog.Logger {
	if f.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.logger
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "tabhook",
		Short: "Manage Tableau webhooks and relay their events to Slack, Teams, PagerDuty and webhooks",
		Long: `tabhook manages a Tableau site's webhooks from the command line, and runs the HTTPS
listener that receives their deliveries, enriches each event through the Tableau REST API
and posts it to Slack — and, where routes say, to Microsoft Teams, PagerDuty and signed
JSON webhooks.

Settings can also be given in the environment (TS_* and SLACK_* for credentials,
TABHOOK_<FLAG> for the rest) or in the config file ($XDG_CONFIG_HOME/tabhook/config.yaml,
keys named like the flags). The first that is set wins: flag, environment, config file,
interactive prompt, default. Flags that choose what a command touches (the webhooks
'webhook delete' deletes, --yes, --all-dead) are read from the command line only; their
help says "command line only".`,
		Example: `  # try the whole pipeline against the built-in Tableau simulator
  tabhook demo

  # list the site's webhooks
  export TS_SERVER=https://tableau.example.com TS_SITE=marketing
  export TS_PAT_NAME=tabhook TS_PAT_SECRET_FILE=~/.config/tabhook/pat
  tabhook webhook list`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return f.prepare(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (default $XDG_CONFIG_HOME/tabhook/config.yaml; env TABHOOK_CONFIG)")
	pf.String("server", "", "Tableau base URL, e.g. https://tableau.example.com (env TS_SERVER)")
	pf.String("site", "", "site content URL; empty for the Default site (env TS_SITE)")
	pf.String("pat-name", "", "personal access token name (env TS_PAT_NAME)")
	pf.String("pat-secret", "", "personal access token secret; prefer --pat-secret-file (env TS_PAT_SECRET)")
	pf.String("pat-secret-file", "", "file holding the personal access token secret (env TS_PAT_SECRET_FILE)")
	pf.String("api-version", "", "REST API version (default: negotiated from serverinfo; env TS_API_VERSION)")
	pf.String("ca-cert", "", "CA bundle (PEM) for Tableau's TLS certificate (env TS_CA_CERT)")
	pf.StringP("output", "o", cli.FormatTable, "output format: table or json")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "text", "log format: text or json")
	pf.Bool("no-input", false, "never prompt; fail when a required value is missing")
	pf.String("cpu-profile", "", "write a CPU profile to this file (for diagnosing performance)")
	_ = pf.MarkHidden("cpu-profile")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))

	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cli.UsageError{Err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(newCmdWebhook(f), newCmdEvents(f), newCmdServe(f, nil), newCmdRun(f, nil), newCmdDemo(f, nil), newCmdDeliveries(f), newCmdDoctor(f, nil), newCmdDocs(f), newCmdVersion(f))
	b := f.Build
	root.Version = versionLine(b)
	root.SetVersionTemplate("{{.Version}}\n") // --version and 'tabhook version' print the same line
	enforceUsage(root)
	return root
}

// prepare reads the config file, applies environment and config values to the
// command's flags, and sets up logging.
func (f *Factory) prepare(cmd *cobra.Command) error {
	flags := cmd.Flags()
	configPath, _ := flags.GetString("config")
	r, err := creds.Load(creds.Options{ConfigPath: configPath, Env: f.Env})
	if err != nil {
		return err
	}
	if err := r.Apply(flags); err != nil {
		return &cli.UsageError{Err: err}
	}
	for _, w := range r.UnknownKeys(configKeys(cmd.Root())) {
		fmt.Fprintf(f.IO.ErrOut, "warning: %s\n", w)
	}
	noInput, _ := flags.GetBool("no-input")
	r.SetPrompter(f.prompter(noInput))
	f.resolver = r
	if out := flags.Lookup("output"); out != nil {
		if err := cli.CheckFormat(out.Value.String()); err != nil {
			return err
		}
		// Asked for by name, a table is a table even into a pipe (aligned, with its
		// header); by default a pipe gets tab-separated rows for scripts.
		if out.Value.String() == cli.FormatTable && r.Source("output") != creds.SourceDefault {
			f.IO.OutTTY = true
		}
	}
	logger, err := newLogger(f.IO.ErrOut, stringFlag(flags, "log-level"), stringFlag(flags, "log-format"))
	if err != nil {
		return err
	}
	f.logger = logger
	if p := stringFlag(flags, "cpu-profile"); p != "" {
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		f.finish = append(f.finish, func() { pprof.StopCPUProfile(); _ = out.Close() })
	}
	return nil
}

// SetInterruptHint says what a forced exit would leave undone, and how to finish it.
func (f *Factory) SetInterruptHint(h string) {
	f.hintMu.Lock()
	f.hint = h
	f.hintMu.Unlock()
}

// InterruptHint is what main prints when a second signal ends the process at once.
func (f *Factory) InterruptHint() string {
	f.hintMu.Lock()
	defer f.hintMu.Unlock()
	return f.hint
}

// configKeys are the config file's keys: routes, destinations, and every flag of every
// command that the config file can set — not those read from the command line only
// (destination, state, yes, the webhook commands' selections), which a config file key
// would never reach.
func configKeys(root *cobra.Command) []string {
	seen := map[string]bool{"routes": true, "destinations": true, "sites": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) {
				if !creds.CommandLineOnly(fl) && fl.Name != "help" && fl.Name != "config" {
					seen[fl.Name] = true
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	return out
}

var apiVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// adminFilterKeys are flags that select or name webhooks in the admin commands. The
// relay has settings of the same names (TABHOOK_EVENT, TABHOOK_NAME_PREFIX, event: in a
// shared config file): the admin commands read them from the command line only, so an
// exported relay environment never chooses what a delete deletes. --all-sites widens
// a prune to every site: asked for on the command line only, too.
var adminFilterKeys = []string{"event", "name", "name-prefix", "url", "url-prefix", "enabled", "disabled", "all-sites"}

// canPrompt: a person is at a terminal and --no-input was not given.
func (f *Factory) canPrompt(cmd *cobra.Command) bool {
	noInput, _ := cmd.Flags().GetBool("no-input")
	return f.IO.CanPrompt() && !noInput
}

func (f *Factory) prompter(noInput bool) creds.Prompter {
	if noInput {
		return nil
	}
	if f.Prompter != nil {
		return f.Prompter
	}
	if f.IO.CanPrompt() && f.IO.InFile != nil {
		return creds.TermPrompter{In: f.IO.InFile, Out: f.IO.ErrOut}
	}
	return nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, cli.Usagef("invalid --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, cli.Usagef("invalid --log-format %q: use text or json", format)
}

func stringFlag(fs *pflag.FlagSet, name string) string {
	if fl := fs.Lookup(name); fl != nil {
		return fl.Value.String()
	}
	return ""
}

// TableauSettings resolves what a Tableau connection needs from the command's flags,
// prompting for missing values where allowed.
func (f *Factory) TableauSettings(fs *pflag.FlagSet) (tableau.Config, error) {
	r := f.resolver
	server, err := r.Require(fs, "server", "Tableau server URL")
	if err != nil {
		return tableau.Config{}, err
	}
	name, err := r.Require(fs, "pat-name", "Tableau PAT name")
	if err != nil {
		return tableau.Config{}, err
	}
	secret, err := r.Secret(fs, "pat-secret", "pat-secret-file", "Tableau PAT secret", true)
	if err != nil {
		return tableau.Config{}, err
	}
	if v := stringFlag(fs, "api-version"); v != "" && !apiVersion.MatchString(v) {
		return tableau.Config{}, cli.Usagef("invalid --api-version %q: want a REST API version such as 3.19, or leave it out to negotiate", v)
	}
	if u, err := url.Parse(server); err == nil && strings.EqualFold(u.Scheme, "http") && !loopbackHost(u.Hostname()) {
		f.warnOnce.Do(func() {
			f.Logger().Warn("--server is http://: the PAT secret and the session token cross the network in clear; use https")
		})
	}
	return tableau.Config{
		Server:     server,
		Site:       stringFlag(fs, "site"),
		PATName:    name,
		PATSecret:  secret,
		APIVersion: stringFlag(fs, "api-version"),
		CACertFile: stringFlag(fs, "ca-cert"),
		UserAgent:  "tabhook/" + f.Build.Version,
		Logger:     f.Logger(),
	}, nil
}

// loopbackHost: localhost or a loopback address, where http:// crosses no network.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Tableau resolves the settings and signs in: one session for the whole command.
func (f *Factory) Tableau(ctx context.Context, fs *pflag.FlagSet) (*tableau.Client, error) {
	cfg, err := f.TableauSettings(fs)
	if err != nil {
		return nil, err
	}
	c, err := tableau.New(cfg)
	if err != nil {
		return nil, &cli.UsageError{Err: err}
	}
	if err := c.SignIn(ctx); err != nil {
		if tableau.IsCredentialsRejected(err) {
			return nil, fmt.Errorf("%w; check the PAT name and secret, the site (%q), and that the token is neither expired nor revoked", err, cfg.Site)
		}
		return nil, err
	}
	return c, nil
}
