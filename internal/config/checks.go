package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
	"github.com/tabhook/tabhook/internal/pgstore"
)

// ListenerPath takes the path from --public-url, else --path.
func ListenerPath(fs *pflag.FlagSet, needPublicURL bool) (path, public string, err error) {
	public = flag(fs, "public-url")
	if public == "" {
		if needPublicURL {
			return "", "", &creds.MissingError{Label: "public URL (the https URL Tableau posts to)", Flag: "public-url"}
		}
		path = flag(fs, "path")
		if path == "" {
			return "", "", cli.Usagef("missing listener path: pass --public-url (the https URL Tableau posts to) or --path, or set TABHOOK_PUBLIC_URL or TABHOOK_PATH")
		}
		return path, "", checkPath(path)
	}
	u, err := url.Parse(public)
	if err != nil || u.Host == "" {
		return "", "", cli.Usagef("invalid --public-url %q: want an https URL such as https://relay.example.com/tableau/8cf0e1d3b6a24c9f", public)
	}
	if u.Scheme != "https" {
		return "", "", cli.Usagef("--public-url %q must be https: Tableau delivers webhooks only to https URLs", public)
	}
	return u.Path, public, checkPath(u.Path)
}

func checkPath(p string) error {
	if p == "" || p == "/" || !strings.HasPrefix(p, "/") {
		return cli.Usagef("the listener path %q must be a path below /, e.g. /tableau/8cf0e1d3b6a24c9f", p)
	}
	switch p {
	case "/healthz", "/readyz":
		return cli.Usagef("the listener path may not be %s: that path reports health", p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-._~", r)) {
			return cli.Usagef("the listener path %q may hold only letters, digits and / - . _ ~", p)
		}
	}
	return nil
}

// GuessablePath reports whether the last segment of the path is too short or too
// plain to keep strangers from posting fake events (deliveries are not signed).
func GuessablePath(p string) bool {
	seg := p[strings.LastIndex(p, "/")+1:]
	if len(seg) < 16 {
		return true
	}
	var letters, digits bool
	for _, r := range seg {
		letters = letters || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digits = digits || (r >= '0' && r <= '9')
	}
	return !(letters && digits)
}

func checkTLS(fs *pflag.FlagSet) error {
	insecure, _ := fs.GetBool("insecure-http")
	cert, key := flag(fs, "tls-cert"), flag(fs, "tls-key")
	switch {
	case insecure && (cert != "" || key != ""):
		return cli.Usagef("--insecure-http and --tls-cert/--tls-key exclude each other")
	case insecure:
		return nil
	case cert == "" && key == "":
		return cli.Usagef("no TLS certificate: Tableau delivers only to https, so pass --tls-cert and --tls-key, or --insecure-http when a proxy in front terminates TLS")
	case cert == "" || key == "":
		return cli.Usagef("--tls-cert and --tls-key go together")
	}
	return nil
}

// ParseSize reads a size such as 1GiB, 500MB, 64KiB or a number of bytes; 0 means no cap.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		factor int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	factor := int64(1)
	for _, u := range units {
		if cut, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(cut), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1GiB, 500MB or 0 for no cap", s)
	}
	return int64(n * float64(factor)), nil
}

// ParseRetention reads a retention such as 7d, 36h or 90m: at least an hour (shorter
// would forget deduplication keys while Tableau may still retry).
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("%q: want a duration of at least an hour, such as 7d, 36h or 90m", s)
	}
	return d, nil
}

// CheckStoreURL accepts postgres:// and postgresql:// URLs.
func CheckStoreURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return cli.Usagef("invalid --store %s: want a PostgreSQL URL such as postgres://tabhook@db.example.com:5432/tabhook, or leave it empty for the embedded spool", pgstore.Redact(raw))
	}
	return nil
}
