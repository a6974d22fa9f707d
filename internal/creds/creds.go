// Package creds is the one resolver for every tabhook setting. A value comes from the
// first layer that has it: command-line flag, environment, config file, interactive
// prompt, flag default.
package creds

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Source says which layer a value came from.
type Source int

// Layers, lowest precedence first.
const (
	SourceDefault Source = iota
	SourcePrompt
	SourceConfig
	SourceEnv
	SourceFlag
)

func (s Source) String() string {
	return [...]string{"default", "prompt", "config file", "environment", "flag"}[s]
}

// EnvName is the environment variable read for a flag: the documented Tableau and Slack
// names, else TABHOOK_<FLAG_IN_UPPER_SNAKE_CASE>.
func EnvName(flag string) string {
	switch flag {
	case "server", "site", "pat-name", "pat-secret", "pat-secret-file", "api-version", "ca-cert":
		return "TS_" + snake(flag)
	case "slack-token", "slack-token-file", "slack-channel", "slack-api-url", "slack-signing-secret", "slack-signing-secret-file":
		return snake(flag)
	}
	return "TABHOOK_" + snake(flag)
}

func snake(flag string) string { return strings.ToUpper(strings.ReplaceAll(flag, "-", "_")) }

// never read from the environment or the config file.
func skipped(flag string) bool {
	switch flag {
	case "help", "config", "version":
		return true
	}
	return false
}

// commandLineOnlyAnnotation marks a flag that only the command line may set.
const commandLineOnlyAnnotation = "tabhook/command-line-only"

// MarkCommandLineOnly makes these flags of fs command-line only: no environment
// variable and no config key sets them. It is for flags that select what a command
// touches (the webhooks a delete deletes, the events a retry retries): a relay's exported
// settings or a shared config file must never choose them.
func MarkCommandLineOnly(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil {
			if f.Annotations == nil {
				f.Annotations = map[string][]string{}
			}
			f.Annotations[commandLineOnlyAnnotation] = []string{"true"}
		}
	}
}

// CommandLineOnly reports whether a flag is read from the command line only (no
// environment variable, no config key): one marked so, or one of the flags that are
// so for every command — a destructive confirmation (--yes) is never answered by the
// environment, and a listing's filters (--state, --destination) never narrow it
// silently.
func CommandLineOnly(f *pflag.Flag) bool {
	switch f.Name {
	case "yes", "state", "destination":
		return true
	}
	_, ok := f.Annotations[commandLineOnlyAnnotation]
	return ok
}

// LookupEnv reads one environment variable; os.LookupEnv in production.
type LookupEnv func(string) (string, bool)

// Prompter asks a person for a value. Nil in a Resolver means prompts are not allowed.
type Prompter interface {
	Prompt(label string) (string, error)
	PromptSecret(label string) (string, error)
}

// MissingError says a required value is set nowhere and could not be prompted for.
type MissingError struct {
	Label    string // e.g. "Tableau PAT name"
	Flag     string
	FileFlag string // for a secret: the flag naming a file that holds it
	// CommandLineOnly: this command reads the setting from its command line only.
	CommandLineOnly bool
}

// UsageError marks a missing setting as a configuration problem (exit 2).
func (e *MissingError) UsageError() bool { return true }

func (e *MissingError) Error() string {
	if e.FileFlag != "" {
		// The file form first: a secret on a command line or in the environment is
		// seen by ps, shells' history and child processes.
		return fmt.Sprintf("missing %s: pass --%s (a file holding it), set %s or %s, or set %s in the config file",
			e.Label, e.FileFlag, EnvName(e.FileFlag), EnvName(e.Flag), e.FileFlag)
	}
	if e.CommandLineOnly {
		return fmt.Sprintf("missing %s: pass --%s", e.Label, e.Flag)
	}
	return fmt.Sprintf("missing %s: pass --%s, set %s, or set %s in the config file", e.Label, e.Flag, EnvName(e.Flag), e.Flag)
}

