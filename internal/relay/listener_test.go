package relay

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

const path = "/tableau/3f9c2d7e8a1b4c60"

type failingIntake struct{}

func (failingIntake) Accept(payload.Payload, time.Time) (store.Record, bool, error) {
	return store.Record{}, false, errors.New("disk full")
}

func newTestHandler(t *testing.T, intake Intake, site string) (http.Handler, *[]Event, *[]uint64) {
	t.Helper()
	var events []Event
	var notified []uint64
	h := NewHandler(HandlerConfig{
		Path: path, SiteID: func() string { return site }, Intake: intake, Health: NewHealth(),
		Notify:  func(id uint64) { notified = append(notified, id) },
		Observe: func(e Event) { events = append(events, e) },
	})
	return h, &events, &notified
}

func openSpool(t *testing.T) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

func fixture(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("../fakes/tableausim/fixtures/payloads", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestListenerRules(t *testing.T) {
	site := "8b2a95d8-52b9-40a4-8712-cd6da771bd1b"
	valid := fixture(t, "payload_workbook_WorkbookCreated.json")
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string // in the body
		stored                   bool
	}{
		{"documented payload", "POST", path, valid, 200, `"accepted"`, true},
		{"datasource payload", "POST", path, fixture(t, "payload_datasource_DatasourceCreated.json"), 200, `"accepted"`, true},
		{"test delivery", "POST", path, "", 200, "test delivery", false},
		{"unknown event relayed", "POST", path, `{"event_type":"WorkbookTeleported","resource":"WORKBOOK","resource_luid":"1","site_luid":"` + site + `","created_at":"x"}`, 200, `"accepted"`, true},
		{"other path", "POST", "/elsewhere", valid, 404, "not found", false},
		{"path prefix", "POST", path + "x", valid, 404, "not found", false},
		{"GET", "GET", path, "", 405, "method not allowed", false},
		{"too large", "POST", path, strings.Repeat(" ", payload.MaxBytes+1), 413, "64 KiB", false},
		{"malformed", "POST", path, `{"event_type":`, 400, "malformed JSON", false},
		{"missing fields", "POST", path, `{"event_type":"WorkbookCreated"}`, 400, "missing resource_luid, site_luid", false},
		{"other site", "POST", path, strings.Replace(valid, site, "00000000-0000-0000-0000-000000000000", 1), 403, "site", false},
		{"healthz", "GET", "/healthz", "", 200, "ok", false},
		{"readyz not ready", "GET", "/readyz", "", 503, `"ready":false`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := openSpool(t)
			h, _, notified := newTestHandler(t, sp, site)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s; want %d with %q", rec.Code, rec.Body, tc.status, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			sp.Flush()
			ids, _ := sp.PendingIDs()
			if (len(ids) == 1) != tc.stored || len(*notified) != len(ids) {
				t.Errorf("stored %d, notified %d; want stored=%v", len(ids), len(*notified), tc.stored)
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestListenerUnknownSiteAcceptsUntilSignedIn(t *testing.T) {
	sp := openSpool(t)
	h, _, _ := newTestHandler(t, sp, "")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(fixture(t, "payload_workbook_WorkbookCreated.json"))))
	if rec.Code != 200 {
		t.Fatalf("site unknown yet: %d %s", rec.Code, rec.Body)
	}
}

func TestListenerStoreFailureIs503(t *testing.T) {
	h, events, notified := newTestHandler(t, failingIntake{}, "")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(fixture(t, "payload_workbook_WorkbookCreated.json"))))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 so Tableau retries", rec.Code)
	}
	if len(*notified) != 0 {
		t.Error("an event that was not stored was scheduled")
	}
	for _, e := range *events {
		if e.Type == EvReceived {
			t.Error("an event that was not stored was reported received")
		}
	}
}

func TestListenerDuplicate(t *testing.T) {
	sp := openSpool(t)
	h, events, notified := newTestHandler(t, sp, "")
	body := fixture(t, "payload_workbook_WorkbookCreated.json")
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		if rec.Code != 200 {
			t.Fatal(rec.Code)
		}
	}
	if len(*notified) != 1 {
		t.Errorf("notified %d times", len(*notified))
	}
	dups := 0
	for _, e := range *events {
		if e.Type == EvDuplicate {
			dups++
		}
	}
	if dups != 2 {
		t.Errorf("%d duplicates reported", dups)
	}
}

// FuzzHandler: no body makes the listener answer 5xx or panic (with a working spool).
func FuzzHandler(f *testing.F) {
	files, _ := filepath.Glob("../fakes/tableausim/fixtures/payloads/*.json")
	if len(files) == 0 {
		f.Fatal("no seed payloads in ../fakes/tableausim/fixtures/payloads")
	}
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte(`{"event_type":"\u0000","resource_luid":"\ud800","site_luid":"s"}`))
	dir := f.TempDir()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer sp.Close()
	h := NewHandler(HandlerConfig{Path: path, SiteID: func() string { return "" }, Intake: sp})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(string(body))))
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

