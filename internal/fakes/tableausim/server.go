package tableausim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Server is a simulated Tableau Server with several sites, as a server administrator
// sees one: each site is a *Sim with its own content, webhooks and sessions, and the
// REST calls go to the site their path (or sign-in) names. A personal access token
// holds one session on the whole server, as on Tableau: signing in with it to one site
// ends its session on every other.
type Server struct {
	opts Options

	mu    sync.Mutex
	sites []*Sim         // the first is the Default site (content URL "")
	pats  map[string]PAT // PATs known server-wide (a server administrator's)
}

// NewServer builds a server with the Default site and one site for each content URL.
// Each site has its own LUID and name; its content is seeded from the same recorded
// fixtures (the same item IDs, as if each site had published them).
func NewServer(opts Options, contentURLs ...string) *Server {
	opts.SiteContentURL = ""
	m := &Server{opts: opts, pats: map[string]PAT{}}
	m.sites = append(m.sites, New(opts))
	for _, u := range contentURLs {
		m.AddSite(u)
	}
	return m
}

// AddSite creates a site, as a server administrator would: the server-wide tokens
// may sign in to it.
func (m *Server) AddSite(contentURL string) *Sim {
	o := m.opts
	o.SiteContentURL = contentURL
	s := New(o)
	s.mu.Lock()
	s.site.ID, s.site.Name = newID(), contentURL
	s.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.pats {
		s.AddPAT(p)
	}
	m.sites = append(m.sites, s)
	return s
}

// RemoveSite deletes a site with everything on it.
func (m *Server) RemoveSite(contentURL string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.sites {
		if i > 0 && s.ContentURL() == contentURL {
			m.sites = append(m.sites[:i:i], m.sites[i+1:]...)
			return
		}
	}
}

// Start serves the server on a loopback httptest server (plain HTTP).
func (m *Server) Start() *httptest.Server { return httptest.NewServer(m) }

// Site is the site with this content URL ("" the Default site); nil when none.
func (m *Server) Site(contentURL string) *Sim {
	for _, s := range m.Sites() {
		if s.ContentURL() == contentURL {
			return s
		}
	}
	return nil
}

// Sites are the server's sites, the Default site first.
func (m *Server) Sites() []*Sim {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Sim(nil), m.sites...)
}

// AddPAT registers a server administrator's token: it may sign in to every site.
func (m *Server) AddPAT(p PAT) {
	m.mu.Lock()
	m.pats[p.Name] = p
	m.mu.Unlock()
	for _, s := range m.Sites() {
		s.AddPAT(p)
	}
}

// ServeHTTP sends each call to its site: a sign-in to the site it names (ending the
// token's sessions elsewhere), a site's resource to the site of its LUID, Query Sites
// to the server, the rest (server info, sign-out) to whichever site knows the caller.
func (m *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sites := m.Sites()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "api" && parts[2] == "auth" && parts[3] == "signin":
		m.signIn(w, r)
	case len(parts) == 3 && parts[0] == "api" && parts[2] == "sites" && r.Method == http.MethodGet:
		m.querySites(w, r)
	case len(parts) >= 4 && parts[0] == "api" && parts[2] == "sites":
		for _, s := range sites {
			if s.SiteID() == parts[3] {
				s.ServeHTTP(w, r)
				return
			}
		}
		writeError(w, r, http.StatusNotFound, "404000", "Site Not Found", "The site '"+parts[3]+"' could not be found.")
	default:
		tok := r.Header.Get("X-Tableau-Auth")
		for _, s := range sites {
			if s.hasSession(tok) {
				s.ServeHTTP(w, r)
				return
			}
		}
		sites[0].ServeHTTP(w, r)
	}
}

func (m *Server) signIn(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "400000", "Bad Request", "The sign-in request could not be parsed.")
		return
	}
	var req request
	if strings.Contains(r.Header.Get("Content-Type"), "json") {
		err = json.Unmarshal(body, &req)
	} else {
		err = xml.Unmarshal(body, &req)
	}
	site := m.Sites()[0]
	if err == nil && req.Credentials != nil {
		if s := m.Site(req.Credentials.Site.ContentURL); s != nil {
			site = s
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	site.ServeHTTP(rec, r)
	if rec.status == http.StatusOK && req.Credentials != nil {
		// One session per token on the whole server.
		for _, s := range m.Sites() {
			if s != site {
				s.endPATSession(req.Credentials.PATName)
			}
		}
	}
}

// querySites answers Query Sites to a signed-in caller: every site for a server
// administrator's token, else the caller's own.
func (m *Server) querySites(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get("X-Tableau-Auth")
	var caller *Sim
	var pat string
	sites := m.Sites()
	for _, s := range sites {
		if ss, ok := s.session(tok); ok {
			caller, pat = s, ss.pat
		}
	}
	if caller == nil {
		writeError(w, r, http.StatusUnauthorized, "401002", "Unauthorized Access", "Invalid authentication credentials were provided.")
		return
	}
	m.mu.Lock()
	_, admin := m.pats[pat]
	m.mu.Unlock()
	list := &siteList{}
	for _, s := range sites {
		if admin || s == caller {
			s.mu.Lock()
			list.Site = append(list.Site, s.site)
			s.mu.Unlock()
		}
	}
	n := len(list.Site)
	write(w, r, http.StatusOK, response{Pagination: &pagination{PageNumber: 1, PageSize: 100, TotalAvailable: n}, Sites: list})
}

// ContentURL is the site's content URL ("" for the Default site).
func (s *Sim) ContentURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.site.ContentURL
}

// SetPATSecret changes a token's secret, as revoking it and issuing a new one would:
// its session ends, and signing in with the old secret is refused.
func (s *Sim) SetPATSecret(name, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pats[name]; ok {
		p.Secret = secret
		s.pats[name] = p
	}
	if tok, ok := s.patSessions[name]; ok {
		delete(s.sessions, tok)
		delete(s.patSessions, name)
	}
}

func (s *Sim) endPATSession(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.patSessions[name]; ok {
		delete(s.sessions, tok)
		delete(s.patSessions, name)
	}
}

func (s *Sim) session(tok string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[tok]
	return ss, ok
}

func (s *Sim) hasSession(tok string) bool {
	_, ok := s.session(tok)
	return ok && tok != ""
}