// Resolver applies the layers to a command's flags and answers for required values.
type Resolver struct {
	env        LookupEnv
	config     *viper.Viper
	configPath string // empty when no config file was read
	prompter   Prompter
	sources    map[string]Source
}

// ConflictError is a secret given twice at the same level, inline and as a file.
type ConflictError struct {
	Flags [2]string // the file flag first
	Where string
}

// UsageError marks it as a configuration problem (exit 2).
func (e *ConflictError) UsageError() bool { return true }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("give one of --%s or --%s, not both (both are set %s); prefer the file", e.Flags[0], e.Flags[1], e.Where)
}

// Options for Load.
type Options struct {
	ConfigPath string // from --config; empty: TABHOOK_CONFIG, then the XDG default
	Env        LookupEnv
}

// Load reads the config file. A missing default file is fine; a missing file that was
// named explicitly is an error.
func Load(o Options) (*Resolver, error) {
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	r := &Resolver{env: o.Env, sources: map[string]Source{}, config: viper.New()}
	path, explicit := o.ConfigPath, o.ConfigPath != ""
	if !explicit {
		if p, ok := o.Env("TABHOOK_CONFIG"); ok && p != "" {
			path, explicit = p, true
		} else {
			path = DefaultConfigPath(o.Env)
		}
	}
	if path == "" {
		return r, nil
	}
	r.config.SetConfigFile(path)
	r.config.SetConfigType("yaml")
	if err := r.config.ReadInConfig(); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return r, nil
		}
		return nil, &ConfigError{Path: path, Err: err}
	}
	r.configPath = path
	return r, nil
}

// ConfigError is a config file that cannot be read or parsed.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string { return fmt.Sprintf("config file %s: %v", e.Path, e.Err) }
func (e *ConfigError) Unwrap() error { return e.Err }

// UsageError marks a broken config file as a configuration problem (exit 2).
func (e *ConfigError) UsageError() bool { return true }

// DefaultConfigPath is $XDG_CONFIG_HOME/tabhook/config.yaml (~/.config when unset).
func DefaultConfigPath(env LookupEnv) string {
	if d, ok := env("XDG_CONFIG_HOME"); ok && d != "" {
		return filepath.Join(d, "tabhook", "config.yaml")
	}
	if home, ok := env("HOME"); ok && home != "" {
		return filepath.Join(home, ".config", "tabhook", "config.yaml")
	}
	return ""
}

// DefaultStateDir is $STATE_DIRECTORY (set by systemd's StateDirectory=; its first entry),
// else $XDG_STATE_HOME/tabhook, else ~/.local/state/tabhook.
func DefaultStateDir(env LookupEnv) string {
	if d, ok := env("STATE_DIRECTORY"); ok && d != "" {
		first, _, _ := strings.Cut(d, ":")
		return first
	}
	if d, ok := env("XDG_STATE_HOME"); ok && d != "" {
		return filepath.Join(d, "tabhook")
	}
	if home, ok := env("HOME"); ok && home != "" {
		return filepath.Join(home, ".local", "state", "tabhook")
	}
	return ""
}

// SetPrompter allows prompts through p; nil forbids them.
func (r *Resolver) SetPrompter(p Prompter) { r.prompter = p }

// ConfigPath is the config file that was read, or "".
func (r *Resolver) ConfigPath() string { return r.configPath }

// Config is the parsed config file, for structured settings that have no flag.
func (r *Resolver) Config() *viper.Viper { return r.config }

