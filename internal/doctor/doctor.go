// Package doctor checks a whole tabhook set-up and says what to fix: the config file,
// Tableau and the token, Slack and the channel, the certificate, the state directory.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/admin"
	"github.com/tabhook/tabhook/internal/destination"
	"github.com/tabhook/tabhook/internal/diskspace"
	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/tableau"
)

// Result is one check.
type Result struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Setup is what to check. Empty parts are skipped with a note.
type Setup struct {
	ConfigPath    string
	ConfigSecrets bool // the config file holds a secret (pat-secret, slack-token)
	Tableau       *tableau.Client
	// Sites, when set, are the config file's sites: each one's Tableau is checked
	// instead of Tableau alone (its token, its rights).
	Sites       []Site
	Slack       *slackout.Client
	UnknownKeys []string // config file keys no setting reads
	Store       string   // a shared store's URL, when --store is set
	Channel     string
	CertFile    string
	KeyFile     string
	Insecure    bool // --insecure-http: TLS ends at a proxy in front
	PublicURL   string
	StateDir    string
	Now         time.Time
	// The options whose needs are checked: --mention-owner (a Slack scope) and
	// --quality-warnings (REST API 3.9).
	MentionOwner bool
	// ActionsAllow is actions.allow when --actions is on (nil: off): its user groups
	// need the usergroups:read scope.
	ActionsAllow    []string
	QualityWarnings bool
	// SettingsErr is what serve or run (Command) would refuse to start with: the
	// same check, run by the same function. Nil when they would start.
	SettingsErr error
	Command     string
	Retention   string // how long history is kept, as the settings say it
	// Routed are the Slack channels the routes post to besides Channel: each is
	// checked as the default one is.
	Routed []string
	// SlackUnused: no channel is named anywhere; every route sends to destinations.
	SlackUnused bool
	// WatchWebhooks, Path: serve --watch-webhooks's prefix, and the listener path the
	// watched webhooks point at (with PublicURL).
	WatchWebhooks, Path string
	// Destinations are the config file's destinations besides Slack, or the error
	// that reading them gave.
	Destinations    []destination.Config
	DestinationsErr error
	// Resolve looks a host up; default net.DefaultResolver.
	Resolve func(ctx context.Context, host string) ([]string, error)
}

// expiryWarning is how soon a certificate's end must not be.
const expiryWarning = 14 * 24 * time.Hour

// Run performs every check, in the order a person would fix things.
func Run(ctx context.Context, s Setup) []Result {
	if s.Now.IsZero() {
		s.Now = time.Now()
	}
	var out []Result
	out = append(out, configFile(s), settings(s))
	out = append(out, checkTableau(ctx, s)...)
	out = append(out, checkSlack(ctx, s)...)
	out = append(out, destinations(ctx, s)...)
	out = append(out, certificate(s))
	if s.Store != "" {
		out = append(out, sharedStore(ctx, s.Store))
	} else {
		out = append(out, stateDir(s))
	}
	return out
}

// sharedStore checks a PostgreSQL store without changing it.
func sharedStore(ctx context.Context, dsn string) Result {
	const name = "store"
	h, err := pgstore.Check(ctx, dsn, 10*time.Second)
	switch {
	case err != nil:
		return bad(name, err.Error(), "check --store: host, port, database, user and password, and that the server accepts connections from here")
	case h.Version > pgstore.SchemaVersion:
		return bad(name, fmt.Sprintf("%s: schema version %d is newer than this tabhook's (%d)", pgstore.Redact(dsn), h.Version, pgstore.SchemaVersion), "upgrade tabhook on this host")
	case h.Version == 0 && !h.CanCreate:
		return bad(name, pgstore.Redact(dsn)+": no tables yet, and the user may not create them", "GRANT CREATE ON SCHEMA to the user, or create the tables once as an owner by starting tabhook serve with its URL")
	case h.Version == 0:
		return ok(name, pgstore.Redact(dsn)+": reachable; the tables are created at the first start")
	case !h.CanWrite:
		return bad(name, pgstore.Redact(dsn)+": the user may not read and write tabhook_events", "GRANT SELECT, INSERT, UPDATE, DELETE ON tabhook_events to the user")
	}
	return ok(name, fmt.Sprintf("%s: reachable, schema version %d, the user may read and write; replicas on one token share one Tableau session through it", pgstore.Redact(dsn), h.Version))
}

