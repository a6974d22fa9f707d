package spool

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tabhook/tabhook/internal/store/storetest"
)

var writeRelease = flag.Bool("write-release", false, "write testdata/release (the state this release leaves) anew")

// releaseDir is the state directory a release's relay left, committed: made by
// `go test ./internal/spool -run TestUpgradeKeepsData -write-release` when a release
// changes what the spool writes, and kept from then on.
const releaseDir = "testdata/release-2026-12"

// TestUpgradeKeepsData: the spool a release left (intake log and index, written by the
// code of that release) opens with today's code, keeps every record and delivers the
// pending ones.
func TestUpgradeKeepsData(t *testing.T) {
	if *writeRelease {
		if err := os.RemoveAll(releaseDir); err != nil {
			t.Fatal(err)
		}
		s := open(t, releaseDir)
		storetest.WriteRelease(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// The disk reserve is made anew where missing: 4 MB of nothing to commit.
		if err := os.Remove(filepath.Join(releaseDir, "reserve")); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(releaseDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("no release state to open: %v", err)
	}
	s := open(t, dir)
	defer s.Close()
	if d := s.Damaged(); len(d) > 0 {
		t.Errorf("the release's state opened as damaged: %v", d)
	}
	storetest.CheckRelease(t, s)
}
