//go:build linux || darwin || freebsd || netbsd || openbsd

package creds

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readSecret turns the terminal's echo off (the line discipline still edits the
// line), then shows the label and reads the line, then turns echo back on.
func readSecret(f *os.File, out io.Writer, label string) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return "", fmt.Errorf("turn off the terminal's echo: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return "", fmt.Errorf("turn off the terminal's echo: %w", err)
	}
	defer func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }()
	fmt.Fprint(out, label)
	return readLine(f)
}
