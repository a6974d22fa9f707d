// Package tableausim is an in-process Tableau Server for tests and the demo. It speaks
// the REST API in XML and JSON, serves content seeded from recorded responses of the
// official client's test suite, keeps one session per personal access token, and
// delivers webhook events to their destinations the way Tableau does.
package tableausim

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Options configure a simulator. The zero value is usable.
type Options struct {
	APIVersion     string        // served restApiVersion; default 3.24
	SiteContentURL string        // default "" (the Default site)
	SessionTTL     time.Duration // default 240 min, as on Server
	RetryDelay     time.Duration // between delivery attempts; default 1s
	// DeliveryTLS is the TLS configuration used to reach webhook destinations, e.g.
	// with a test CA in RootCAs. Default: the system roots.
	DeliveryTLS *tls.Config
	// DisableAfter disables a webhook after this many consecutive failed deliveries,
	// recording a statusChangeReason, as Tableau does. 0 never disables.
	DisableAfter int
	// WarningInList answers Add Data Quality Warning with the warning inside a
	// dataQualityWarningList — the shape of the list answers, which the reference
	// Python client also reads — instead of alone.
	WarningInList bool
}

// PAT is a personal access token the simulator accepts.
type PAT struct {
	Name, Secret, UserID string
}

// LoggedRequest is one REST call the simulator answered.
type LoggedRequest struct {
	Method string
	Path   string
	Status int
	At     time.Time
}

type session struct {
	pat     string
	userID  string
	expires time.Time
}

// Sim is a simulated Tableau Server holding one site.
type Sim struct {
	opts   Options
	mux    *http.ServeMux
	client *http.Client // for deliveries

	mu          sync.Mutex
	site        Site
	pats        map[string]PAT
	sessions    map[string]session // token → session
	patSessions map[string]string  // PAT name → its one live token
	signIns     int
	latency     time.Duration
	outage      bool
	log         []LoggedRequest
	webhooks    map[string]*webhook
	order       []string // webhook IDs in creation order
	workbooks   map[string]*Workbook
	views       map[string]View
	datasources map[string]*Datasource
	flows       map[string]*Datasource
	users       map[string]*User
	projects    []projectWire
	jobs        map[string]jobWire  // recorded
	simJobs     map[string]*simJob  // left by fired refresh events
	running     map[string]*simJob  // item ID → its refresh in progress
	refreshes   map[string]int      // item ID → refreshes queued on request (Update … Now)
	warnings    map[string]*warning // data quality warnings by ID
}

// New builds a simulator seeded from the recorded fixtures.
func New(opts Options) *Sim {
	if opts.APIVersion == "" {
		opts.APIVersion = "3.24"
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 240 * time.Minute
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Second
	}
	s := &Sim{
		opts:        opts,
		pats:        map[string]PAT{},
		sessions:    map[string]session{},
		patSessions: map[string]string{},
		webhooks:    map[string]*webhook{},
		workbooks:   map[string]*Workbook{},
		views:       map[string]View{},
		datasources: map[string]*Datasource{},
		flows:       map[string]*Datasource{},
		users:       map[string]*User{},
		jobs:        map[string]jobWire{},
		simJobs:     map[string]*simJob{},
		running:     map[string]*simJob{},
		refreshes:   map[string]int{},
		warnings:    map[string]*warning{},
	}
	s.client = deliveryClient(opts.DeliveryTLS)
	s.seed()
	s.site.ContentURL = opts.SiteContentURL
	s.routes()
	return s
}

// Start serves the simulator on a loopback httptest server (plain HTTP, as tests and the
// demo reach it in-process). Close the returned server when done.
func (s *Sim) Start() *httptest.Server { return httptest.NewServer(s) }

// StartTLS serves the simulator over TLS with httptest's certificate.
func (s *Sim) StartTLS() *httptest.Server { return httptest.NewTLSServer(s) }

// AddPAT registers a personal access token for a user (created when unknown).
func (s *Sim) AddPAT(p PAT) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.UserID == "" {
		p.UserID = adminUserID
	}
	if _, ok := s.users[p.UserID]; !ok {
		s.users[p.UserID] = &User{ID: p.UserID, Name: p.Name, SiteRole: "SiteAdministratorCreator"}
	}
	s.pats[p.Name] = p
}

// SiteID is the LUID of the simulated site.
func (s *Sim) SiteID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.site.ID
}

// SetLatency delays every REST answer (not deliveries) by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// SetOutage makes every REST call answer 503 while on.
func (s *Sim) SetOutage(on bool) {
	s.mu.Lock()
	s.outage = on
	s.mu.Unlock()
}

// ExpireSessions ends every session, as a timeout would: the next call answers 401002.
func (s *Sim) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, ss := range s.sessions {
		ss.expires = time.Time{}
		s.sessions[tok] = ss
	}
}

// SignIns counts successful sign-ins.
func (s *Sim) SignIns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signIns
}

// LiveSessions counts sessions that have not ended or expired.
func (s *Sim) LiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if time.Now().Before(ss.expires) {
			n++
		}
	}
	return n
}

// Requests returns the REST calls answered so far.
func (s *Sim) Requests() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LoggedRequest(nil), s.log...)
}

// CountRequests counts logged calls with the method whose path contains substr.
func (s *Sim) CountRequests(method, substr string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && strings.Contains(r.Path, substr) {
			n++
		}
	}
	return n
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
