package creds

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: what the test types goes to master, what the
// prompt reads comes from slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestPromptsOnATerminal: a name, then a secret typed right after it — the name's
// read keeps nothing of the secret; the secret is not echoed; echo is back on after.
func TestPromptsOnATerminal(t *testing.T) {
	master, slave := openPTY(t)
	var label bytes.Buffer
	p := TermPrompter{In: slave, Out: &label}
	// Typed ahead, both lines at once, as a paste would.
	if _, err := master.Write([]byte("tabhook-pat\n")); err != nil {
		t.Fatal(err)
	}
	name, err := p.Prompt("Tableau PAT name")
	if err != nil || name != "tabhook-pat" {
		t.Fatalf("name: %q %v", name, err)
	}
	done := make(chan string, 1)
	go func() {
		s, err := p.PromptSecret("Tableau PAT secret")
		if err != nil {
			s = "error: " + err.Error()
		}
		done <- s
	}()
	// The prompt turns echo off before it shows the label: type once it has.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err == nil && tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("echo never turned off")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := master.Write([]byte("s3cr3t-value\n")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "s3cr3t-value" {
		t.Fatalf("secret: %q", got)
	}
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Error("echo was not turned back on")
	}
	// What the terminal showed: the typed name echoed, never the secret.
	_ = master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	shown := make([]byte, 4096)
	n, _ := master.Read(shown)
	if strings.Contains(string(shown[:n]), "s3cr3t") {
		t.Errorf("the secret was echoed: %q", shown[:n])
	}
	if !strings.Contains(label.String(), "Tableau PAT secret (input hidden): ") {
		t.Errorf("label: %q", label.String())
	}
}

// TestPromptReadsOneLine: a prompt reads its line and no more, so the next prompt gets
// the next line (a buffered reader per prompt swallowed it).
func TestPromptReadsOneLine(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, _ = w.Write([]byte("first\nsecond\r\nthird"))
	w.Close()
	p := TermPrompter{In: r, Out: &bytes.Buffer{}}
	for _, want := range []string{"first", "second", "third"} {
		if got, err := p.Prompt("x"); got != want || err != nil {
			t.Errorf("got %q %v, want %q", got, err, want)
		}
	}
}
