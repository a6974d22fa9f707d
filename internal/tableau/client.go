// Package tableau is a client for the parts of the Tableau REST API that tabhook uses:
// personal-access-token sessions, webhooks and the content that events refer to.
package tableau

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// probeVersion is the version used in the serverinfo URL before the server's is known;
// every server that has serverinfo (2.4 and later) answers it.
const probeVersion = "2.4"

// DefaultTimeout bounds each REST call when the caller's HTTP client has none.
const DefaultTimeout = 30 * time.Second

// Config says where and how to connect.
type Config struct {
	Server     string // base URL, e.g. https://tableau.example.com
	Site       string // site content URL; empty for the Default site
	PATName    string
	PATSecret  string
	APIVersion string // empty: negotiated from serverinfo
	CACertFile string // extra CA bundle for the server's TLS
	UserAgent  string
	HTTPClient *http.Client // optional; its Timeout is kept
	Logger     *slog.Logger // optional
	// OnCall, when set, hears about every call: its operation, the HTTP status (0 when
	// no answer came) and how long it took. Metrics hang here.
	OnCall func(op string, status int, d time.Duration)
	// Sessions, when set, shares one session among the processes that use this
	// credential (replicas on one PAT): a personal access token holds one session at a
	// time, and each sign-in would end the others'.
	Sessions SessionShare
	// Token, when set, is the personal access token this client shares with the
	// clients of other sites: their calls take turns (SharedToken).
	Token *SharedToken
}

// Session is a signed-in session, as processes share it.
type Session struct {
	Token   string `json:"token"`
	SiteID  string `json:"site_id"`
	UserID  string `json:"user_id"`
	Version string `json:"version"`
}

// SessionShare keeps the session of a credential for every process that uses it.
// Share runs fn under a lock held across processes for key: fn gets the session
// published last (zero when none) and returns the one to publish.
type SessionShare interface {
	Share(ctx context.Context, key string, fn func(current Session) (Session, error)) error
}

// Client talks to one site with one session. It is safe for concurrent use; when the
// session expires, exactly one goroutine signs in again and the others wait for it.
type Client struct {
	cfg  Config
	base *url.URL
	hc   *http.Client
	log  *slog.Logger

	mu      sync.Mutex // guards everything below and serialises sign-in
	version string
	token   string
	siteID  string
	userID  string
	gen     uint64 // increases with every sign-in
	moved   bool   // the shared token went to another site: not an expiry
}

// New checks cfg and builds a client. It does not contact the server.
func New(cfg Config) (*Client, error) {
	if cfg.Server == "" {
		return nil, errors.New("tableau: no server URL")
	}
	u, err := url.Parse(strings.TrimRight(cfg.Server, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("tableau: server %q is not an http(s) URL", cfg.Server)
	}
	if u.Fragment != "" || strings.Contains(cfg.Server, "/#") {
		return nil, fmt.Errorf("tableau: server %q is a page's address; give the server's base URL, e.g. %s://%s", cfg.Server, u.Scheme, u.Host)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CACertFile != "" {
			pool, err := loadCAs(cfg.CACertFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		hc = &http.Client{Transport: tr, Timeout: DefaultTimeout}
	}
	safe := *hc
	safe.CheckRedirect = sameOrigin
	hc = &safe
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "tabhook"
	}
	return &Client{cfg: cfg, base: u, hc: hc, log: log, version: cfg.APIVersion}, nil
}

// sameOrigin refuses a redirect to another host or from https to plain http: Go's
// default policy would re-send a sign-in (with the PAT secret) after a 307, and the
// session token after a 302, to wherever the redirect points.
func sameOrigin(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) >= 10:
		return errors.New("tableau: stopped after 10 redirects")
	case req.URL.Host != first.Host:
		return fmt.Errorf("tableau: refused a redirect to another host (%s): credentials are sent only to the --server host; check --server", redact(req.URL))
	case first.Scheme == "https" && req.URL.Scheme != "https":
		return fmt.Errorf("tableau: refused a redirect from https to %s: credentials are not sent in clear", redact(req.URL))
	}
	return nil
}

// redact is a URL without its query (which might carry a token).
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Server is the base URL the client talks to.
func (c *Client) Server() string { return c.base.String() }

// Version is the REST API version in use (empty before negotiation).
func (c *Client) Version() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// SiteID is the signed-in site's LUID (empty before sign-in).
func (c *Client) SiteID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.siteID
}

