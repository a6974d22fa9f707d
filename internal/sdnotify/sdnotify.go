// Package sdnotify tells systemd about the service's state (Type=notify): READY=1 once
// the relay serves and its webhooks exist, STOPPING=1 when it shuts down.
package sdnotify

import (
	"net"
	"strings"
)

// Notify sends state to the socket systemd named in NOTIFY_SOCKET; it does nothing when
// that is empty (not started by systemd, or not Type=notify).
func Notify(socket, state string) error {
	if socket == "" {
		return nil
	}
	if strings.HasPrefix(socket, "@") { // abstract namespace
		socket = "\x00" + socket[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
