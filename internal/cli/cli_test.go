package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
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

// TestPrintable: what a hostile workbook name could do to a terminal is shown, not done.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"SafariSample":          "SafariSample",
		"Ωmega ✓":               "Ωmega ✓",
		"\x1b[2Jcleared":        `\x1b[2Jcleared`,
		"\x1b]0;owned\x07title": `\x1b]0;owned\x07title`,
		"safe\rEVIL":            `safe\x0dEVIL`,
		"tab\there":             `tab\x09here`,
		"\u202egnp.exe":         `\u202egnp.exe`,
		"c1\u009bcsi":           `c1\x9bcsi`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	tb := NewTable(&b, false, "NAME")
	tb.Row("\x1b[2J")
	if err := tb.Render(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Errorf("a table wrote ESC: %q", b.String())
	}
}
