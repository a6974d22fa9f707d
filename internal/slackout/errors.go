package slackout

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// Error is a classified Slack failure.
type Error struct {
	Op         string
	Code       string        // Slack's error string, or "http_503", "network"
	Permanent  bool          // retrying cannot help
	RetryAfter time.Duration // Slack asked to wait this long (429)
	// NoEffect: the call certainly did nothing — Slack answered no (ok:false, 429, 4xx)
	// or the request never left. A post that fails otherwise (timeout, connection lost
	// after sending, 5xx) may have been made: only then is the channel's history read.
	NoEffect bool
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("slack %s: %s", e.Op, e.Code)
	if e.Err != nil && e.Err.Error() != e.Code {
		msg += ": " + e.Err.Error()
	}
	if hint := hints[e.Code]; hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// CredentialsRejected reports a token Slack refuses (exit 4).
func (e *Error) CredentialsRejected() bool {
	switch e.Code {
	case "invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired":
		return true
	}
	return false
}

// WorkspaceRefusal reports a refusal that is about the token, not the event: every
// post would get it, so delivery pauses instead of dead-lettering event after event.
// A missing scope counts when posting itself lacks it (chat:write).
func WorkspaceRefusal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.CredentialsRejected() || (e.Code == "missing_scope" && e.Op == "post message")
}

var permanent = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "invalid_auth": true,
	"token_revoked": true, "account_inactive": true, "missing_scope": true, "no_permission": true,
	"invalid_blocks": true, "msg_too_long": true, "not_authed": true, "token_expired": true,
	"restricted_action": true, "invalid_arguments": true, "no_text": true, "too_many_attachments": true,
	"channel_is_archived": true, "ekm_access_denied": true, "invalid_metadata_format": true,
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true, "thread_not_found": true,
	"users_not_found": true,
}

var hints = map[string]string{
	"channel_not_found": "check the channel name or ID and that the bot can see it",
	"not_in_channel":    "invite the bot to the channel: /invite @your-bot",
	"is_archived":       "the channel is archived; choose another",
	"invalid_auth":      "check the Slack bot token",
	"token_revoked":     "the Slack token was revoked; install the app again and use the new token",
	"missing_scope":     "add the missing scope to the Slack app and reinstall it",
}

// IsPermanent reports whether err cannot be cured by retrying.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// RetryAfter is how long Slack asked to wait, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// NoEffect reports whether a failed call certainly did nothing (see Error.NoEffect).
func NoEffect(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NoEffect
}

// Code is Slack's error string for err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// classify turns slack-go's error types into an Error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var sr slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return &Error{Op: op, Code: "ratelimited", RetryAfter: rl.RetryAfter, NoEffect: true, Err: err}
	case errors.As(err, &sc):
		code := fmt.Sprintf("http_%d", sc.Code)
		// 429 without Retry-After, and 5xx, are worth retrying; other statuses are not.
		// A 5xx may come from a proxy after Slack acted: only 4xx certainly did nothing.
		return &Error{Op: op, Code: code, Permanent: !(sc.Code == http.StatusTooManyRequests || sc.Code >= 500), NoEffect: sc.Code < 500, Err: err}
	case errors.As(err, &sr):
		return &Error{Op: op, Code: sr.Err, Permanent: permanent[sr.Err], NoEffect: true, Err: err}
	}
	// Some slack-go methods report ok:false as a bare errors.New(code).
	if code := err.Error(); permanent[code] || transientCodes[code] {
		return &Error{Op: op, Code: code, Permanent: permanent[code], NoEffect: true, Err: err}
	}
	return &Error{Op: op, Code: "network", NoEffect: neverSent(err), Err: err}
}

// neverSent: the connection was never made, so the request did not reach Slack.
func neverSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

var transientCodes = map[string]bool{"ratelimited": true, "internal_error": true, "fatal_error": true, "service_unavailable": true, "request_timeout": true}
