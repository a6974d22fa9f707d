package tableau

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an error answer from the Tableau REST API.
type APIError struct {
	Op      string // what was attempted, e.g. "create webhook"
	Status  int    // HTTP status
	Code    string // Tableau's error code, e.g. 401001
	Summary string
	Detail  string
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString("tableau error")
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Summary != "" {
		b.WriteString(" ")
		b.WriteString(e.Summary)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	return b.String()
}

// CredentialsRejected reports whether Tableau refused the personal access token (exit 4).
func (e *APIError) CredentialsRejected() bool { return e.Code == "401001" }

// IsCredentialsRejected reports whether err is Tableau refusing the personal access
// token at sign-in (401001), as opposed to an expired session or a network failure.
func IsCredentialsRejected(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == "401001"
}

// IsNotFound reports whether err is a 404 from Tableau.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// IsTemporary reports whether a retry may succeed: network errors, timeouts, 429 and 5xx.
// Any other API answer (4xx) is final.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	var ue *UnsupportedError
	return !errors.As(err, &ue)
}

// UnsupportedError says the server's REST API version is too old for an operation.
type UnsupportedError struct {
	Op      string
	Have    string
	Minimum string
}

// UsageError marks an unsupported version as a configuration problem (exit 2).
func (e *UnsupportedError) UsageError() bool { return true }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s needs REST API %s or later; the server speaks %s (upgrade Tableau Server or pass a newer --api-version)", e.Op, e.Minimum, e.Have)
}
