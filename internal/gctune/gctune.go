// Package gctune keeps a long-running process's memory near what it needs: a soft
// memory limit that follows the live heap. The relay runs the collector rarely
// (GOGC=300) for intake speed; a fixed limit then either lets idle headroom grow far
// past the live heap (a high limit) or makes the collector run without pause once the
// live heap nears it (a low one: a large backlog's index). The limit here is twice
// the live heap, never under a floor.
package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Limit is the soft memory limit for a live heap: twice it, at least floor.
func Limit(live, floor int64) int64 { return max(floor, 2*live) }

// Follow sets the memory limit from the live heap every interval until ctx ends.
func Follow(ctx context.Context, floor int64, every time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(Limit(int64(sample[0].Value.Uint64()), floor))
		}
	}
	set()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			set()
		case <-ctx.Done():
			return
		}
	}
}
