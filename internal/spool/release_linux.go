package spool

import (
	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped drops the index's mapped pages from the process (MADV_DONTNEED): bbolt
// reads through a shared, read-only mapping of the index file, and every page a scan
// touches (a claim, a listing) stays in the process's resident set as file-backed
// memory. Dropping them costs nothing but a later page fault — the data stays in the
// file and, while there is room, in the kernel's page cache — and keeps a listing of
// the whole store from leaving the relay's RSS grown by the store's size. Inside a read
// transaction the mapping cannot move (bbolt remaps under its write lock).
func releaseMapped(tx *bbolt.Tx) {
	info := tx.DB().Info()
	size := uintptr(tx.Size())
	if info == nil || size == 0 {
		return
	}
	// The address is the mapping's, not Go memory: no unsafe.Pointer is needed.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, info.Data, size, unix.MADV_DONTNEED)
}
