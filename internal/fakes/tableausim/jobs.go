package tableausim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tabhook/tabhook/internal/tableau"
)

// DefaultRefreshError is the error text a failed refresh's job carries unless the
// event names one: what SQL Server says to a rotated password, as Tableau records it.
const DefaultRefreshError = "com.tableausoftware.nativeapi.exceptions.DataSourceException: [Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Login failed for user 'tableau_svc'.\nUnable to connect to the server \"sql01.example.com\". Check that the server is running and that you have access privileges to the requested database."

// refreshRun is how long a simulated refresh ran before its outcome.
const refreshRun = 2*time.Minute + 14*time.Second

// simJob is an extract-refresh job a fired refresh event left behind, as Query Jobs
// and Query Job show it.
type simJob struct {
	ID         string
	Status     string // InProgress, Success, Failed
	Created    time.Time
	Started    time.Time
	Ended      time.Time
	Title      string // the item's name
	Kind       string // workbook, datasource
	ResourceID string
	Notes      string
	Type       string // refresh_extracts, increment_extracts
}

// backgroundWire is one entry of Query Jobs.
type backgroundWire struct {
	ID        string `xml:"id,attr" json:"id"`
	Status    string `xml:"status,attr" json:"status"`
	JobType   string `xml:"jobType,attr" json:"jobType"`
	Priority  int    `xml:"priority,attr" json:"priority,string"`
	CreatedAt string `xml:"createdAt,attr" json:"createdAt"`
	StartedAt string `xml:"startedAt,attr,omitempty" json:"startedAt,omitempty"`
	EndedAt   string `xml:"endedAt,attr,omitempty" json:"endedAt,omitempty"`
	Title     string `xml:"title,attr,omitempty" json:"title,omitempty"`
	Subtitle  string `xml:"subtitle,attr,omitempty" json:"subtitle,omitempty"`
}

