// Package destination is what the relay knows of a destination besides Slack: the
// Kind each type registers (its settings, checks and Sender), the configuration read
// from the config file and checked at start-up, and how a failed send is classified.
// The types themselves live in the packages under it (teams, pagerduty, webhook),
// listed once in internal/destination/builtin.
package destination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
)

// Type is a kind of destination, as the config file names it: teams, pagerduty,
// webhook — each the Kind its package registers.
type Type string

// Redact is a URL with its query, fragment and user information removed.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}

// Event is one event on its way to a destination.
type Event struct {
	// ID stays the same on every attempt to send the event (the event's identity):
	// what receivers deduplicate on.
	ID    string
	Facts enrich.Facts
}

// Sender sends events to one destination. Send gets one event, or several due
// together when Digests says the destination takes them as one message.
type Sender interface {
	Send(ctx context.Context, events []Event) error
	Digests() bool
}

// Acknowledger is a Sender that can acknowledge an item's open alert — someone is on
// it — as PagerDuty acknowledges an incident (the Acknowledge button of --actions).
type Acknowledger interface {
	Acknowledge(ctx context.Context, site, kind, id string) error
}

// Error is a send that failed, classified for retrying.
type Error struct {
	Destination string
	Status      int           // the HTTP status; 0 when no answer came
	RetryAfter  time.Duration // the destination asked to wait this long (429)
	Permanent   bool          // no retry can succeed: dead-letter the event
	Reason      string        // what went wrong, without secrets
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %s", e.Destination, e.Reason)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Destination, e.Status, e.Reason)
}

// AsError finds the classified error in err.
func AsError(err error) (*Error, bool) {
	var e *Error
	return e, errors.As(err, &e)
}

// FromAnswer classifies an HTTP answer that was not a success: 429 waits for its
// Retry-After; 408 and 5xx are retried with backoff; any other 4xx is permanent (the
// request itself is wrong: a retry would be refused the same way).
func FromAnswer(dest string, status int, header http.Header, body string) *Error {
	e := &Error{Destination: dest, Status: status, Reason: firstLine(body)}
	if e.Reason == "" {
		e.Reason = http.StatusText(status)
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.RetryAfter = retryAfter(header.Get("Retry-After"))
	case status == http.StatusRequestTimeout || status >= 500:
	default:
		e.Permanent = true
	}
	return e
}

// FromNetwork classifies a request that got no answer: retried. The URL (which may
// hold a secret) is not repeated.
func FromNetwork(dest string, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Destination: dest, Reason: "no answer: " + err.Error()}
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 5 * time.Second // a 429 without a usable Retry-After: a short wait
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Post sends a JSON body to url with these extra headers and classifies the outcome:
// nil for any 2xx. The URL (which may hold a secret) appears in no error.
func Post(ctx context.Context, hc *http.Client, dest, url string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Destination: dest, Permanent: true, Reason: "the URL cannot be used"}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return FromNetwork(dest, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return FromAnswer(dest, resp.StatusCode, resp.Header, string(answer))
}

// Client is an HTTP client for a destination: a 15 s timeout unless hc says otherwise,
// and redirects not followed — an answer is the destination's, or a failure.
func Client(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// WithUserAgent is hc (or a default client) whose requests say ua as their
// User-Agent: receivers' logs then name tabhook, not Go's HTTP client.
func WithUserAgent(hc *http.Client, ua string) *http.Client {
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if ua == "" {
		return hc
	}
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = userAgent{base, ua}
	return &c
}

type userAgent struct {
	base http.RoundTripper
	ua   string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.base.RoundTrip(r)
}

// Loopback reports whether a URL's host is this machine: the only place plain http
// is allowed (a local proxy, tests).
func Loopback(u *url.URL) bool {
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