// destinations checks each destination as far as can be done without sending it
// anything: the settings (URL shape, secret present and well-formed were checked when
// they were read) and that its host resolves.
func destinations(ctx context.Context, s Setup) []Result {
	if s.DestinationsErr != nil {
		return []Result{bad("destinations", s.DestinationsErr.Error(), "fix that key of the config file's destinations (README: Destinations beyond Slack)")}
	}
	resolve := s.Resolve
	if resolve == nil {
		resolve = net.DefaultResolver.LookupHost
	}
	var out []Result
	for _, d := range s.Destinations {
		name := "destination " + d.Name
		where := d.Where()
		u, err := url.Parse(where)
		if err != nil {
			out = append(out, bad(name, "unparsable URL", "check its url"))
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = resolve(rctx, u.Hostname())
		cancel()
		if err != nil {
			out = append(out, bad(name, fmt.Sprintf("%s %s: %s does not resolve", d.Type(), where, u.Hostname()), "check the host name, DNS and any proxy"))
			continue
		}
		if w := d.Warning(); w != "" {
			out = append(out, bad(name, fmt.Sprintf("%s %s: %s", d.Type(), where, w), "change its settings as the warning says (it works meanwhile)"))
			continue
		}
		out = append(out, ok(name, fmt.Sprintf("%s %s: settings and secret present, host resolves (nothing sent)", d.Type(), where)))
	}
	return out
}

func ok(check, detail string) Result { return Result{Check: check, OK: true, Detail: detail} }

func bad(check, detail, fix string) Result {
	return Result{Check: check, Detail: detail, Fix: fix}
}

// settings reports whether serve (or run) would start with these settings.
func settings(s Setup) Result {
	if s.Command == "" {
		s.Command = "serve"
	}
	name := s.Command + " settings"
	if s.SettingsErr != nil {
		return bad(name, s.SettingsErr.Error(), fmt.Sprintf("tabhook %s refuses to start with these settings: fix what the message names", s.Command))
	}
	detail := fmt.Sprintf("tabhook %s would start with these settings", s.Command)
	if s.Retention != "" {
		detail += fmt.Sprintf("; history kept %s", s.Retention)
	}
	return ok(name, detail)
}

func configFile(s Setup) Result {
	const name = "config file"
	if s.ConfigPath == "" {
		return ok(name, "none read; settings come from flags and the environment")
	}
	st, err := os.Stat(s.ConfigPath)
	if err != nil {
		return bad(name, err.Error(), "check --config / TABHOOK_CONFIG")
	}
	mode := st.Mode().Perm()
	if len(s.UnknownKeys) > 0 {
		return bad(name, strings.Join(s.UnknownKeys, "; "), "fix or remove those keys: nothing reads them")
	}
	if s.ConfigSecrets && mode&0o004 != 0 {
		return bad(name, fmt.Sprintf("%s holds a secret and is world-readable (mode %04o)", s.ConfigPath, mode),
			fmt.Sprintf("chmod o-r %s, or move the secret to a *-file setting", s.ConfigPath))
	}
	return ok(name, fmt.Sprintf("%s (mode %04o)", s.ConfigPath, mode))
}

// Site is one site of a relay of several, to check.
type Site struct {
	Name    string // as lines name it: its content URL, or Default
	Tableau *tableau.Client
}

func checkTableau(ctx context.Context, s Setup) []Result {
	if len(s.Sites) == 0 {
		return checkSite(ctx, s, "")
	}
	var out []Result
	for _, site := range s.Sites {
		one := s
		one.Tableau = site.Tableau
		out = append(out, checkSite(ctx, one, " (site "+site.Name+")")...)
	}
	return out
}

// checkSite checks one site's Tableau; suffix names the site among several.
func checkSite(ctx context.Context, s Setup, suffix string) []Result {
	out := checkOneSite(ctx, s)
	for i := range out {
		out[i].Check += suffix
	}
	return out
}

func checkOneSite(ctx context.Context, s Setup) []Result {
	if s.Tableau == nil {
		return []Result{bad("tableau", "not configured", "set --server, --pat-name and the PAT secret")}
	}
	info, err := s.Tableau.ServerInfo(ctx)
	if err != nil {
		return []Result{bad("tableau reachable", err.Error(), "check --server, DNS, proxies and --ca-cert")}
	}
	reachable := ok("tableau reachable", fmt.Sprintf("%s: Tableau %s, REST API %s", s.Tableau.Server(), info.ProductVersion, info.RESTAPIVersion))
	out := []Result{reachable}
	if err := s.Tableau.SignIn(ctx); err != nil {
		fix := "check the PAT name, secret and --site; tokens expire after 15 days unused"
		return append(out, bad("tableau token", err.Error(), fix))
	}
	defer func() { _ = s.Tableau.SignOut(context.WithoutCancel(ctx)) }()
	if v := s.Tableau.Version(); v != "" && v != info.RESTAPIVersion {
		// --api-version pinned an older one: say which the relay will speak.
		out[0].Detail += fmt.Sprintf("; tabhook speaks %s (--api-version)", v)
	}
	out = append(out, ok("tableau token", "signed in to site "+s.Tableau.SiteID()))
	out = append(out, webhookRights(ctx, s.Tableau), jobRights(ctx, s.Tableau, s.Now))
	if s.WatchWebhooks != "" {
		out = append(out, watched(ctx, s))
	}
	if s.QualityWarnings {
		out = append(out, qualityWarnings(s.Tableau))
	}
	return out
}

// watched checks the webhooks serve --watch-webhooks watches, as serve will.
func watched(ctx context.Context, s Setup) Result {
	const name = "webhooks watched"
	hooks, err := s.Tableau.ListWebhooks(ctx)
	if err != nil {
		return bad(name, err.Error(), "use a token that may list webhooks")
	}
	v := admin.Watch(hooks, s.WatchWebhooks, s.PublicURL, s.Path)
	if v.Problem != "" {
		return bad(name, v.Problem, "create them (tabhook webhook create), or enable them")
	}
	return ok(name, fmt.Sprintf("%d named %s* point at this relay, enabled", v.Enabled, s.WatchWebhooks))
}

// jobRights checks that the token may list jobs: failure messages name Tableau's
// reason only then.
func jobRights(ctx context.Context, c *tableau.Client, now time.Time) Result {
	const name = "tableau job rights"
	jobs, err := c.Jobs(ctx, tableau.JobFilter{Types: []string{"refresh_extracts"}, Status: "Failed", CreatedAfter: now.Add(-24 * time.Hour)})
	switch {
	case tableau.IsForbidden(err):
		return bad(name, "the token's user may not list jobs: refresh failures are posted without Tableau's reason", "use a site administrator's token")
	case err != nil:
		return bad(name, err.Error(), "check that the server answers Query Jobs")
	}
	return ok(name, fmt.Sprintf("may read jobs: failure messages name Tableau's reason (%d failed refreshes in the last day)", len(jobs)))
}

func qualityWarnings(c *tableau.Client) Result {
	const name = "tableau quality warnings"
	if err := c.QualityWarningsSupported(); err != nil {
		return bad(name, err.Error(), "drop --quality-warnings (quality-warnings in the config file), raise --api-version to 3.9 or more, or upgrade Tableau Server to 2020.2 or later")
	}
	return ok(name, "REST API "+c.Version()+" keeps data quality warnings")
}

// webhookRights checks that the token's user may manage webhooks (site administrators).
func webhookRights(ctx context.Context, c *tableau.Client) Result {
	const name = "tableau webhook rights"
	u, err := c.User(ctx, c.UserID())
	if err == nil && !strings.Contains(u.SiteRole, "Administrator") {
		return bad(name, fmt.Sprintf("%s is %s", u.DisplayName(), u.SiteRole), "use a token of a site or server administrator")
	}
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return bad(name, err.Error(), "use a token of a site administrator on a server with REST API 3.6 or later")
	}
	return ok(name, fmt.Sprintf("%s may manage webhooks; the site has %d", u.DisplayName(), len(hooks)))
}

