package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tabhook/tabhook/internal/store"
)

// The reserve is a file of zeros kept in the state directory as headroom for the
// index. Acknowledged events reach the intake log first and the index after; when the
// disk fills, the log can take every byte and leave the index unable to grow, so
// acknowledged events could not be indexed, hence not delivered. On ENOSPC the index
// deletes the reserve and goes on in the room it leaves, and intake is refused (503:
// Tableau retries) until the reserve can be made again — once space is freed, or
// delivered events' room is reused — without a restart.

// ReserveName is the reserve file inside the state directory.
const ReserveName = "reserve"

// ErrFull refuses intake while the reserve is released: the disk is full.
var ErrFull = store.ErrFull

// defaultReserve is the reserve's size, at most an eighth of the file system: room
// for the largest index commit (4096 records) several times over.
const defaultReserve = 4 << 20

func reservePath(dir string) string { return filepath.Join(dir, ReserveName) }

// makeReserve writes the reserve file (when missing) and syncs it.
func makeReserve(dir string, size int64) error {
	p := reservePath(dir)
	if st, err := os.Stat(p); err == nil && st.Size() >= size {
		return nil
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// Written, not truncated to size: a sparse file would hold no blocks.
	zeros := make([]byte, 64<<10)
	for left := size; left > 0; left -= int64(len(zeros)) {
		if _, err := f.Write(zeros[:min(int64(len(zeros)), left)]); err != nil {
			f.Close()
			os.Remove(p)
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	return f.Close()
}

// releaseReserve deletes the reserve, giving its room to the index; released is false
// when there was none left to give.
func releaseReserve(dir string) (released bool, err error) {
	err = os.Remove(reservePath(dir))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("release the disk reserve: %w", err)
}

// isNoSpace reports a full disk (or quota).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
