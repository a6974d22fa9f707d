package tableau_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/tableau"
)

const (
	patName   = "ci-token"
	patSecret = "s3cr3t-pat-value"
)

type env struct {
	sim    *tableausim.Sim
	srv    *httptest.Server
	client *tableau.Client
	dest   *httptest.Server
	hits   chan []byte
}

func newEnv(t *testing.T, opts tableausim.Options, cfg tableau.Config) *env {
	t.Helper()
	e := &env{hits: make(chan []byte, 16)}
	e.dest = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(b)
		select {
		case e.hits <- b:
		default:
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(e.dest.Close)
	opts.DeliveryTLS = e.dest.Client().Transport.(*http.Transport).TLSClientConfig
	opts.RetryDelay = time.Millisecond
	e.sim = tableausim.New(opts)
	e.sim.AddPAT(tableausim.PAT{Name: patName, Secret: patSecret})
	e.srv = e.sim.Start()
	t.Cleanup(e.srv.Close)
	cfg.Server = e.srv.URL
	if cfg.PATName == "" {
		cfg.PATName, cfg.PATSecret = patName, patSecret
	}
	c, err := tableau.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

func ptr[T any](v T) *T { return &v }

func TestSignInNegotiatesVersion(t *testing.T) {
	e := newEnv(t, tableausim.Options{APIVersion: "3.21"}, tableau.Config{})
	ctx := context.Background()
	if err := e.client.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.client.Version(); got != "3.21" {
		t.Errorf("version = %q, want 3.21", got)
	}
	if e.client.SiteID() != e.sim.SiteID() {
		t.Errorf("site id = %q, want %q", e.client.SiteID(), e.sim.SiteID())
	}
	if err := e.client.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.LiveSessions(); n != 0 {
		t.Errorf("live sessions after sign-out = %d", n)
	}
}

func TestSignInRejectedIsTyped(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{PATName: patName, PATSecret: "wrong"})
	err := e.client.SignIn(context.Background())
	if !tableau.IsCredentialsRejected(err) {
		t.Fatalf("err = %v, want credentials rejected", err)
	}
	var ae *tableau.APIError
	if !errors.As(err, &ae) || ae.Code != "401001" || ae.Status != 401 {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error reveals the secret: %v", err)
	}
}

func TestWebhookRoundTrip(t *testing.T) {
	for _, version := range []string{"3.24", "3.8"} {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, tableausim.Options{APIVersion: version}, tableau.Config{})
			ctx := context.Background()
			if err := e.client.SignIn(ctx); err != nil {
				t.Fatal(err)
			}
			wh, err := e.client.CreateWebhook(ctx, tableau.WebhookSpec{Name: ptr("hook-a"), Event: ptr("workbook-updated"), URL: ptr(e.dest.URL + "/hook")})
			if err != nil {
				t.Fatal(err)
			}
			if wh.Event != "WorkbookUpdated" || wh.Name != "hook-a" || !wh.Enabled || wh.ID == "" || wh.Owner.ID == "" {
				t.Fatalf("created = %+v", wh)
			}
			list, err := e.client.ListWebhooks(ctx)
			if err != nil || len(list) != 1 || list[0].ID != wh.ID || list[0].Event != "WorkbookUpdated" {
				t.Fatalf("list = %+v, %v", list, err)
			}
			up, err := e.client.UpdateWebhook(ctx, wh.ID, tableau.WebhookSpec{Enabled: ptr(false)})
			if err != nil || up.Enabled || up.Name != "hook-a" || up.URL != wh.URL {
				t.Fatalf("update = %+v, %v", up, err)
			}
			res, err := e.client.TestWebhook(ctx, wh.ID)
			if err != nil || res.Status != 200 || !res.OK || res.Body != `{"ok":true}` {
				t.Fatalf("test = %+v, %v", res, err)
			}
			if b := <-e.hits; len(b) != 0 {
				t.Errorf("test delivery body = %q, want empty", b)
			}
			if err := e.client.DeleteWebhook(ctx, wh.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.client.GetWebhook(ctx, wh.ID); !tableau.IsNotFound(err) {
				t.Fatalf("get after delete: %v", err)
			}
		})
	}
}

func TestCreateHTTPDestinationFailsWithTableauReason(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	_ = e.client.SignIn(context.Background())
	_, err := e.client.CreateWebhook(context.Background(), tableau.WebhookSpec{Name: ptr("x"), Event: ptr("WorkbookCreated"), URL: ptr("http://example.com/hook")})
	var ae *tableau.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Detail, "https") {
		t.Fatalf("err = %v", err)
	}
}

func TestOldServerRefusesWebhooks(t *testing.T) {
	e := newEnv(t, tableausim.Options{APIVersion: "3.5"}, tableau.Config{})
	_ = e.client.SignIn(context.Background())
	_, err := e.client.ListWebhooks(context.Background())
	var ue *tableau.UnsupportedError
	if !errors.As(err, &ue) || ue.Minimum != "3.6" {
		t.Fatalf("err = %v", err)
	}
}