func TestAllowCIDR(t *testing.T) {
	sp := openSpool(t)
	h := NewHandler(HandlerConfig{Path: path, SiteID: func() string { return "" }, Intake: sp, Health: NewHealth(),
		Allow: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::/32")}})
	body := fixture(t, "payload_workbook_WorkbookCreated.json")
	for remote, want := range map[string]int{"10.1.2.3:5555": 200, "[2001:db8::1]:443": 200, "[::ffff:10.1.9.9]:1": 200, "192.0.2.7:5555": 403, "garbage": 403} {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("from %s: %d, want %d", remote, rec.Code, want)
		}
	}
	// Health obeys the allow list too, but stays reachable for local probes.
	for _, tc := range []struct {
		path, remote string
		want         int
	}{
		{"/healthz", "192.0.2.7:1", 403}, {"/readyz", "192.0.2.7:1", 403},
		{"/healthz", "127.0.0.1:1", 200}, {"/healthz", "10.1.2.3:1", 200},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s from %s: %d, want %d", tc.path, tc.remote, rec.Code, tc.want)
		}
	}
}

// TestReadyzTellsStrangersNothing: a failing check's reason (which names the internal
// Tableau URL, the site) never reaches the answer; only the check's name does.
func TestReadyzTellsStrangersNothing(t *testing.T) {
	health := NewHealth()
	health.Set(CompSpool, "")
	health.Set(CompTableau, "sign in: Post https://tableau.internal.example/api/3.19/auth/signin (site 8a3f…): dial tcp 10.0.0.7:443: connection refused")
	h := NewHandler(HandlerConfig{Path: path, Health: health, Intake: openSpool(t)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	body := rec.Body.String()
	if rec.Code != 503 || strings.Contains(body, "tableau.internal") || strings.Contains(body, "10.0.0.7") || !strings.Contains(body, `"failing":["slack","tableau"]`) {
		t.Fatalf("readyz: %d %s", rec.Code, body)
	}
}

// TestDiskFailureIs503: with a spool whose disk fails, the listener answers 503 (so
// Tableau retries) and nothing is stored or acknowledged; once the disk recovers, the
// same delivery is accepted.
func TestDiskFailureIs503(t *testing.T) {
	var failing atomic.Bool
	sp, err := spool.Open(t.TempDir(), spool.Options{Sync: func(f *os.File) error {
		if failing.Load() {
			return errors.New("no space left on device")
		}
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	h, events, _ := newTestHandler(t, sp, "")
	body := fixture(t, "payload_workbook_WorkbookCreated.json")
	post := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		return rec.Code
	}
	failing.Store(true)
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("disk failing: %d", code)
	}
	sp.Flush()
	if ids, _ := sp.PendingIDs(); len(ids) != 0 {
		t.Fatalf("stored %v while the disk failed", ids)
	}
	for _, e := range *events {
		if e.Type == EvReceived {
			t.Fatal("reported received while the disk failed")
		}
	}
	failing.Store(false)
	if code := post(); code != http.StatusOK {
		t.Fatalf("disk back: %d", code)
	}
	sp.Flush()
	if ids, _ := sp.PendingIDs(); len(ids) != 1 {
		t.Fatalf("after recovery stored %v", ids)
	}
}

// TestListenerSeveralSites: each site's deliveries come in on its own path and are
// stored as that site's; a delivery naming another site's LUID on a site's path is
// refused (403, counted as rejected), and a path of no served site is 404.
func TestListenerSeveralSites(t *testing.T) {
	finance, sales := "8b2a95d8-52b9-40a4-8712-cd6da771bd1b", "11111111-2222-3333-4444-555555555555"
	body := fixture(t, "payload_workbook_WorkbookCreated.json") // site_luid is finance's
	sp := openSpool(t)
	var events []Event
	h := NewHandler(HandlerConfig{Intake: sp, Health: NewHealth(), Observe: func(e Event) { events = append(events, e) },
		Sites: []IntakeSite{
			{Name: "finance", Path: path + "/finance", SiteID: func() string { return finance }},
			{Name: "sales", Path: path + "/sales", SiteID: func() string { return sales }},
		}})
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{path + "/finance", 200, `"accepted"`},
		{path + "/sales", 403, "site_luid is not the site of this path (sales)"},
		{path + "/hr", 404, "not found"},
		{path, 404, "not found"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", tc.path, strings.NewReader(body)))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("POST %s: %d %s; want %d with %q", tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
	sp.Flush()
	recs, err := sp.List(store.ListQuery{})
	if err != nil || len(recs) != 1 || recs[0].Payload.Site != "finance" {
		t.Fatalf("stored %+v, %v; want finance's one event", recs, err)
	}
	var rejected, received int
	for _, e := range events {
		switch e.Type {
		case EvRejected:
			rejected++
		case EvReceived:
			received++
			if e.Site != "finance" {
				t.Errorf("received line names site %q", e.Site)
			}
		}
	}
	if rejected != 1 || received != 1 {
		t.Errorf("rejected %d, received %d; want 1 and 1", rejected, received)
	}
}
