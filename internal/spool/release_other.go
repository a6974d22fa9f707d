//go:build !linux

package spool

import "go.etcd.io/bbolt"

// releaseMapped is Linux's alone (madvise); elsewhere the kernel reclaims the index's
// mapped pages when it needs them.
func releaseMapped(*bbolt.Tx) {}