func TestExpiredSessionSignsInOnceForConcurrentCallers(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	if err := e.client.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireSessions()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.client.Workbook(ctx, tableausim.WorkbookID)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.sim.SignIns(); n != 2 {
		t.Fatalf("sign-ins = %d, want 2 (initial + one re-sign-in)", n)
	}
}

func TestContentLookups(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	wb, err := e.client.Workbook(ctx, tableausim.WorkbookID)
	if err != nil {
		t.Fatal(err)
	}
	if wb.Name != "SafariSample" || wb.Project.Name != "default" || wb.Owner.ID != tableausim.OwnerUserID || wb.WebpageURL == "" || len(wb.Tags) != 2 || len(wb.Views) != 1 {
		t.Fatalf("workbook = %+v", wb)
	}
	img, err := e.client.WorkbookPreview(ctx, tableausim.WorkbookID)
	if err != nil || len(img) < 8 || string(img[1:4]) != "PNG" {
		t.Fatalf("preview: %d bytes, %v", len(img), err)
	}
	u, err := e.client.User(ctx, tableausim.OwnerUserID)
	if err != nil || u.DisplayName() != "Bob Smith" {
		t.Fatalf("user = %+v, %v", u, err)
	}
	ds, err := e.client.Datasource(ctx, tableausim.DatasourceID)
	if err != nil || ds.Name != "Sample datasource" || ds.Project.Name != "default" {
		t.Fatalf("datasource = %+v, %v", ds, err)
	}
	fl, err := e.client.Flow(ctx, tableausim.FlowID)
	if err != nil || fl.Name != "FlowOne" || fl.Owner.ID == "" {
		t.Fatalf("flow = %+v, %v", fl, err)
	}
	views, err := e.client.WorkbookViews(ctx, tableausim.WorkbookID)
	if err != nil || len(views) != 1 {
		t.Fatalf("views = %+v, %v", views, err)
	}
	v, err := e.client.View(ctx, views[0].ID)
	if err != nil || v.WorkbookID != tableausim.WorkbookID {
		t.Fatalf("view = %+v, %v", v, err)
	}
	site, err := e.client.Site(ctx)
	if err != nil || site.ID != e.sim.SiteID() {
		t.Fatalf("site = %+v, %v", site, err)
	}
	wbs, err := e.client.Workbooks(ctx)
	if err != nil || len(wbs) != 2 {
		t.Fatalf("workbooks = %d, %v", len(wbs), err)
	}
	projects, err := e.client.Projects(ctx)
	if err != nil || len(projects) != 3 || projects[2].ParentID == "" {
		t.Fatalf("projects = %+v, %v", projects, err)
	}
	job, err := e.client.Job(ctx, "bb1aab79-db54-4e96-9dd3-461d8f081d08")
	if err != nil || job.WorkbookID != "5998aaaf-1abe-4d38-b4d9-bc53e85bdd13" || !strings.Contains(job.Notes, "Login failed") {
		t.Fatalf("job = %+v, %v", job, err)
	}
	if _, err := e.client.Workbook(ctx, "missing"); !tableau.IsNotFound(err) {
		t.Fatalf("missing workbook: %v", err)
	}
}

func TestOutageIsTemporary(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	_ = e.client.SignIn(ctx)
	e.sim.SetOutage(true)
	_, err := e.client.Workbook(ctx, tableausim.WorkbookID)
	if !tableau.IsTemporary(err) {
		t.Fatalf("outage error %v not temporary", err)
	}
	e.sim.SetOutage(false)
	if _, err := e.client.Workbook(ctx, tableausim.WorkbookID); err != nil {
		t.Fatal(err)
	}
}

