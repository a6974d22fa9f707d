package tableausim

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

const apiNamespace = "http://tableau.com/api"

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP applies the switches (latency, outage), logs the call and routes it. Half
// of the latency comes before the call takes effect and half after, as on a real
// server: a client that gives up during the second half has changed the site without
// hearing about it (a webhook created, its ID never learned).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency, outage := s.latency, s.outage
	s.mu.Unlock()
	if !wait(r, latency/2) {
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, LoggedRequest{Method: r.Method, Path: r.URL.Path, Status: rec.status, At: time.Now()})
		s.mu.Unlock()
	}()
	if outage {
		writeError(rec, r, http.StatusServiceUnavailable, "503000", "Service Unavailable", "The server is temporarily unavailable (simulated outage).")
		return
	}
	if latency == 0 {
		s.mux.ServeHTTP(rec, r)
		return
	}
	buf := httptest.NewRecorder()
	s.mux.ServeHTTP(buf, r)
	rec.status = buf.Code
	if !wait(r, latency-latency/2) {
		return
	}
	for k, v := range buf.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.Code)
	_, _ = w.Write(buf.Body.Bytes())
}

// wait sleeps for d unless the client goes away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/{v}/serverinfo", s.serverInfo)
	// Tableau answers either spelling; the Python tableauserverclient asks for this one.
	m.HandleFunc("GET /api/{v}/serverInfo", s.serverInfo)
	m.HandleFunc("POST /api/{v}/auth/signin", s.signIn)
	m.HandleFunc("POST /api/{v}/auth/signout", s.signOut)
	site := func(pattern string, h func(http.ResponseWriter, *http.Request, session)) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" /api/{v}/sites/{site}"+path, s.authed(h))
	}
	site("GET ", s.getSite)
	site("GET /webhooks", s.listWebhooks)
	site("POST /webhooks", s.createWebhook)
	site("GET /webhooks/{id}", s.getWebhook)
	site("PUT /webhooks/{id}", s.updateWebhook)
	site("DELETE /webhooks/{id}", s.deleteWebhook)
	site("GET /webhooks/{id}/test", s.testWebhook)
	site("GET /workbooks", s.listWorkbooks)
	site("GET /workbooks/{id}", s.getWorkbook)
	site("GET /workbooks/{id}/previewImage", s.getPreview)
	site("GET /workbooks/{id}/views", s.getWorkbookViews)
	site("GET /views/{id}", s.getView)
	site("POST /workbooks/{id}/refresh", s.refreshNow("workbook"))
	site("GET /datasources/{id}", s.getDatasource)
	site("POST /datasources/{id}/refresh", s.refreshNow("datasource"))
	site("GET /flows/{id}", s.getFlow)
	site("GET /users/{id}", s.getUser)
	site("GET /projects", s.listProjects)
	site("GET /jobs", s.listJobs)
	site("GET /jobs/{id}", s.getJob)
	site("GET /dataQualityWarnings/{kind}/{id}", s.listWarnings)
	site("POST /dataQualityWarnings/{kind}/{id}", s.addWarning)
	site("DELETE /dataQualityWarnings/{id}", s.deleteWarning)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "404003", "Resource Not Found", "Unknown resource '"+r.URL.Path+"' specified in URI.")
	})
	s.mux = m
}

// authed checks the session token and the site in the path.
func (s *Sim) authed(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Tableau-Auth")
		s.mu.Lock()
		ss, ok := s.sessions[tok]
		siteID := s.site.ID
		s.mu.Unlock()
		if !ok || !time.Now().Before(ss.expires) {
			writeError(w, r, http.StatusUnauthorized, "401002", "Unauthorized Access", "Invalid authentication credentials were provided.")
			return
		}
		if r.PathValue("site") != siteID {
			writeError(w, r, http.StatusForbidden, "403000", "Forbidden", "The site in the URI is not the signed-in site.")
			return
		}
		h(w, r, ss)
	}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func write(w http.ResponseWriter, r *http.Request, status int, resp response) {
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	resp.Xmlns = apiNamespace
	w.Header().Set("Content-Type", "application/xml;charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(resp)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, summary, detail string) {
	write(w, r, status, response{Error: &apiError{Code: code, Summary: summary, Detail: detail}})
}

// readRequest decodes an XML or JSON request body.
func readRequest(r *http.Request) (request, error) {
	var req request
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return req, err
	}
	if strings.Contains(r.Header.Get("Content-Type"), "json") {
		err = json.Unmarshal(body, &req)
	} else {
		err = xml.Unmarshal(body, &req)
	}
	return req, err
}

func (s *Sim) serverInfo(w http.ResponseWriter, r *http.Request) {
	si := &serverInfo{RestAPIVersion: s.opts.APIVersion}
	si.ProductVersion.Version = "2025.1.0"
	si.ProductVersion.Build = "20251.25.0101.0000"
	write(w, r, http.StatusOK, response{ServerInfo: si})
}