// UserID is the signed-in user's LUID.
func (c *Client) UserID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

// ServerInfo asks the server for its product and REST API versions. It needs no session.
func (c *Client) ServerInfo(ctx context.Context) (ServerInfo, error) {
	var r tsResponse
	if err := c.send(ctx, "get server info", http.MethodGet, "/api/"+probeVersion+"/serverinfo", "", nil, &r); err != nil {
		return ServerInfo{}, err
	}
	if r.ServerInfo == nil {
		return ServerInfo{}, errors.New("get server info: answer has no serverInfo")
	}
	si := r.ServerInfo
	return ServerInfo{ProductVersion: strings.TrimSpace(si.ProductVersion.Version), Build: si.ProductVersion.Build, RESTAPIVersion: strings.TrimSpace(si.RestAPIVersion)}, nil
}

// SignIn negotiates the API version when none was configured and opens the session.
// Signing in again ends the previous session of the same token, so callers sign in once.
func (c *Client) SignIn(ctx context.Context) error {
	release, err := c.turn(ctx)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	defer release()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signInShared(ctx, "")
}

// signInShared signs in — or, with a SessionShare, adopts the session another process
// published, unless it is the one that just failed (failed), and publishes a new one
// when it must sign in: N replicas on one token sign in about once per session.
func (c *Client) signInShared(ctx context.Context, failed string) error {
	if c.cfg.Sessions == nil {
		return c.signInLocked(ctx)
	}
	key := "tableau " + c.base.String() + " site " + c.cfg.Site + " pat " + c.cfg.PATName
	return c.cfg.Sessions.Share(ctx, key, func(cur Session) (Session, error) {
		if cur.Token != "" && cur.Token != failed {
			c.token, c.siteID, c.userID = cur.Token, cur.SiteID, cur.UserID
			if c.version == "" {
				c.version = cur.Version
			}
			c.gen++
			c.log.Debug("using the Tableau session another replica opened", "site_id", c.siteID)
			return cur, nil
		}
		if err := c.signInLocked(ctx); err != nil {
			return Session{}, err
		}
		return Session{Token: c.token, SiteID: c.siteID, UserID: c.userID, Version: c.version}, nil
	})
}

// ShareSessions makes the client share its session through s with the other processes
// on this credential (replicas): set before the first sign-in.
func (c *Client) ShareSessions(s SessionShare) {
	c.mu.Lock()
	c.cfg.Sessions = s
	c.mu.Unlock()
}

// SetPATSecret makes the next sign-in use another secret (a rotated PAT, re-read on
// reload).
func (c *Client) SetPATSecret(secret string) {
	c.mu.Lock()
	c.cfg.PATSecret = secret
	c.mu.Unlock()
}

func (c *Client) signInLocked(ctx context.Context) error {
	if c.version == "" {
		// ServerInfo takes no lock, so asking while holding it is safe and keeps
		// concurrent callers waiting for the one sign-in.
		si, err := c.ServerInfo(ctx)
		if err != nil {
			return fmt.Errorf("negotiate API version: %w", err)
		}
		c.version = si.RESTAPIVersion
	}
	req := tsRequest{Credentials: &xmlSignIn{PATName: c.cfg.PATName, PATSecret: c.cfg.PATSecret}}
	req.Credentials.Site.ContentURL = c.cfg.Site
	var r tsResponse
	if err := c.send(ctx, "sign in", http.MethodPost, "/api/"+c.version+"/auth/signin", "", req, &r); err != nil {
		return err
	}
	if r.Credentials == nil || r.Credentials.Token == "" {
		return errors.New("sign in: answer has no credentials")
	}
	c.token = r.Credentials.Token
	c.siteID = r.Credentials.Site.ID
	c.userID = r.Credentials.User.ID
	c.gen++
	c.moved = false
	c.log.Debug("signed in to Tableau", "server", c.base.Host, "site_id", c.siteID, "api_version", c.version)
	return nil
}

// SignOut ends the session. It is a no-op without one.
func (c *Client) SignOut(ctx context.Context) error {
	release, err := c.turn(ctx)
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	defer release()
	c.mu.Lock()
	token := c.token
	c.token = ""
	version := c.version
	c.mu.Unlock()
	if token == "" || c.cfg.Sessions != nil {
		return nil // a shared session goes on serving the other processes; it expires by itself
	}
	return c.send(ctx, "sign out", http.MethodPost, "/api/"+version+"/auth/signout", token, nil, nil)
}

