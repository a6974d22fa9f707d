package spool

import (
	"os"
	"syscall"
)

// fdatasync flushes the data (and the size) without the rest of the inode's metadata.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