// Apply fills every flag of fs that was not given on the command line from the
// environment, then the config file. Values so set do not count as "changed", so
// --help still shows the real defaults and never a secret.
func (r *Resolver) Apply(fset *pflag.FlagSet) error {
	var errs []error
	fset.VisitAll(func(f *pflag.Flag) {
		if skipped(f.Name) {
			return
		}
		if f.Changed {
			r.sources[f.Name] = SourceFlag
			return
		}
		if CommandLineOnly(f) {
			return
		}
		if v, ok := r.env(EnvName(f.Name)); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("invalid %s from %s: %w", f.Name, EnvName(f.Name), err))
				return
			}
			r.sources[f.Name] = SourceEnv
			return
		}
		if r.config.IsSet(f.Name) {
			raw := r.config.Get(f.Name)
			if _, section := raw.(map[string]any); section && f.Value.Type() == "bool" {
				// A section of settings turns its feature on: "actions: {allow: […]}"
				// is --actions.
				raw = true
			}
			v, err := configString(raw)
			if err == nil {
				err = f.Value.Set(v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("invalid %s in config file %s: %w", f.Name, r.configPath, err))
				return
			}
			r.sources[f.Name] = SourceConfig
		}
	})
	return errors.Join(errs...)
}

func configString(v any) (string, error) {
	if list, ok := v.([]any); ok {
		parts := make([]string, 0, len(list))
		for _, item := range list {
			s, err := cast.ToStringE(item)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return cast.ToStringE(v)
}

// Source reports where a flag's value came from.
func (r *Resolver) Source(flag string) Source { return r.sources[flag] }

// Require returns a flag's value, prompting when it is set nowhere and prompts are
// allowed, else failing with a MissingError.
func (r *Resolver) Require(fset *pflag.FlagSet, flag, label string) (string, error) {
	if v := value(fset, flag); v != "" {
		return v, nil
	}
	if r.prompter == nil {
		return "", &MissingError{Label: label, Flag: flag, CommandLineOnly: cmdLineOnly(fset, flag)}
	}
	v, err := r.prompter.Prompt(label)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", label, err)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", &MissingError{Label: label, Flag: flag, CommandLineOnly: cmdLineOnly(fset, flag)}
	}
	r.sources[flag] = SourcePrompt
	return v, nil
}

// Secret resolves a secret given directly (flag) or through a file (fileFlag), taking
// whichever was set in the higher layer, and prompts without echo as a last resort.
// required=false returns "" instead of failing.
func (r *Resolver) Secret(fset *pflag.FlagSet, flag, fileFlag, label string, required bool) (string, error) {
	direct, file := value(fset, flag), value(fset, fileFlag)
	if file != "" && direct != "" && r.sources[fileFlag] == r.sources[flag] {
		return "", &ConflictError{Flags: [2]string{fileFlag, flag}, Where: map[Source]string{SourceFlag: "on the command line", SourceEnv: "in the environment", SourceConfig: "in the config file"}[r.sources[flag]]}
	}
	if file != "" && (direct == "" || r.sources[fileFlag] > r.sources[flag]) {
		return ReadSecretFile(file, label)
	}
	if direct != "" {
		return direct, nil
	}
	if !required {
		return "", nil
	}
	if r.prompter == nil {
		return "", &MissingError{Label: label, Flag: flag, FileFlag: fileFlag}
	}
	v, err := r.prompter.PromptSecret(label)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", label, err)
	}
	if v = strings.TrimSpace(v); v == "" {
		return "", &MissingError{Label: label, Flag: flag, FileFlag: fileFlag}
	}
	r.sources[flag] = SourcePrompt
	return v, nil
}

// ReadSecretFile reads a secret from a file, its trailing newline trimmed; label names
// it in errors, which never carry the content.
func ReadSecretFile(path, label string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The path is not secret; the content never appears in errors.
		return "", fmt.Errorf("read %s from file: %w", label, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("read %s from file %s: the file is empty", label, path)
	}
	return s, nil
}

func cmdLineOnly(fset *pflag.FlagSet, name string) bool {
	f := fset.Lookup(name)
	return f != nil && CommandLineOnly(f)
}

func value(fset *pflag.FlagSet, name string) string {
	f := fset.Lookup(name)
	if f == nil {
		return ""
	}
	return f.Value.String()
}
