//go:build linux || darwin || freebsd

package diskspace

import "syscall"

// Of reads the usage of the file system holding dir; ok is false where it cannot.
func Of(dir string) (u Usage, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Usage{}, false
	}
	bs := uint64(st.Bsize)
	// Bavail: what an unprivileged process may still use.
	return Usage{Total: st.Blocks * bs, Free: st.Bavail * bs}, true
}
