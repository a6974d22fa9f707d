package spool

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

func frameOf(t *testing.T, i int, id uint64) []byte {
	t.Helper()
	b, err := json.Marshal(toDisk(store.Record{ID: id, Key: pl(i).Key(), Payload: pl(i), State: Pending, ReceivedAt: time.Now()}))
	if err != nil {
		t.Fatal(err)
	}
	return frame(b)
}

// TestDamagedLogRecordsSkipped: a record with a valid checksum but bad JSON, and a
// record whose checksum fails, in the middle of a segment: the start succeeds, every
// intact record — those after the damage too — is recovered, the damage is reported,
// and a copy of the segment is kept.
func TestDamagedLogRecordsSkipped(t *testing.T) {
	dir := t.TempDir()
	badJSON := frame([]byte(`{"id":5,"key":`))
	badCRC := frameOf(t, 3, 3)
	badCRC[9] ^= 0xff
	var seg []byte
	for _, f := range [][]byte{frameOf(t, 1, 1), badJSON, frameOf(t, 2, 2), badCRC, frameOf(t, 4, 4)} {
		seg = append(seg, f...)
	}
	if err := os.WriteFile(segmentPath(dir, 1), seg, 0o600); err != nil {
		t.Fatal(err)
	}
	var reported []string
	s, err := Open(dir, Options{OnError: func(err error) { reported = append(reported, err.Error()) }})
	if err != nil {
		t.Fatalf("a damaged intake log stopped the start: %v", err)
	}
	defer s.Close()
	for _, id := range []uint64{1, 2, 4} {
		if _, err := s.Get(id); err != nil {
			t.Errorf("record %d lost: %v", id, err)
		}
	}
	if len(s.Damaged()) != 1 || len(reported) == 0 || !strings.Contains(reported[0], "3 records recovered") {
		t.Errorf("damage not reported: %v %v", s.Damaged(), reported)
	}
	if _, err := os.Stat(segmentPath(dir, 1) + ".damaged"); err != nil {
		t.Errorf("no copy of the damaged segment kept: %v", err)
	}
}

// TestTornTailIsNotDamage: the write a crash cut short is dropped quietly.
func TestTornTailIsNotDamage(t *testing.T) {
	dir := t.TempDir()
	good := frameOf(t, 1, 1)
	torn := frameOf(t, 2, 2)
	if err := os.WriteFile(segmentPath(dir, 1), append(good, torn[:len(torn)-5]...), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	defer s.Close()
	if len(s.Damaged()) != 0 {
		t.Errorf("a torn tail reported as damage: %v", s.Damaged())
	}
	if _, err := s.Get(1); err != nil {
		t.Error(err)
	}
}

// TestDamagedIndexSetAside: an index with garbage over its pages neither panics nor
// fails the start: it is set aside, what can be read is recovered, and the relay
// starts on a fresh index.
// indexed makes a closed spool holding n indexed events and returns its directory,
// its index file and the file's bytes.
func indexed(t *testing.T, n int) (dir, path string, b []byte) {
	t.Helper()
	dir = t.TempDir()
	s := open(t, dir)
	for i := range n {
		if _, _, err := s.Accept(pl(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, b
}

func TestDamagedIndexSetAside(t *testing.T) {
	dir, path, b := indexed(t, 5)
	for i := range b[:8192] { // both meta pages: no valid header is left
		b[i] = 0xa5
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("a damaged index stopped the start: %v", err)
	}
	defer s.Close()
	if d := s.Damaged(); len(d) != 1 || !strings.Contains(d[0], "set aside") {
		t.Fatalf("damage: %v", d)
	}
	matches, _ := filepath.Glob(path + DamagedSuffix + "-*")
	if len(matches) != 1 {
		t.Fatalf("damaged index not kept: %v", matches)
	}
	if _, _, err := s.Accept(pl(9), time.Now()); err != nil {
		t.Fatalf("the fresh index takes no events: %v", err)
	}
}

// TestDamagedPagesDoNotPanic: garbage over the index's data pages (meta intact) makes
// bbolt panic when read; the start recovers instead.
func TestDamagedPagesDoNotPanic(t *testing.T) {
	dir, path, b := indexed(t, 50)
	for i := 8192; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("damaged pages stopped the start: %v", err)
	}
	defer s.Close()
	if len(s.Damaged()) != 1 {
		t.Fatalf("damage not reported: %v", s.Damaged())
	}
}
