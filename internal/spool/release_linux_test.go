package spool

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tabhook/tabhook/internal/store"
)

// rssFile is this process's file-backed resident memory (KiB).
func rssFile(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseMapped: a scan of the whole index leaves its pages resident in the
// process; ReleaseMapped drops them (they are read again when needed), so a listing of
// a large store does not leave the relay's memory grown by the store's size.
func TestReleaseMapped(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Reserve: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 20000 {
		if _, _, err := s.Accept(pl(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	// Touch every page without releasing them (List releases its own).
	if err := s.view(func(tx *boltTx) error { return scanAll(tx) }); err != nil {
		t.Fatal(err)
	}
	before := rssFile(t)
	s.ReleaseMapped()
	after := rssFile(t)
	if before-after < 4<<10 { // 20,000 records are well over 4 MB of index
		t.Errorf("file-backed RSS %d KiB before, %d after: the index's pages were not released", before, after)
	}
	// Still readable: the pages come back from the file.
	recs, err := s.List(store.ListQuery{Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("list after release: %v %v", recs, err)
	}
}

type boltTx = bolt.Tx

// scanAll reads every record of the index.
func scanAll(tx *bolt.Tx) error {
	return tx.Bucket(bucketEvents).ForEach(func(_, v []byte) error {
		_ = v[len(v)-1]
		return nil
	})
}
