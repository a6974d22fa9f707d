package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

type credErr struct{}

func (credErr) Error() string             { return "rejected" }
func (credErr) CredentialsRejected() bool { return true }

type usageErr struct{}

func (usageErr) Error() string    { return "bad" }
func (usageErr) UsageError() bool { return true }

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{Usagef("bad flag"), 2},
		{fmt.Errorf("wrapped: %w", usageErr{}), 2},
		{fmt.Errorf("wrapped: %w", credErr{}), 4},
		{&ExitError{Code: 1}, 1},
		{&ExitError{Code: 3, Err: errors.New("x")}, 3},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if (&ExitError{Code: 7}).Error() != "exit status 7" {
		t.Error("ExitError message")
	}
}

func TestTable(t *testing.T) {
	var tty, plain bytes.Buffer
	for _, c := range []struct {
		b   *bytes.Buffer
		tty bool
	}{{&tty, true}, {&plain, false}} {
		tb := NewTable(c.b, c.tty, "ID", "NAME")
		tb.Row("1", "a\tb")
		tb.Row("22", "c")
		if err := tb.Render(); err != nil {
			t.Fatal(err)
		}
	}
	if got := tty.String(); got != "ID  NAME\n1   a b\n22  c\n" {
		t.Errorf("terminal table = %q", got)
	}
	if got := plain.String(); got != "1\ta b\n22\tc\n" {
		t.Errorf("plain table = %q", got)
	}
	var empty bytes.Buffer
	if err := NewTable(&empty, true, "ID").Render(); err != nil || empty.Len() != 0 {
		t.Errorf("empty table printed %q", empty.String())
	}
	if CheckFormat("json") != nil || CheckFormat("yaml") == nil {
		t.Error("CheckFormat")
	}
}
