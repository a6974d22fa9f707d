//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package creds

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// readSecret shows the label and reads the line without echo (the console's own way).
func readSecret(f *os.File, out io.Writer, label string) (string, error) {
	fmt.Fprint(out, label)
	b, err := term.ReadPassword(int(f.Fd()))
	return string(b), err
}
