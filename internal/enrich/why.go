package enrich

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/tableau"
)

// Failure is what Tableau recorded about a failed extract refresh.
type Failure struct {
	JobID   string
	Error   string // the job's notes, as Tableau wrote them
	Started time.Time
	Ended   time.Time
}

// Took is how long the refresh ran, when both ends are known.
func (f Failure) Took() time.Duration {
	if f.Started.IsZero() || f.Ended.IsZero() || f.Ended.Before(f.Started) {
		return 0
	}
	return f.Ended.Sub(f.Started)
}

// Where to look for a failed event's job: it was created before the refresh ran (a
// queue wait and a long extract can take hours) and ended about when the event was sent.
const (
	jobLookback  = 24 * time.Hour
	jobEndSlack  = 15 * time.Minute
	jobsToVerify = 10
)

// refreshJobTypes are the jobs a refresh event can stand for: full and incremental.
var refreshJobTypes = []string{"refresh_extracts", "increment_extracts"}

// why finds the failed refresh job of f's item and reads its error. Query Jobs is for
// site administrators: without the right, the message goes out without the reason and
// says so, and the refusal is logged once.
func (e *Enricher) why(ctx context.Context, f *Facts) {
	at, err := time.Parse(time.RFC3339, f.Payload.CreatedAt)
	if err != nil {
		at = time.Now()
	}
	// Cached: the event's records for Slack and its other destinations share one lookup.
	v, err := e.cached(ctx, "failed-job/"+f.Payload.ResourceLUID+"/"+f.Payload.CreatedAt, func(ctx context.Context) (any, error) { return e.findJob(ctx, f, at) })
	switch {
	case tableau.IsForbidden(err):
		f.NoReason = "Tableau's reason is not shown: the token's user may not query jobs (site administrators only)."
		if e.jobsRefused.CompareAndSwap(false, true) {
			e.log.Warn("Tableau refused to list jobs: refresh failures are posted without Tableau's reason; a site administrator's token shows it", "err", err)
		}
	case err != nil:
		f.NoReason = "Tableau's reason is not shown: the job lookup failed (" + degradedReason(err) + ")."
		e.log.Debug("failed refresh job lookup", "resource_luid", f.Payload.ResourceLUID, "err", err)
	case v.(*Failure) == nil:
		f.NoReason = "Tableau's reason is not shown: no failed refresh job of this item was found."
	default:
		f.Failure = v.(*Failure)
	}
}

// findJob lists the failed refresh jobs (full and incremental) around the event,
// closest end first, and confirms the item on each by its ID (Query Job names it)
// until one is the item's. Never by name: an item renamed between two failures would
// have the old job's title match, and the old reason be told again.
func (e *Enricher) findJob(ctx context.Context, f *Facts, at time.Time) (any, error) {
	jobs, err := e.src.Jobs(ctx, tableau.JobFilter{Types: refreshJobTypes, Status: "Failed", CreatedAfter: at.Add(-jobLookback), CreatedBefore: at.Add(jobEndSlack)})
	if err != nil {
		return nil, err
	}
	var near []tableau.JobSummary
	for _, j := range jobs {
		if !j.EndedAt.IsZero() && (j.EndedAt.Before(at.Add(-jobEndSlack)) || j.EndedAt.After(at.Add(jobEndSlack))) {
			continue
		}
		near = append(near, j)
	}
	distance := func(j tableau.JobSummary) float64 {
		if j.EndedAt.IsZero() {
			return math.MaxFloat64
		}
		return math.Abs(float64(j.EndedAt.Sub(at)))
	}
	sort.SliceStable(near, func(i, k int) bool { return distance(near[i]) < distance(near[k]) })
	for i, j := range near {
		if i == jobsToVerify {
			break
		}
		job, err := e.src.Job(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		if job.WorkbookID != f.Payload.ResourceLUID && job.DatasourceID != f.Payload.ResourceLUID {
			continue
		}
		started := job.StartedAt
		if started.IsZero() {
			started = j.StartedAt
		}
		ended := job.CompletedAt
		if ended.IsZero() {
			ended = j.EndedAt
		}
		return &Failure{JobID: job.ID, Error: strings.TrimSpace(job.Notes), Started: started, Ended: ended}, nil
	}
	return (*Failure)(nil), nil
}