func (s *Sim) signIn(w http.ResponseWriter, r *http.Request) {
	req, err := readRequest(r)
	if err != nil || req.Credentials == nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The sign-in request could not be parsed.")
		return
	}
	c := req.Credentials
	cr, ok := s.openSession(c.PATName, c.PATSecret, c.Site.ContentURL)
	if !ok {
		writeError(w, r, http.StatusUnauthorized, "401001", "Signin Error", "Error signing in to Tableau Server")
		return
	}
	write(w, r, http.StatusOK, response{Creds: cr})
}

// openSession checks a PAT and opens its one session, ending any older one.
func (s *Sim) openSession(name, secret, contentURL string) (*credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pat, ok := s.pats[name]
	if !ok || pat.Secret != secret || contentURL != s.site.ContentURL {
		return nil, false
	}
	if old, ok := s.patSessions[pat.Name]; ok {
		delete(s.sessions, old)
	}
	tok := newToken()
	s.sessions[tok] = session{pat: pat.Name, userID: pat.UserID, expires: time.Now().Add(s.opts.SessionTTL)}
	s.patSessions[pat.Name] = tok
	s.signIns++
	cr := &credentials{Token: tok}
	cr.Site.ID, cr.Site.ContentURL = s.site.ID, s.site.ContentURL
	cr.User.ID = pat.UserID
	return cr, true
}

func (s *Sim) signOut(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get("X-Tableau-Auth")
	s.mu.Lock()
	ss, ok := s.sessions[tok]
	if ok {
		delete(s.sessions, tok)
		if s.patSessions[ss.pat] == tok {
			delete(s.patSessions, ss.pat)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusUnauthorized, "401002", "Unauthorized Access", "Invalid authentication credentials were provided.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) getSite(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	site := s.site
	s.mu.Unlock()
	write(w, r, http.StatusOK, response{Site: &site})
}

func notFound(w http.ResponseWriter, r *http.Request, code, kind string) {
	writeError(w, r, http.StatusNotFound, code, "Resource Not Found", kind+" '"+r.PathValue("id")+"' could not be found.")
}

func (s *Sim) listWorkbooks(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	list := &workbookList{}
	for _, wb := range s.workbooks {
		c := *wb
		c.Views = nil
		list.Workbook = append(list.Workbook, c)
	}
	s.mu.Unlock()
	n := len(list.Workbook)
	write(w, r, http.StatusOK, response{Pagination: &pagination{PageNumber: 1, PageSize: 100, TotalAvailable: n}, Workbooks: list})
}

func (s *Sim) getWorkbook(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	wb, ok := s.workbooks[r.PathValue("id")]
	var c Workbook
	if ok {
		c = *wb
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404006", "Workbook")
		return
	}
	write(w, r, http.StatusOK, response{Workbook: &c})
}

func (s *Sim) getPreview(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	wb, ok := s.workbooks[r.PathValue("id")]
	var img []byte
	if ok {
		img = wb.Preview
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404006", "Workbook")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(img)
}

func (s *Sim) getWorkbookViews(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	wb, ok := s.workbooks[r.PathValue("id")]
	list := &viewList{}
	if ok && wb.Views != nil {
		list.View = append(list.View, wb.Views.View...)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404006", "Workbook")
		return
	}
	write(w, r, http.StatusOK, response{Views: list})
}

func (s *Sim) getView(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	v, ok := s.views[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404011", "View")
		return
	}
	write(w, r, http.StatusOK, response{View: &v})
}

func (s *Sim) getDatasource(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	d, ok := s.datasources[r.PathValue("id")]
	var c Datasource
	if ok {
		c = *d
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404005", "Datasource")
		return
	}
	write(w, r, http.StatusOK, response{Datasource: &c})
}

func (s *Sim) getFlow(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	f, ok := s.flows[r.PathValue("id")]
	var c Datasource
	if ok {
		c = *f
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404004", "Flow")
		return
	}
	write(w, r, http.StatusOK, response{Flow: &c})
}

func (s *Sim) getUser(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	u, ok := s.users[r.PathValue("id")]
	var c User
	if ok {
		c = *u
	}
	s.mu.Unlock()
	if !ok {
		notFound(w, r, "404002", "User")
		return
	}
	write(w, r, http.StatusOK, response{User: &c})
}

func (s *Sim) listProjects(w http.ResponseWriter, r *http.Request, _ session) {
	s.mu.Lock()
	list := &projectList{Project: append([]projectWire(nil), s.projects...)}
	s.mu.Unlock()
	write(w, r, http.StatusOK, response{Pagination: &pagination{PageNumber: 1, PageSize: 1000, TotalAvailable: len(list.Project)}, Projects: list})
}
