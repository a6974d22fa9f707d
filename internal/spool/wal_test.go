package spool

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplayAfterCrash: records that reached the intake log but not the index (the
// process died in between) are indexed at the next open; a torn write at the tail is
// dropped; records the index already has are not duplicated.
func TestReplayAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	indexed, _, _ := s.Accept(pl(0), time.Now())
	s.Flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a crashed process leaves: logged records, one already indexed, a torn tail.
	var frames [][]byte
	for i, id := range []uint64{indexed.ID, 7, 8} {
		rec := record{ID: id, Key: pl(i).Key(), Payload: pl(i), State: Pending, ReceivedAt: time.Now()}
		b, _ := json.Marshal(rec)
		frames = append(frames, frame(b))
	}
	torn := frame([]byte(`{"id":9,"key":"x"}`))
	// Two segments: a sealed one, and the one being written when the process died.
	if err := os.WriteFile(segmentPath(dir, 5), append(frames[0], frames[1]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(segmentPath(dir, 7), append(frames[2], torn[:len(torn)-3]...), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	ids, err := s.PendingIDs()
	if err != nil || len(ids) != 3 || ids[1] != 7 || ids[2] != 8 {
		t.Fatalf("pending after replay = %v, %v", ids, err)
	}
	if segs, _ := segments(dir); len(segs) != 1 || segs[0] != 8 {
		t.Errorf("segments after replay = %v, want only the new one, 8", segs)
	}
	// New IDs continue after the replayed ones.
	r, dup, err := s.Accept(pl(5), time.Now())
	if err != nil || dup || r.ID != 9 {
		t.Fatalf("next accept = %+v %v %v", r, dup, err)
	}
	if _, dup, _ := s.Accept(pl(1), time.Now()); !dup {
		t.Error("a replayed event was accepted again")
	}
}

// TestSyncFailureAcknowledgesNothing: when the log cannot be made durable, Accept fails
// (the listener answers 503) and the event is not stored; once the disk recovers, the
// same delivery is stored.
func TestSyncFailureAcknowledgesNothing(t *testing.T) {
	var failing atomic.Bool
	s, err := Open(t.TempDir(), Options{Sync: func(f *os.File) error {
		if failing.Load() {
			return errors.New("input/output error")
		}
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	failing.Store(true)
	if _, _, err := s.Accept(pl(1), time.Now()); err == nil {
		t.Fatal("accepted while the disk fails")
	}
	s.Flush()
	if ids, _ := s.PendingIDs(); len(ids) != 0 {
		t.Fatalf("stored %v while the disk failed", ids)
	}
	failing.Store(false)
	r, dup, err := s.Accept(pl(1), time.Now())
	if err != nil || dup {
		t.Fatalf("after recovery: %+v %v %v", r, dup, err)
	}
}

func TestChangedAfterIndexing(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for len(s.Changed()) > 0 {
		<-s.Changed()
	}
	a, _, _ := s.Accept(pl(3), time.Now())
	select {
	case <-s.Changed():
		// Signalled once readable: a claim finds it.
		recs, err := s.Claim(time.Now(), 10, time.Minute)
		if err != nil || len(recs) != 1 || recs[0].ID != a.ID || recs[0].State != Pending {
			t.Fatalf("claimed %+v %v", recs, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no signal")
	}
}

func TestLogResetOnceIndexed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 100 {
		if _, _, err := s.Accept(pl(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs, _ := segments(dir); len(segs) != 0 {
		t.Errorf("intake segments %v left after a clean close", segs)
	}
	s = open(t, dir)
	defer s.Close()
	if ids, _ := s.PendingIDs(); len(ids) != 100 {
		t.Fatalf("%d pending after reopen", len(ids))
	}
	if _, _, err := s.Accept(pl(1), time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptAfterCloseAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	_ = s.Close()
	if _, _, err := s.Accept(pl(1), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("accept after close: %v", err)
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, _, err := ro.Accept(pl(1), time.Now()); err == nil {
		t.Error("read-only spool accepted")
	}
}

// TestSegmentsRotateAndGoUnderLoad: under sustained intake the log moves on to new
// segments and deletes the indexed ones, instead of growing until a lull.
func TestSegmentsRotateAndGoUnderLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{segmentSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, _, err := s.Accept(pl(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	// The indexer deletes segments just after the records become readable: wait for it.
	var segs []uint64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		segs, _ = segments(dir)
		if len(segs) <= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(segs) > 2 {
		t.Errorf("%d segments kept after everything was indexed: %v", len(segs), segs)
	}
	if segs[len(segs)-1] < 10 {
		t.Errorf("no rotation: segments %v (300 records of ~300 bytes in 4 KiB segments)", segs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	if ids, _ := s.PendingIDs(); len(ids) != 300 {
		t.Fatalf("%d pending after reopen", len(ids))
	}
}

// TestCloseWaitsForAccepts: Close during a slow disk write waits for the Accept under
// way (which succeeds) instead of tearing the log down under it.
func TestCloseWaitsForAccepts(t *testing.T) {
	release := make(chan struct{})
	var slow atomic.Bool
	s, err := Open(t.TempDir(), Options{Sync: func(f *os.File) error {
		if slow.Load() {
			<-release
		}
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	slow.Store(true)
	accepted := make(chan error, 1)
	go func() {
		_, _, err := s.Accept(pl(1), time.Now())
		accepted <- err
	}()
	closed := make(chan error, 1)
	for s.Unindexed() == 0 { // the Accept is in the log's sync
		time.Sleep(time.Millisecond)
	}
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while an Accept was under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-accepted; err != nil {
		t.Fatalf("the Accept under way failed: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Accept(pl(2), time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("accept after close: %v", err)
	}
}

// TestNewSegmentDirectorySyncedBeforeUse: a record acknowledged into a fresh segment is
// durable only once the directory entry naming the segment is; the directory is synced
// after each segment is created and before the first record written to it is synced.
func TestNewSegmentDirectorySyncedBeforeUse(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var order []string // "dir" or a segment's base name, in sync order
	s, err := Open(dir, Options{segmentSize: 2 << 10, Sync: func(f *os.File) error {
		mu.Lock()
		name := filepath.Base(f.Name())
		if f.Name() == dir {
			name = "dir"
		}
		order = append(order, name)
		mu.Unlock()
		return fdatasync(f)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, _, err := s.Accept(pl(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	dirSyncs, segs := 0, 0
	for _, name := range order {
		if name == "dir" {
			dirSyncs++
			continue
		}
		if !seen[name] {
			seen[name] = true
			segs++
			// The segment's entry must have been synced since it was created: at least
			// one directory sync per segment so far.
			if dirSyncs < segs {
				t.Fatalf("%s synced before its directory entry (order %v)", name, order)
			}
		}
	}
	if segs < 3 {
		t.Fatalf("only %d segments used; the test needs rotations", segs)
	}
}
