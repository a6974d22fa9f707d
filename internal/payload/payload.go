// Package payload parses the JSON bodies Tableau posts to webhook destinations.
package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes is the largest body the listener accepts; Tableau's payloads are a few hundred bytes.
const MaxBytes = 64 << 10

// Payload is one webhook delivery.
type Payload struct {
	Resource     string `json:"resource"`
	EventType    string `json:"event_type"`
	ResourceName string `json:"resource_name"`
	SiteLUID     string `json:"site_luid"`
	ResourceLUID string `json:"resource_luid"`
	CreatedAt    string `json:"created_at"`
	Text         string `json:"text,omitempty"` // newer servers
	// Site is the content URL of the site the relay took the delivery for, by the
	// path it came in on ("" the Default site, and a relay of one site) — never
	// read from the body: Tableau does not send it, and a sender could lie.
	Site string `json:"tabhook_site,omitempty"`
}

// Error says why a body is not a usable payload.
type Error struct{ Reason string }

func (e *Error) Error() string { return "invalid payload: " + e.Reason }

// ErrEmpty is an empty body: Tableau's test delivery.
var ErrEmpty = errors.New("empty body")

// Parse decodes and checks a delivery body. It requires event_type, resource_luid and
// site_luid; every other field may be missing. Unknown fields are ignored.
func Parse(body []byte) (Payload, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Payload{}, ErrEmpty
	}
	if len(body) > MaxBytes {
		return Payload{}, &Error{Reason: fmt.Sprintf("body larger than %d bytes", MaxBytes)}
	}
	if !utf8.Valid(body) {
		return Payload{}, &Error{Reason: "body is not UTF-8"}
	}
	var p Payload
	// Unmarshal refuses trailing data after the object as well as broken JSON.
	if err := json.Unmarshal(body, &p); err != nil {
		return Payload{}, &Error{Reason: "malformed JSON: " + err.Error()}
	}
	p.Site = ""
	var missing []string
	for _, f := range []struct{ name, val string }{{"event_type", p.EventType}, {"resource_luid", p.ResourceLUID}, {"site_luid", p.SiteLUID}} {
		if strings.TrimSpace(f.val) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Payload{}, &Error{Reason: "missing " + strings.Join(missing, ", ")}
	}
	return p, nil
}

// Identity names the Tableau event globally: a hash of the site, event type, resource
// and time. No other relay, installation or replica can produce it for a different
// event, so it is what a posted message carries (Slack metadata), what a channel-history
// search matches on, and what other destinations deduplicate by. 32 hex digits.
func (p Payload) Identity() string {
	h := sha256.New()
	for _, s := range []string{p.SiteLUID, p.EventType, p.ResourceLUID, p.CreatedAt} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Key identifies an event for de-duplication: Tableau retries a delivery with an
// identical payload, and the same site, event, resource and time is the same event.
// It starts with the event's time (at most 32 bytes of it) so that keys of new events
// sort after older ones and an index of them grows at one end, then the Identity.
func (p Payload) Key() string {
	prefix := p.CreatedAt
	if len(prefix) > 32 {
		prefix = prefix[:32]
	}
	return prefix + "/" + p.Identity()
}

// IdentityOfKey is the Identity inside a Key.
func IdentityOfKey(key string) string {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}
