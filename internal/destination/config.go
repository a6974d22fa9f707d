package destination

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// validName: a destination's name goes into store keys and metric labels.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// setting is one key of a destination's entry: a value, or a secret given inline or
// in a file.
type setting struct {
	key, file string // "url", "url-file"
	what      string // for messages
	secret    bool   // never repeated in messages
	required  bool
}

var settings = map[Type][]setting{
	Teams:     {{key: "url", file: "url-file", what: "the Teams workflow URL (it carries its signature)", secret: true, required: true}},
	PagerDuty: {{key: "routing-key", file: "routing-key-file", what: "the PagerDuty integration's routing key", secret: true, required: true}, {key: "api-url", what: "the Events API host"}},
	Webhook: {{key: "url", file: "url-file", what: "the receiver's https URL", required: true},
		{key: "secret", file: "secret-file", what: "the signing secret (whsec_ and base64)", secret: true, required: true}},
}

// Parse reads the config file's destinations (name → its settings), the secrets from
// their files through readFile. An error names the key to fix.
func Parse(raw map[string]any, readFile func(path string) (string, error)) ([]Config, error) {
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]Config, 0, len(names))
	for _, name := range names {
		c, err := parseOne(name, raw[name], readFile)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseOne(name string, raw any, readFile func(string) (string, error)) (Config, error) {
	at := "destinations." + name
	if !validName.MatchString(name) {
		return Config{}, fmt.Errorf("%s: a destination's name is lower-case letters, digits, - and _", at)
	}
	entry, ok := raw.(map[string]any)
	if !ok {
		return Config{}, fmt.Errorf("%s: want a map such as {type: teams, url-file: /path}", at)
	}
	typ, _ := entry["type"].(string)
	known, ok := settings[Type(typ)]
	if !ok {
		return Config{}, fmt.Errorf("%s.type: unknown type %q (want teams, pagerduty or webhook)", at, typ)
	}
	for key := range entry {
		if key != "type" && !slices.ContainsFunc(known, func(s setting) bool { return s.key == key || s.file == key }) {
			return Config{}, fmt.Errorf("%s.%s: not a setting of a %s destination (%s)", at, key, typ, keysOf(known))
		}
	}
	c := Config{Name: name, Type: Type(typ)}
	values := map[string]string{}
	for _, s := range known {
		v, err := value(at, entry, s, readFile)
		if err != nil {
			return Config{}, err
		}
		values[s.key] = v
	}
	c.URL, c.RoutingKey, c.APIURL, c.Secret = values["url"], values["routing-key"], values["api-url"], values["secret"]
	if c.Type == PagerDuty && c.APIURL == "" {
		c.APIURL = DefaultPagerDutyURL
	}
	return c, check(at, c)
}

func keysOf(list []setting) string {
	var keys []string
	for _, s := range list {
		keys = append(keys, s.key)
		if s.file != "" {
			keys = append(keys, s.file)
		}
	}
	return strings.Join(keys, ", ")
}

// value is a setting given inline, or read from its file; never both.
func value(at string, entry map[string]any, s setting, readFile func(string) (string, error)) (string, error) {
	inline, hasInline := entry[s.key]
	file, hasFile := entry[s.file]
	switch {
	case hasInline && hasFile:
		return "", fmt.Errorf("%s: give %s or %s, not both", at, s.key, s.file)
	case hasFile:
		path, _ := file.(string)
		v, err := readFile(path)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", at, s.file, err)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return "", fmt.Errorf("%s.%s: %s is empty", at, s.file, path)
		}
		return v, nil
	case hasInline:
		v, _ := inline.(string)
		return strings.TrimSpace(v), nil
	case s.required:
		hint := s.key
		if s.file != "" {
			hint = s.file + " (or " + s.key + " inline)"
		}
		return "", fmt.Errorf("%s: missing %s: set %s", at, s.what, hint)
	}
	return "", nil
}

// check refuses what cannot work: a URL that is not https (but on loopback), a
// routing key or secret of the wrong shape. Messages never repeat a secret.
func check(at string, c Config) error {
	switch c.Type {
	case Teams, Webhook:
		key := "url"
		if c.Type == Teams {
			key = "url (or url-file)"
		}
		if err := checkURL(c.URL); err != nil {
			return fmt.Errorf("%s.%s: %w", at, key, err)
		}
	case PagerDuty:
		if err := checkURL(c.APIURL); err != nil {
			return fmt.Errorf("%s.api-url: %w", at, err)
		}
		if len(c.RoutingKey) != 32 {
			return fmt.Errorf("%s.routing-key: not a PagerDuty routing key (32 characters, from the service's Events API v2 integration)", at)
		}
	}
	if c.Type == Webhook {
		if _, err := SecretKey(c.Secret); err != nil {
			return fmt.Errorf("%s.secret: %w", at, err)
		}
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("not an http(s) URL")
	}
	if u.Scheme == "http" && !Loopback(u) {
		return fmt.Errorf("https is required (plain http only to a loopback address): %s", Redact(raw))
	}
	return nil
}

// SecretKey decodes a Standard Webhooks secret: "whsec_" and base64 of 24 to 64 bytes.
func SecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("not a Standard Webhooks secret: want whsec_ and the base64 of 24 to 64 random bytes (make one with: echo whsec_$(openssl rand -base64 32))")
	}
	return key, nil
}