// required and useful bot scopes.
var (
	needScopes   = []string{"chat:write", "files:write", "channels:read"}
	usefulScopes = []string{"chat:write.public", "groups:read", "channels:history", "groups:history"}
)

func checkSlack(ctx context.Context, s Setup) []Result {
	if s.SlackUnused {
		return []Result{ok("slack", "not used: no channel is named, every route sends to destinations")}
	}
	if s.Slack == nil {
		return []Result{bad("slack", "not configured", "set --slack-token-file (SLACK_TOKEN_FILE) and --slack-channel")}
	}
	auth, err := s.Slack.AuthTest(ctx)
	switch {
	case slackout.Code(err) == "network" || slackout.Code(err) == "http_502" || slackout.Code(err) == "http_503" || slackout.Code(err) == "http_504":
		return []Result{bad("slack reachable", err.Error(), "check --slack-api-url (SLACK_API_URL), DNS, proxies and the firewall: Slack did not answer, so the token could not be checked")}
	case err != nil:
		return []Result{bad("slack token", err.Error(), "check the bot token (xoxb-...) and that the app is installed")}
	}
	out := []Result{ok("slack token", fmt.Sprintf("bot %s in %s", auth.User, auth.Team))}
	out = append(out, scopes(auth.Scopes))
	if s.MentionOwner {
		out = append(out, mentionScope(auth.Scopes))
	}
	if s.ActionsAllow != nil {
		out = append(out, actionsScope(auth.Scopes, s.ActionsAllow))
	}
	if s.Channel == "" {
		out = append(out, bad("slack channel", "no channel set", "set --slack-channel (SLACK_CHANNEL)"))
	} else {
		out = append(out, channel(ctx, s.Slack, auth, "slack channel", s.Channel))
	}
	for _, c := range s.Routed {
		if c != s.Channel {
			out = append(out, channel(ctx, s.Slack, auth, "slack route "+c, c))
		}
	}
	return out
}

