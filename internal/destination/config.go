package destination

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// validName: a destination's name goes into store keys and metric labels.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Setting is one key of a destination type's entry in the config file: a value, or a
// secret given inline or in a file.
type Setting struct {
	Key      string // "url"
	File     string // "url-file": the key naming a file that holds the value; "" none
	What     string // for messages: "the Teams workflow URL"
	Secret   bool   // never repeated in messages
	Required bool
	Default  string // the value when not given
}

// Kind is what a destination type declares of itself — its registration. A package
// under internal/destination/ exports one, and internal/destination/builtin lists it:
// the type's name, its settings, how they are checked, which events it takes, and how
// its Sender is built. Nothing else in the relay knows the type.
type Kind struct {
	Type     Type
	Settings []Setting
	// Address is the setting that says where the destination is, shown without its
	// secrets (Where): "url", "api-url".
	Address string
	// Check refuses values that cannot work (a URL that is not https, a key of the
	// wrong shape): the error begins with the key to fix, e.g. "url: https is
	// required…", and never repeats a secret. Optional.
	Check func(values map[string]string) error
	// Warning is what is worth saying about settings that work but should change
	// ("" when nothing). Optional.
	Warning func(values map[string]string) string
	// Takes reports whether the destination can take an event (its API name), and
	// TakesWhat says which it takes, for the message refusing a route: routes that send
	// such a destination events must list them. Nil: it takes every event.
	Takes     func(event string) bool
	TakesWhat string
	// New builds the Sender of checked settings; hc already names tabhook as its
	// User-Agent.
	New func(c Config, hc *http.Client) (Sender, error)
}

// Config is one destination of the config file, its secrets read and checked.
type Config struct {
	Name   string
	Kind   Kind
	Values map[string]string // by setting key, defaults applied
	// UserAgent is sent with every request (tabhook/<version>); set by the caller.
	UserAgent string
}

// Type is the destination's type.
func (c Config) Type() Type { return c.Kind.Type }

// Value is the setting under key ("" when not set).
func (c Config) Value(key string) string { return c.Values[key] }

// Where is the destination's address without secrets: a URL's query (a Teams
// workflow's sig=) and user information are removed.
func (c Config) Where() string { return Redact(c.Values[c.Kind.Address]) }

// Warning is what is worth saying about a destination that works but should be
// changed, "" when nothing.
func (c Config) Warning() string {
	if c.Kind.Warning == nil {
		return ""
	}
	return c.Kind.Warning(c.Values)
}

// NewSender builds the destination's Sender.
func (c Config) NewSender() (Sender, error) {
	if c.Kind.New == nil {
		return nil, fmt.Errorf("destination %s: type %q cannot send", c.Name, c.Kind.Type)
	}
	return c.Kind.New(c, WithUserAgent(nil, c.UserAgent))
}

// Takes reports whether the destination can take the event.
func (c Config) Takes(event string) bool { return c.Kind.Takes == nil || c.Kind.Takes(event) }

// Registry is the destination types the relay knows, by name.
type Registry struct {
	kinds map[Type]Kind
	order []Type
}

// NewRegistry registers these kinds; a type given twice keeps the last.
func NewRegistry(kinds ...Kind) *Registry {
	r := &Registry{kinds: map[Type]Kind{}}
	for _, k := range kinds {
		if _, ok := r.kinds[k.Type]; !ok {
			r.order = append(r.order, k.Type)
		}
		r.kinds[k.Type] = k
	}
	return r
}

// Kind is the registered kind of a type.
func (r *Registry) Kind(t Type) (Kind, bool) {
	k, ok := r.kinds[t]
	return k, ok
}

// Types lists the registered types in registration order.
func (r *Registry) Types() []Type { return slices.Clone(r.order) }