// reauth signs in again unless another goroutine already did since gen was read.
func (c *Client) reauth(ctx context.Context, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	if c.moved {
		c.log.Debug("signing in to the site again: the shared token served another site meanwhile", "site", c.cfg.Site)
	} else {
		c.log.Info("Tableau session expired; signing in again")
	}
	return c.signInShared(ctx, c.token)
}

func (c *Client) session() (token, version, siteID string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.version, c.siteID, c.gen
}

// call sends a request on the session to a path below /api/{v}/sites/{site}/ and retries
// once after signing in again when the session was rejected.
func (c *Client) call(ctx context.Context, op, method, sitePath string, body any, out any) error {
	return c.callRaw(ctx, op, method, sitePath, body, func(resp *http.Response) error {
		if out == nil {
			return nil
		}
		return decodeXML(op, resp.Body, out)
	})
}

func (c *Client) callRaw(ctx context.Context, op, method, sitePath string, body any, read func(*http.Response) error) error {
	release, err := c.turn(ctx)
	if err != nil {
		return fmt.Errorf("%s: waiting for the shared token: %w", op, err)
	}
	defer release()
	token, version, siteID, gen := c.session()
	if token == "" {
		if err := c.reauth(ctx, gen); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		token, version, siteID, gen = c.session()
	}
	path := sitePathFor(version, siteID, sitePath)
	err = c.sendRaw(ctx, op, method, path, token, body, read)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if err := c.reauth(ctx, gen); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		token, version, siteID, _ = c.session()
		path = sitePathFor(version, siteID, sitePath)
		err = c.sendRaw(ctx, op, method, path, token, body, read)
	}
	return err
}

func sitePathFor(version, siteID, rel string) string {
	if strings.HasPrefix(rel, "/") {
		return "/api/" + version + rel // a server-wide resource (Query Sites)
	}
	p := "/api/" + version + "/sites/" + siteID
	if rel != "" {
		p += "/" + rel
	}
	return p
}

func (c *Client) send(ctx context.Context, op, method, path, token string, body any, out any) error {
	return c.sendRaw(ctx, op, method, path, token, body, func(resp *http.Response) error {
		if out == nil {
			return nil
		}
		return decodeXML(op, resp.Body, out)
	})
}

// sendRaw performs one HTTP exchange. Errors never include the request body, which may
// hold the PAT secret.
func (c *Client) sendRaw(ctx context.Context, op, method, path, token string, body any, read func(*http.Response) error) error {
	var rd io.Reader
	if body != nil {
		b, err := xml.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/xml")
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	if token != "" {
		req.Header.Set("X-Tableau-Auth", token)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if c.cfg.OnCall != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.cfg.OnCall(op, status, time.Since(start))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, scrubURLError(err))
	}
	defer resp.Body.Close()
	c.log.Debug("tableau call", "op", op, "method", method, "path", path, "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode >= 300 {
		return readAPIError(op, resp)
	}
	err = read(resp)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return err
}

// scrubURLError keeps the error's meaning; URLs here hold no secrets, but Go's url.Error
// quotes the whole URL, which is noise in a one-line message.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, ue.URL, ue.Err)
	}
	return err
}

func readAPIError(op string, resp *http.Response) error {
	ae := &APIError{Op: op, Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var r tsResponse
	if xml.Unmarshal(b, &r) == nil && r.Error != nil {
		ae.Code, ae.Summary, ae.Detail = r.Error.Code, strings.TrimSpace(r.Error.Summary), strings.TrimSpace(r.Error.Detail)
	} else {
		ae.Summary = http.StatusText(resp.StatusCode)
	}
	return ae
}

func decodeXML(op string, r io.Reader, out any) error {
	if err := xml.NewDecoder(io.LimitReader(r, 32<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}

// atLeast reports whether API version have is at least want ("3.10" > "3.9").
func atLeast(have, want string) bool {
	hm, hn := splitVersion(have)
	wm, wn := splitVersion(want)
	if hm != wm {
		return hm > wm
	}
	return hn >= wn
}

func splitVersion(v string) (int, int) {
	major, minor, _ := strings.Cut(v, ".")
	a, _ := strconv.Atoi(major)
	b, _ := strconv.Atoi(minor)
	return a, b
}

func (c *Client) require(op, minimum string) error {
	v := c.Version()
	if v != "" && !atLeast(v, minimum) {
		return &UnsupportedError{Op: op, Have: v, Minimum: minimum}
	}
	return nil
}