type backgroundList struct {
	Job []backgroundWire `xml:"backgroundJob" json:"backgroundJob"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (j *simJob) background() backgroundWire {
	sub := "Workbook"
	if j.Kind == "datasource" {
		sub = "Data Source"
	}
	typ := j.Type
	if typ == "" {
		typ = "refresh_extracts"
	}
	return backgroundWire{ID: j.ID, Status: j.Status, JobType: typ, Priority: 50,
		CreatedAt: stamp(j.Created), StartedAt: stamp(j.Started), EndedAt: stamp(j.Ended), Title: j.Title, Subtitle: sub}
}

func (j *simJob) wire() jobWire {
	w := jobWire{ID: j.ID, Type: "RefreshExtract", CreatedAt: stamp(j.Created), StartedAt: stamp(j.Started), CompletedAt: stamp(j.Ended)}
	ref := &Ref{ID: j.ResourceID, Name: j.Title}
	w.Refresh = &refreshWire{Notes: j.Notes}
	if j.Kind == "datasource" {
		w.Refresh.Datasource = ref
	} else {
		w.Refresh.Workbook = ref
	}
	switch j.Status {
	case "Success":
		w.FinishCode, w.Progress = "0", "100"
	case "Failed":
		w.FinishCode, w.Progress = "1", "100"
	default:
		w.Progress = "0"
	}
	return w
}

// recordJob leaves the job a refresh event stands for: Started opens one, the outcome
// ends the open one (or one that started refreshRun before it).
func (s *Sim) recordJob(e tableau.Event, ev Event) {
	if !strings.Contains(e.Name, "Refresh") {
		return
	}
	kind := "workbook"
	if strings.HasPrefix(e.Name, "Datasource") {
		kind = "datasource"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	open := s.running[ev.ResourceLUID]
	switch {
	case strings.HasSuffix(e.Name, "Started"):
		j := &simJob{ID: newID(), Status: "InProgress", Created: ev.CreatedAt.Add(-3 * time.Second), Started: ev.CreatedAt, Title: ev.ResourceName, Kind: kind, ResourceID: ev.ResourceLUID, Type: ev.jobType()}
		s.simJobs[j.ID] = j
		s.running[ev.ResourceLUID] = j
		return
	case open == nil:
		open = &simJob{ID: newID(), Created: ev.CreatedAt.Add(-refreshRun - 3*time.Second), Started: ev.CreatedAt.Add(-refreshRun), Title: ev.ResourceName, Kind: kind, ResourceID: ev.ResourceLUID, Type: ev.jobType()}
		s.simJobs[open.ID] = open
	}
	delete(s.running, ev.ResourceLUID)
	open.Ended, open.Status = ev.CreatedAt, "Success"
	if strings.HasSuffix(e.Name, "Failed") {
		open.Status, open.Notes = "Failed", ev.Notes
		if open.Notes == "" {
			open.Notes = DefaultRefreshError
		}
	}
}

// isAdmin: Query Jobs and data quality warnings on others' content are for site and
// server administrators.
func (s *Sim) isAdmin(ss session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[ss.userID]
	return ok && strings.Contains(u.SiteRole, "Administrator")
}

func forbidden(w http.ResponseWriter, r *http.Request, detail string) {
	writeError(w, r, http.StatusForbidden, "403000", "Forbidden", detail)
}

// listJobs is Query Jobs with the filters tabhook sends (jobType, status, createdAt,
// title); any other filter field is refused as Tableau refuses an unknown one.
func (s *Sim) listJobs(w http.ResponseWriter, r *http.Request, ss session) {
	if !s.isAdmin(ss) {
		forbidden(w, r, "Only site administrators and server administrators can query jobs.")
		return
	}
	match, ok := jobFilter(r.URL.Query().Get("filter"))
	if !ok {
		writeError(w, r, http.StatusBadRequest, "400065", "Bad Request", "The filter expression is not valid.")
		return
	}
	s.mu.Lock()
	var list []backgroundWire
	for _, j := range s.simJobs {
		if b := j.background(); match(b) {
			list = append(list, b)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, k int) bool {
		return list[i].CreatedAt > list[k].CreatedAt || (list[i].CreatedAt == list[k].CreatedAt && list[i].ID < list[k].ID)
	})
	total := len(list)
	if len(list) > 100 {
		list = list[:100]
	}
	write(w, r, http.StatusOK, response{Pagination: &pagination{PageNumber: 1, PageSize: 100, TotalAvailable: total}, Jobs: &backgroundList{Job: list}})
}

// splitFilter splits a filter expression at the commas between its parts, not those
// inside an in:[a,b] list.
func splitFilter(expr string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range expr {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, expr[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, expr[start:])
}

func jobFilter(expr string) (func(backgroundWire) bool, bool) {
	var tests []func(backgroundWire) bool
	for _, part := range splitFilter(expr) {
		if part == "" {
			continue
		}
		field, rest, _ := strings.Cut(part, ":")
		op, value, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, false
		}
		switch {
		case field == "jobType" && op == "eq":
			tests = append(tests, func(b backgroundWire) bool { return b.JobType == value })
		case field == "jobType" && op == "in" && strings.HasPrefix(value, "[") && strings.HasSuffix(value, "]"):
			types := strings.Split(strings.Trim(value, "[]"), ",")
			tests = append(tests, func(b backgroundWire) bool { return slices.Contains(types, b.JobType) })
		case field == "status" && op == "eq":
			tests = append(tests, func(b backgroundWire) bool { return strings.EqualFold(b.Status, value) })
		case field == "title" && op == "eq":
			tests = append(tests, func(b backgroundWire) bool { return b.Title == value })
		case field == "createdAt" && (op == "gte" || op == "lte"):
			at, err := time.Parse(time.RFC3339, value)
			if err != nil {
				return nil, false
			}
			after := op == "gte"
			tests = append(tests, func(b backgroundWire) bool {
				t, _ := time.Parse(time.RFC3339, b.CreatedAt)
				if after {
					return !t.Before(at)
				}
				return !t.After(at)
			})
		default:
			return nil, false
		}
	}
	return func(b backgroundWire) bool {
		for _, t := range tests {
			if !t(b) {
				return false
			}
		}
		return true
	}, true
}

func (s *Sim) getJob(w http.ResponseWriter, r *http.Request, ss session) {
	id := r.PathValue("id")
	s.mu.Lock()
	j, recorded := s.jobs[id]
	sj, fired := s.simJobs[id]
	s.mu.Unlock()
	switch {
	case fired && !s.isAdmin(ss):
		forbidden(w, r, "Only site administrators and server administrators can query jobs.")
	case fired:
		s.mu.Lock()
		jw := sj.wire()
		s.mu.Unlock()
		write(w, r, http.StatusOK, response{Job: &jw})
	case recorded:
		write(w, r, http.StatusOK, response{Job: &j})
	default:
		notFound(w, r, "404008", "Job")
	}
}

// refreshNow is Update Workbook Now and Update Data Source Now: a refresh job is queued
// (202 and the job), unless one is already queued or running for the item, which
// Tableau refuses with 409093 — "Not queuing a duplicate".
func (s *Sim) refreshNow(kind string) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, _ session) {
		id := r.PathValue("id")
		s.mu.Lock()
		var title string
		var ok bool
		if kind == "workbook" {
			var wb *Workbook
			if wb, ok = s.workbooks[id]; ok {
				title = wb.Name
			}
		} else {
			var d *Datasource
			if d, ok = s.datasources[id]; ok {
				title = d.Name
			}
		}
		if !ok {
			s.mu.Unlock()
			if kind == "workbook" {
				notFound(w, r, "404006", "Workbook")
			} else {
				notFound(w, r, "404005", "Datasource")
			}
			return
		}
		if _, busy := s.running[id]; busy {
			s.mu.Unlock()
			writeError(w, r, http.StatusConflict, tableau.AlreadyQueuedCode, "Resource Conflict", "Job for '"+title+"' is already queued. Not queuing a duplicate.")
			return
		}
		now := time.Now().UTC()
		j := &simJob{ID: newID(), Status: "Pending", Created: now, Title: title, Kind: kind, ResourceID: id}
		s.simJobs[j.ID], s.running[id] = j, j
		s.refreshes[id]++
		wire := j.wire()
		wire.Mode = "Asynchronous"
		s.mu.Unlock()
		write(w, r, http.StatusAccepted, response{Job: &wire})
	}
}

// Refreshes is how many refreshes of an item were queued on request.
func (s *Sim) Refreshes(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes[id]
}
