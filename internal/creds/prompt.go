package creds

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// TermPrompter prompts on a terminal: labels go to Out, answers come from In, and
// secrets are read without echo.
type TermPrompter struct {
	In  *os.File
	Out io.Writer
}

// Prompt reads one line.
func (p TermPrompter) Prompt(label string) (string, error) {
	fmt.Fprintf(p.Out, "%s: ", label)
	return readLine(p.In)
}

// PromptSecret reads one line without echoing it. Where the terminal allows (Unix),
// echo is turned off before the label is shown, as ssh's prompt does: what was typed
// ahead is never echoed.
func (p TermPrompter) PromptSecret(label string) (string, error) {
	line, err := readSecret(p.In, p.Out, label+" (input hidden): ")
	fmt.Fprintln(p.Out)
	return line, err
}

// readLine reads up to a newline a byte at a time, without a buffer that would keep
// what follows (a pasted secret after the name) from the next prompt.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	var c [1]byte
	for {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(c[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && b.Len() > 0 {
				return b.String(), nil
			}
			return "", err
		}
	}
}
