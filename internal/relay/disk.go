package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/tabhook/tabhook/internal/diskspace"
)

// DefaultDiskFullPercent is how full the state directory's file system may be before
// /readyz turns: well before the disk is full, so a load balancer or an operator acts
// while events are still accepted.
const DefaultDiskFullPercent = 90

// watchDisk keeps the disk's part of /readyz and the metric true to the present: how
// full the state directory's file system is. Checked every HealthEvery (no signal tells
// of free space). Whether intake refuses is the store's to say (refusals.refusing).
func (r *relay) watchDisk(ctx context.Context) {
	every := orMinute(r.cfg.HealthEvery)
	limit := r.cfg.DiskFullPercent
	if limit <= 0 {
		limit = DefaultDiskFullPercent
	}
	t := time.NewTicker(every)
	defer t.Stop()
	warned := false
	for {
		problem := ""
		u, ok := diskspace.Of(r.cfg.StateDir)
		if ok && r.cfg.Metrics != nil {
			r.cfg.Metrics.DiskUsed(u.UsedPercent() / 100)
		}
		if ok && u.UsedPercent() >= limit {
			problem = fmt.Sprintf("the state directory's disk is %.0f%% full (limit %.0f%%): free space there, or move --state-dir", u.UsedPercent(), limit)
		}
		r.health.Set(CompDisk, problem)
		if problem != "" && !warned {
			r.log.Error("the state directory's disk is filling up", "dir", r.cfg.StateDir, "problem", problem)
		}
		warned = problem != ""
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// releaseEvery is how often the spool's mapped index pages are dropped from the
// relay's resident memory.
const releaseEvery = 10 * time.Second

// releaseMapped drops the index's pages that claims and scans touched from the
// relay's resident memory every releaseEvery (the spool's ReleaseMapped): they are
// read again, from the page cache or the file, when next needed. Without it a backlog
// keeps the index's size resident, file-backed, for as long as it lasts.
func (r *relay) releaseMapped(ctx context.Context) {
	m, ok := r.store.(interface{ ReleaseMapped() })
	if !ok {
		return
	}
	every(ctx, releaseEvery, m.ReleaseMapped)
}