// channel checks that the bot can post to a channel, as the relay will.
func channel(ctx context.Context, c *slackout.Client, auth slackout.Auth, name, channel string) Result {
	ch, err := c.CanPost(ctx, auth, channel)
	switch {
	case slackout.Code(err) == "not_in_channel":
		return bad(name, fmt.Sprintf("the bot is not a member of #%s", ch.Name), fmt.Sprintf("in Slack: /invite @%s in #%s", auth.User, ch.Name))
	case err != nil:
		return bad(name, err.Error(), "check the name, or give the channel ID; private channels need the bot invited")
	}
	return ok(name, fmt.Sprintf("#%s (%s), the bot can post", ch.Name, ch.ID))
}

// mentionScope checks the scope --mention-owner needs to find owners by e-mail.
func mentionScope(have []string) Result {
	const name = "slack mentions"
	switch {
	case len(have) == 0:
		return ok(name, "Slack did not report the token's scopes; --mention-owner needs users:read.email")
	case !has(have, "users:read.email"):
		return bad(name, "--mention-owner needs the users:read.email scope, which the token lacks: owners would be named, not mentioned",
			"add users:read.email (and users:read) to the Slack app's bot token scopes and reinstall it")
	}
	return ok(name, "users:read.email present: failure messages mention the owner")
}

// actionsScope checks what --actions needs of the token: usergroups:read when
// actions.allow names user groups (S…), to know who is in them.
func actionsScope(have, allow []string) Result {
	const name = "slack actions"
	groups := 0
	for _, a := range allow {
		if strings.HasPrefix(a, "S") {
			groups++
		}
	}
	owner := has(allow, "owner")
	if owner && len(have) > 0 && !has(have, "users:read.email") {
		return bad(name, "actions.allow lets an item's owner act, but the token lacks the users:read.email scope: owners cannot be found in Slack",
			"add users:read.email (and users:read) to the Slack app's bot token scopes and reinstall it")
	}
	switch {
	case groups == 0:
		return ok(name, fmt.Sprintf("buttons on failed refreshes for %s (no user groups: usergroups:read not needed)", strings.Join(allow, ", ")))
	case len(have) == 0:
		return ok(name, "Slack did not report the token's scopes; user groups in actions.allow need usergroups:read")
	case !has(have, "usergroups:read"):
		return bad(name, "actions.allow names user groups, but the token lacks the usergroups:read scope: their members' clicks would be refused",
			"add usergroups:read to the Slack app's bot token scopes and reinstall it")
	}
	return ok(name, fmt.Sprintf("buttons on failed refreshes for %s; usergroups:read present", strings.Join(allow, ", ")))
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func scopes(have []string) Result {
	const name = "slack scopes"
	if len(have) == 0 {
		return ok(name, "Slack did not report the token's scopes")
	}
	var missing, lacking []string
	for _, s := range needScopes {
		if !has(have, s) {
			missing = append(missing, s)
		}
	}
	for _, s := range usefulScopes {
		if !has(have, s) {
			lacking = append(lacking, s)
		}
	}
	if len(missing) > 0 {
		return bad(name, "missing "+strings.Join(missing, ", "), "add the scopes to the Slack app's bot token and reinstall it")
	}
	if len(lacking) > 0 {
		return ok(name, "required scopes present; without "+strings.Join(lacking, ", ")+" some features degrade (see README)")
	}
	return ok(name, strings.Join(have, ", "))
}

func certificate(s Setup) Result {
	const name = "tls certificate"
	switch {
	case s.CertFile == "" && s.KeyFile == "" && s.Insecure:
		return ok(name, "none: --insecure-http, TLS ends at the proxy in front")
	case s.CertFile == "" && s.KeyFile == "":
		return bad(name, "none configured: serve and run refuse to start without one", "pass --tls-cert and --tls-key, or --insecure-http when a proxy in front terminates TLS")
	}
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return bad(name, err.Error(), "check that --tls-cert and --tls-key are readable PEM files of one key pair")
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return bad(name, err.Error(), "replace the certificate")
	}
	left := leaf.NotAfter.Sub(s.Now)
	if left < expiryWarning {
		detail := fmt.Sprintf("expires %s (in %s)", leaf.NotAfter.Format(time.DateOnly), inWords(left))
		if left <= 0 {
			detail = fmt.Sprintf("expired %s", leaf.NotAfter.Format(time.DateOnly))
		}
		return bad(name, detail, "renew it; tabhook serves the new files without a restart")
	}
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err == nil && leaf.VerifyHostname(u.Hostname()) != nil {
			return bad(name, fmt.Sprintf("not valid for %s (it names %s)", u.Hostname(), strings.Join(names, ", ")), "use a certificate issued for the public URL's host")
		}
	}
	return ok(name, fmt.Sprintf("for %s, valid until %s", strings.Join(names, ", "), leaf.NotAfter.Format(time.DateOnly)))
}

