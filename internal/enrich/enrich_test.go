package enrich

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/tableau"
)

// fakeSource answers lookups from maps, failing the first `failures` calls with err.
type fakeSource struct {
	mu       sync.Mutex
	calls    map[string]int
	failures atomic.Int32
	err      error
	users    map[string]tableau.User
	jobs     []fakeJob
	jobsErr  error
	filter   tableau.JobFilter // the last Jobs call's
}

type fakeJob struct {
	tableau.JobSummary
	job tableau.Job
}

func newFake() *fakeSource {
	return &fakeSource{calls: map[string]int{}, users: map[string]tableau.User{
		"u1": {ID: "u1", Name: "bob", FullName: "Bob Smith", SiteRole: "Creator"},
		"u2": {ID: "u2", Name: "carol", SiteRole: "Viewer"},
	}}
}

func (f *fakeSource) hit(what string) error {
	f.mu.Lock()
	f.calls[what]++
	f.mu.Unlock()
	if f.failures.Add(-1) >= 0 {
		return f.err
	}
	return nil
}

func (f *fakeSource) count(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[what]
}

func (f *fakeSource) Workbook(_ context.Context, id string) (tableau.Workbook, error) {
	if err := f.hit("workbook"); err != nil {
		return tableau.Workbook{}, err
	}
	if id == "personal" {
		return tableau.Workbook{ID: id, Name: "Mine", Location: "PersonalSpace", Owner: tableau.User{ID: "u2"}}, nil
	}
	return tableau.Workbook{ID: id, Name: "Sales", Project: tableau.Ref{Name: "Finance"}, WebpageURL: "https://t/wb", Tags: []string{"q3"}, Owner: tableau.User{ID: "u1"}}, nil
}

func (f *fakeSource) WorkbookPreview(context.Context, string) ([]byte, error) {
	if err := f.hit("preview"); err != nil {
		return nil, err
	}
	return []byte("\x89PNG"), nil
}

func (f *fakeSource) Datasource(_ context.Context, id string) (tableau.Datasource, error) {
	if err := f.hit("datasource"); err != nil {
		return tableau.Datasource{}, err
	}
	return tableau.Datasource{ID: id, Name: "Orders", Project: tableau.Ref{Name: "Ops"}, WebpageURL: "https://t/ds", Owner: tableau.User{ID: "u2", FullName: "Carol Embedded"}}, nil
}

func (f *fakeSource) User(_ context.Context, id string) (tableau.User, error) {
	if err := f.hit("user"); err != nil {
		return tableau.User{}, err
	}
	u, ok := f.users[id]
	if !ok {
		return tableau.User{}, &tableau.APIError{Status: http.StatusNotFound, Code: "404002"}
	}
	return u, nil
}