func TestUserAgentAndTimeout(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Get("User-Agent"):
		default:
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := tableau.New(tableau.Config{Server: srv.URL, UserAgent: "tabhook/1.2.3", HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServerInfo(context.Background()); err == nil || !tableau.IsTemporary(err) {
		t.Fatalf("err = %v, want a temporary timeout", err)
	}
	if ua := <-got; ua != "tabhook/1.2.3" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestCACert(t *testing.T) {
	sim := tableausim.New(tableausim.Options{})
	sim.AddPAT(tableausim.PAT{Name: patName, Secret: patSecret})
	srv := sim.StartTLS()
	defer srv.Close()
	ctx := context.Background()
	plain, _ := tableau.New(tableau.Config{Server: srv.URL, PATName: patName, PATSecret: patSecret})
	if err := plain.SignIn(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate accepted: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	trusted, err := tableau.New(tableau.Config{Server: srv.URL, PATName: patName, PATSecret: patSecret, CACertFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if err := trusted.SignIn(ctx); err != nil {
		t.Fatalf("with --ca-cert: %v", err)
	}
	if _, err := tableau.New(tableau.Config{Server: srv.URL, CACertFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("a missing CA file was accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	_ = os.WriteFile(empty, []byte("not a certificate"), 0o600)
	if _, err := tableau.New(tableau.Config{Server: srv.URL, CACertFile: empty}); err == nil {
		t.Error("a CA file without certificates was accepted")
	}
}

func TestNewRejectsBadServer(t *testing.T) {
	for _, s := range []string{"", "tableau.example.com", "ftp://x", "https://"} {
		if _, err := tableau.New(tableau.Config{Server: s}); err == nil {
			t.Errorf("server %q accepted", s)
		}
	}
}

// TestSimulatorServesJSON: the simulator answers Accept: application/json as the REST
// API does, with error codes as strings.
func TestSimulatorServesJSON(t *testing.T) {
	sim := tableausim.New(tableausim.Options{})
	sim.AddPAT(tableausim.PAT{Name: patName, Secret: patSecret})
	srv := sim.Start()
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-Tableau-Auth", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := do("POST", "/api/3.24/auth/signin", "", `{"credentials":{"personalAccessTokenName":"`+patName+`","personalAccessTokenSecret":"`+patSecret+`","site":{"contentUrl":""}}}`)
	if status != 200 {
		t.Fatalf("sign-in: %d %v", status, out)
	}
	creds := out["credentials"].(map[string]any)
	token := creds["token"].(string)
	site := creds["site"].(map[string]any)["id"].(string)
	status, out = do("POST", "/api/3.24/sites/"+site+"/webhooks", token, `{"webhook":{"name":"j","event":"WorkbookCreated","webhook-destination":{"webhook-destination-http":{"method":"POST","url":"https://127.0.0.1:9/x"}}}}`)
	if status != 201 || out["webhook"].(map[string]any)["event"] != "WorkbookCreated" {
		t.Fatalf("create: %d %v", status, out)
	}
	status, out = do("GET", "/api/3.24/sites/"+site+"/webhooks", token, "")
	list := out["webhooks"].(map[string]any)["webhook"].([]any)
	if status != 200 || len(list) != 1 {
		t.Fatalf("list: %d %v", status, out)
	}
	status, out = do("GET", "/api/3.24/sites/"+site+"/workbooks/nope", token, "")
	if status != 404 || out["error"].(map[string]any)["code"] != "404006" {
		t.Fatalf("error: %d %v", status, out)
	}
	status, _ = do("GET", "/api/3.24/sites/"+site+"/workbooks/nope", "stale-token", "")
	if status != 401 {
		t.Fatalf("bad token: %d", status)
	}
}

// TestOneSessionPerPAT: a PAT holds one session; a second sign-in ends the first, and
// the first client recovers by signing in again (which ends the second's in turn).
func TestOneSessionPerPAT(t *testing.T) {
	e := newEnv(t, tableausim.Options{}, tableau.Config{})
	ctx := context.Background()
	other, _ := tableau.New(tableau.Config{Server: e.srv.URL, PATName: patName, PATSecret: patSecret})
	if err := e.client.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.SignIn(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.LiveSessions(); n != 1 {
		t.Fatalf("%d live sessions for one PAT", n)
	}
	if _, err := e.client.Workbook(ctx, tableausim.WorkbookID); err != nil {
		t.Fatalf("the first client did not recover its session: %v", err)
	}
	if n := e.sim.SignIns(); n != 3 {
		t.Errorf("sign-ins = %d, want 3", n)
	}
	if n := e.sim.CountRequests("GET", "/workbooks/"+tableausim.WorkbookID); n != 2 {
		t.Errorf("workbook requests = %d, want 2 (one refused, one retried)", n)
	}
}

// TestRedirectsKeepCredentialsHome: a 307 on sign-in to another host would re-send
// the PAT secret there; a redirect to plain http would send it in clear. Both are
// refused with an error naming the target; the other host never hears the secret.
func TestRedirectsKeepCredentialsHome(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "s3cr3t") || r.Header.Get("X-Tableau-Auth") != "" {
			leaked.Store(true)
		}
		http.Error(w, "nope", http.StatusTeapot)
	}))
	defer elsewhere.Close()
	for name, target := range map[string]string{"another host": elsewhere.URL + "/api/3.19/auth/signin", "plain http": "http://127.0.0.1:1/api/3.19/auth/signin"} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/serverinfo") {
					w.Header().Set("Content-Type", "application/xml")
					_, _ = io.WriteString(w, `<tsResponse xmlns="http://tableau.com/api"><serverInfo><productVersion build="20243">2024.3</productVersion><restApiVersion>3.24</restApiVersion></serverInfo></tsResponse>`)
					return
				}
				http.Redirect(w, r, target, http.StatusTemporaryRedirect)
			}))
			defer srv.Close()
			c, err := tableau.New(tableau.Config{Server: srv.URL, PATName: "n", PATSecret: "s3cr3t", HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			err = c.SignIn(context.Background())
			if err == nil || !strings.Contains(err.Error(), "refused a redirect") || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("sign-in: %v", err)
			}
		})
	}
	if leaked.Load() {
		t.Fatal("the PAT secret reached another host")
	}
}

func TestServerPastedFromTheBrowser(t *testing.T) {
	_, err := tableau.New(tableau.Config{Server: "https://tableau.example.com/#/site/sales/home"})
	if err == nil || !strings.Contains(err.Error(), "base URL, e.g. https://tableau.example.com") {
		t.Fatalf("err = %v", err)
	}
}