// Build checks one destination's values (given inline, secrets already read) and
// makes its Config: how tests and tools make a destination without a config file.
func (r *Registry) Build(name string, t Type, values map[string]string) (Config, error) {
	entry := make(map[string]any, len(values)+1)
	for k, v := range values {
		entry[k] = v
	}
	entry["type"] = string(t)
	return r.parseOne(name, entry, func(string) (string, error) { return "", fmt.Errorf("no files here") })
}

// Parse reads the config file's destinations (name → its settings), the secrets from
// their files through readFile. An error names the key to fix.
func (r *Registry) Parse(raw map[string]any, readFile func(path string) (string, error)) ([]Config, error) {
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]Config, 0, len(names))
	for _, name := range names {
		c, err := r.parseOne(name, raw[name], readFile)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (r *Registry) parseOne(name string, raw any, readFile func(string) (string, error)) (Config, error) {
	at := "destinations." + name
	if !validName.MatchString(name) {
		return Config{}, fmt.Errorf("%s: a destination's name is lower-case letters, digits, - and _", at)
	}
	entry, ok := raw.(map[string]any)
	if !ok {
		return Config{}, fmt.Errorf("%s: want a map such as {type: teams, url-file: /path}", at)
	}
	typ, _ := entry["type"].(string)
	kind, ok := r.kinds[Type(typ)]
	if !ok {
		return Config{}, fmt.Errorf("%s.type: unknown type %q (want %s)", at, typ, r.typeList())
	}
	for key := range entry {
		if key != "type" && !slices.ContainsFunc(kind.Settings, func(s Setting) bool { return s.Key == key || s.File == key }) {
			return Config{}, fmt.Errorf("%s.%s: not a setting of a %s destination (%s)", at, key, typ, keysOf(kind.Settings))
		}
	}
	c := Config{Name: name, Kind: kind, Values: map[string]string{}}
	for _, s := range kind.Settings {
		v, err := value(at, entry, s, readFile)
		if err != nil {
			return Config{}, err
		}
		if v == "" {
			v = s.Default
		}
		c.Values[s.Key] = v
	}
	if kind.Check != nil {
		if err := kind.Check(c.Values); err != nil {
			return Config{}, fmt.Errorf("%s.%w", at, err)
		}
	}
	return c, nil
}

// typeList is "teams, pagerduty or webhook".
func (r *Registry) typeList() string {
	names := make([]string, len(r.order))
	for i, t := range r.order {
		names[i] = string(t)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func keysOf(list []Setting) string {
	var keys []string
	for _, s := range list {
		keys = append(keys, s.Key)
		if s.File != "" {
			keys = append(keys, s.File)
		}
	}
	return strings.Join(keys, ", ")
}

// value is a setting given inline, or read from its file; never both.
func value(at string, entry map[string]any, s Setting, readFile func(string) (string, error)) (string, error) {
	inline, hasInline := entry[s.Key]
	file, hasFile := entry[s.File]
	if s.File == "" {
		hasFile = false
	}
	switch {
	case hasInline && hasFile:
		return "", fmt.Errorf("%s: give %s or %s, not both", at, s.Key, s.File)
	case hasFile:
		path, _ := file.(string)
		v, err := readFile(path)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", at, s.File, err)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return "", fmt.Errorf("%s.%s: %s is empty", at, s.File, path)
		}
		return v, nil
	case hasInline:
		v, _ := inline.(string)
		return strings.TrimSpace(v), nil
	case s.Required:
		hint := s.Key
		if s.File != "" {
			hint = s.File + " (or " + s.Key + " inline)"
		}
		return "", fmt.Errorf("%s: missing %s: set %s", at, s.What, hint)
	}
	return "", nil
}

// CheckURL refuses what cannot be sent to: not an http(s) URL, or plain http to
// anywhere but a loopback address. The message never repeats a secret of the URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("not an http(s) URL")
	}
	if u.Scheme == "http" && !Loopback(u) {
		return fmt.Errorf("https is required (plain http only to a loopback address): %s", Redact(raw))
	}
	return nil
}
