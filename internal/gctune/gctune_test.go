package gctune

import (
	"context"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct{ live, floor, want int64 }{
		{10 << 20, 64 << 20, 64 << 20},   // a small heap: the floor
		{100 << 20, 64 << 20, 200 << 20}, // a large backlog's index: twice it
		{0, 64 << 20, 64 << 20},
	} {
		if got := Limit(tc.live, tc.floor); got != tc.want {
			t.Errorf("Limit(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// TestFollowSetsTheLimit: Follow sets the process's limit at once, and stops with
// its context.
func TestFollowSetsTheLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	debug.SetMemoryLimit(1 << 40)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Follow(ctx, 123<<20, time.Hour); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) == 1<<40 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < 123<<20 || got == 1<<40 {
		t.Errorf("limit %d, want at least the floor", got)
	}
	cancel()
	<-done
}
