package cli

import (
	"errors"
	"fmt"
)

// Exit codes, as the spec fixes them.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitCredentials = 4
)

// UsageError is a bad flag, argument or missing setting: exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit code for a failure already reported (or worth reporting
// with its own message).
type ExitError struct {
	Code int
	Err  error // nil: nothing more to print
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// usageLike is implemented by errors of other packages that mean "fix how you called
// this" (unknown event, missing setting).
type usageLike interface{ UsageError() bool }

// credentialsLike is implemented by errors that mean "your token was rejected".
type credentialsLike interface{ CredentialsRejected() bool }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var cl credentialsLike
	if errors.As(err, &cl) && cl.CredentialsRejected() {
		return ExitCredentials
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ul usageLike
	if errors.As(err, &ul) && ul.UsageError() {
		return ExitUsage
	}
	return ExitFailure
}