func stateDir(s Setup) Result {
	const name = "state directory"
	if s.StateDir == "" {
		return bad(name, "not set", "set --state-dir, or run under systemd with StateDirectory=")
	}
	// Checked, not created: the relay creates it (or systemd's StateDirectory=).
	st, err := os.Stat(s.StateDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := nearestExisting(s.StateDir)
		f, err := os.CreateTemp(parent, ".doctor-*")
		if err != nil {
			return bad(name, fmt.Sprintf("%s does not exist and cannot be created in %s: %v", filepath.Clean(s.StateDir), parent, err), "create it, writable by the service user, or choose another --state-dir")
		}
		f.Close()
		os.Remove(f.Name())
		return ok(name, filepath.Clean(s.StateDir)+" does not exist yet; the relay creates it at its first start")
	case err != nil:
		return bad(name, err.Error(), "make it readable and writable by the service user")
	case !st.IsDir():
		return bad(name, filepath.Clean(s.StateDir)+" is not a directory", "point --state-dir at a directory")
	}
	f, err := os.CreateTemp(s.StateDir, ".doctor-*")
	if err != nil {
		return bad(name, err.Error(), "make it writable by the service user")
	}
	f.Close()
	os.Remove(f.Name())
	if damaged, _ := filepath.Glob(filepath.Join(s.StateDir, "*"+spool.DamagedSuffix+"*")); len(damaged) > 0 {
		names := make([]string, len(damaged))
		for i, d := range damaged {
			names[i] = filepath.Base(d)
		}
		return bad(name, "damaged state was set aside: "+strings.Join(names, ", "),
			"the relay recovered what it could read and went on; keep the files for inspection, then delete them")
	}
	if u, known := diskspace.Of(s.StateDir); known {
		if pct := u.UsedPercent(); pct >= relayDiskFullPercent {
			return bad(name, fmt.Sprintf("%s: its disk is %.0f%% full", filepath.Clean(s.StateDir), pct),
				"free space on that file system: the relay stops being ready at 90% and refuses new events when it is full")
		}
	}
	return ok(name, filepath.Clean(s.StateDir)+" is writable")
}

// nearestExisting is dir's closest ancestor that exists.
func nearestExisting(dir string) string {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}

// relayDiskFullPercent is the relay's readiness limit (relay.DefaultDiskFullPercent).
const relayDiskFullPercent = 90

// inWords says a duration as a person would: "5 days", "1 day", "7 hours".
func inWords(d time.Duration) string {
	unit := func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	switch {
	case d >= 48*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d >= 2*time.Minute:
		return unit(int(d/time.Minute), "minute")
	}
	return unit(max(int(d/time.Second), 0), "second")
}