func (f *fakeSource) Jobs(_ context.Context, flt tableau.JobFilter) ([]tableau.JobSummary, error) {
	if err := f.hit("jobs"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter = flt
	if f.jobsErr != nil {
		return nil, f.jobsErr
	}
	var out []tableau.JobSummary
	for _, j := range f.jobs {
		out = append(out, j.JobSummary)
	}
	return out, nil
}

func (f *fakeSource) Job(_ context.Context, id string) (tableau.Job, error) {
	if err := f.hit("job"); err != nil {
		return tableau.Job{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if j.ID == id {
			return j.job, nil
		}
	}
	return tableau.Job{}, &tableau.APIError{Status: http.StatusNotFound, Code: "404008"}
}

func p(event, luid string) payload.Payload {
	ev, _ := tableau.ParseEvent(event)
	return payload.Payload{Resource: ev.Resource, EventType: event, ResourceName: "from payload", SiteLUID: "s", ResourceLUID: luid, CreatedAt: "t"}
}

// named is p with the name Tableau's payload gives the item.
func named(event, luid, name string) payload.Payload {
	pl := p(event, luid)
	pl.ResourceName = name
	return pl
}

func TestEnrichKinds(t *testing.T) {
	cases := []struct {
		event, luid                           string
		name, project, owner, url, role, degr string
		preview                               bool
	}{
		{"WorkbookUpdated", "w1", "Sales", "Finance", "Bob Smith", "https://t/wb", "", "", true},
		{"WorkbookRefreshFailed", "w1", "Sales", "Finance", "Bob Smith", "https://t/wb", "", "", false},
		{"WorkbookCreated", "personal", "Mine", "Personal Space", "carol", "", "", "", true},
		{"DatasourceRefreshSucceeded", "d1", "Orders", "Ops", "Carol Embedded", "https://t/ds", "", "", false},
		{"AdminPromoted", "u1", "Bob Smith", "", "", "", "Creator", "", false},
		{"UserDeleted", "u1", "from payload", "", "", "", "", "", false},
		{"WorkbookDeleted", "w1", "from payload", "", "", "", "", "", false},
		{"WorkbookTeleported", "w1", "from payload", "", "", "", "", "", false},
		{"AdminDemoted", "nobody", "from payload", "", "", "", "", "Tableau no longer has this item", false},
	}
	for _, tc := range cases {
		t.Run(tc.event+"/"+tc.luid, func(t *testing.T) {
			src := newFake()
			f := New(src, Options{}).Enrich(context.Background(), p(tc.event, tc.luid))
			if f.Name != tc.name || f.Project != tc.project || f.Owner != tc.owner || f.URL != tc.url || f.SiteRole != tc.role || f.Degraded != tc.degr || (len(f.Preview) > 0) != tc.preview {
				t.Errorf("facts = %+v", f)
			}
			if tc.event == "WorkbookDeleted" || tc.event == "UserDeleted" {
				if len(src.calls) != 0 {
					t.Errorf("a deleted resource was looked up: %v", src.calls)
				}
			}
		})
	}
}

func TestEnrichRetriesThenDegrades(t *testing.T) {
	src := newFake()
	src.err = &tableau.APIError{Status: http.StatusServiceUnavailable}
	src.failures.Store(2) // two failures, then success
	e := New(src, Options{Backoff: time.Millisecond})
	f := e.Enrich(context.Background(), named("DatasourceUpdated", "d1", "Orders"))
	if f.Degraded != "" || f.Name != "Orders" || src.count("datasource") != 3 {
		t.Fatalf("after two transient failures: %+v (%d calls)", f, src.count("datasource"))
	}
	src = newFake()
	src.err = errors.New("connection refused")
	src.failures.Store(100)
	f = New(src, Options{Backoff: time.Millisecond, Attempts: 3}).Enrich(context.Background(), p("DatasourceUpdated", "d2"))
	if f.Degraded != "Tableau did not answer" || f.Name != "from payload" || src.count("datasource") != 3 {
		t.Fatalf("down: %+v (%d calls)", f, src.count("datasource"))
	}
	src = newFake()
	src.err = &tableau.APIError{Status: http.StatusForbidden, Code: "403000"}
	src.failures.Store(100)
	f = New(src, Options{Backoff: time.Millisecond}).Enrich(context.Background(), p("DatasourceUpdated", "d3"))
	if f.Degraded != "Tableau refused the lookup" || src.count("datasource") != 1 {
		t.Fatalf("refused: %+v (%d calls, a 403 is not retried)", f, src.count("datasource"))
	}
}

func TestEnrichCachesAndShares(t *testing.T) {
	src := newFake()
	e := New(src, Options{NoPreview: true})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Enrich(context.Background(), named("WorkbookUpdated", "w1", "Sales"))
		}()
	}
	wg.Wait()
	if n := src.count("workbook"); n != 1 {
		t.Errorf("%d workbook lookups for a burst about one workbook", n)
	}
	if n := src.count("user"); n != 1 {
		t.Errorf("%d owner lookups", n)
	}
	if n := src.count("preview"); n != 0 {
		t.Errorf("preview fetched with NoPreview")
	}
	exp := New(src, Options{CacheTTL: time.Millisecond})
	exp.Enrich(context.Background(), named("DatasourceUpdated", "d9", "Orders"))
	time.Sleep(5 * time.Millisecond)
	exp.Enrich(context.Background(), named("DatasourceUpdated", "d9", "Orders"))
	if n := src.count("datasource"); n != 2 {
		t.Errorf("an expired entry was reused: %d lookups", n)
	}
}

// TestRenamedItemIsFetchedAgain: an event naming the item otherwise than the cached
// answer (renamed since) fetches it again — once per name, so a payload that always
// names it differently does not defeat the cache.
func TestRenamedItemIsFetchedAgain(t *testing.T) {
	src := newFake()
	e := New(src, Options{NoPreview: true, CacheTTL: time.Hour})
	e.Enrich(context.Background(), named("DatasourceUpdated", "d1", "Orders"))
	e.Enrich(context.Background(), named("DatasourceUpdated", "d1", "Orders"))
	if n := src.count("datasource"); n != 1 {
		t.Fatalf("%d lookups for the same name, want 1 (cached)", n)
	}
	e.Enrich(context.Background(), named("DatasourceUpdated", "d1", "Orders (renamed)"))
	if n := src.count("datasource"); n != 2 {
		t.Fatalf("%d lookups after a rename, want 2", n)
	}
	e.Enrich(context.Background(), named("DatasourceUpdated", "d1", "Orders (renamed)"))
	if n := src.count("datasource"); n != 2 {
		t.Fatalf("%d lookups: a name Tableau's answer never has fetched again every time", n)
	}
}

func TestEnrichStopsWithContext(t *testing.T) {
	src := newFake()
	src.err = errors.New("timeout")
	src.failures.Store(100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := New(src, Options{Backoff: time.Hour}).Enrich(ctx, p("DatasourceUpdated", "d1"))
	if f.Degraded == "" {
		t.Fatal("a cancelled lookup did not degrade")
	}
}
