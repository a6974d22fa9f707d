package creds

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
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
	line, err := bufio.NewReader(p.In).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return line, nil
}

// PromptSecret reads one line without echoing it.
func (p TermPrompter) PromptSecret(label string) (string, error) {
	fmt.Fprintf(p.Out, "%s (input hidden): ", label)
	b, err := term.ReadPassword(int(p.In.Fd()))
	fmt.Fprintln(p.Out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
