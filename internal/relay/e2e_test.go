package relay_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/selfsigned"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/tableau"
)

const (
	patName    = "relay-pat"
	patSecret  = "relay-pat-secret-7c1d"
	slackToken = "xoxb-relay-token-5e2a"
)

// world is a simulated Tableau, a fake Slack and a relay between them.
type world struct {
	t       *testing.T
	sim     *tableausim.Sim
	slack   *slackfake.Fake
	tableau *tableau.Client
	cert    *selfsigned.Cert
	ln      net.Listener
	public  string

	mu     sync.Mutex
	events []relay.Event
	ready  chan struct{}
	done   chan error
	cancel context.CancelFunc
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, tableausim.Options{})
}

// newWorldWith is newWorld with a simulator so configured (its delivery TLS and retry
// delay are the world's).
func newWorldWith(t *testing.T, opts tableausim.Options) *world {
	t.Helper()
	cert, err := selfsigned.Generate(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, cert: cert, ready: make(chan struct{}), done: make(chan error, 1)}
	opts.DeliveryTLS, opts.RetryDelay = &tls.Config{RootCAs: cert.Pool}, 50*time.Millisecond
	w.sim = tableausim.New(opts)
	w.sim.AddPAT(tableausim.PAT{Name: patName, Secret: patSecret})
	srv := w.sim.Start()
	t.Cleanup(srv.Close)
	w.slack = slackfake.New(slackToken).Start()
	t.Cleanup(w.slack.Close)
	w.tableau, err = tableau.New(tableau.Config{Server: srv.URL, PATName: patName, PATSecret: patSecret})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) config(stateDir string, events ...string) relay.Config {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	w.ln = ln
	w.public = "https://" + ln.Addr().String() + "/tableau/3f9c2d7e8a1b4c60"
	return relay.Config{
		Tableau:   w.tableau,
		Slack:     slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL(), PerChannel: rate.Inf}),
		Channel:   "#alerts",
		StateDir:  stateDir,
		Server:    relay.ServerConfig{Certificate: &w.cert.TLS, Listener: ln},
		Path:      "/tableau/3f9c2d7e8a1b4c60",
		Manage:    len(events) > 0,
		PublicURL: w.public, Events: events, NamePrefix: "tabhook", Verify: true,
		Service: relay.ServiceConfig{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		Enrich:  enrich.Options{Backoff: 10 * time.Millisecond},
		Observe: w.observe,
		Ready:   func(string) { close(w.ready) },
	}
}

func (w *world) observe(e relay.Event) {
	w.mu.Lock()
	w.events = append(w.events, e)
	w.mu.Unlock()
}

func (w *world) count(typ string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (w *world) find(typ string) []relay.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []relay.Event
	for _, e := range w.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) start(cfg relay.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done = make(chan error, 1) // this run's: a restart gets its own
	done := w.done
	go func() { done <- relay.Run(ctx, cfg) }()
	// A test that fails before stop must not leave its relay running into the next.
	w.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	})
	select {
	case <-w.ready:
	case err := <-w.done:
		w.done <- err
		w.t.Fatalf("relay stopped before ready: %v", err)
	case <-time.After(20 * time.Second):
		w.t.Fatal("relay not ready within 20s")
	}
}

func (w *world) stop() error {
	w.cancel()
	select {
	case err := <-w.done:
		w.done <- err // for the cleanup, which waits for the relay too
		return err
	case <-time.After(30 * time.Second):
		w.t.Fatal("relay did not stop")
		return nil
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *world) fire(ev tableausim.Event) []tableausim.Delivery {
	w.t.Helper()
	ds, err := w.sim.Fire(context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	return ds
}

func messageText(m slackfake.Message) string { return m.Text + "\n" + string(m.Blocks) }

func TestRunEndToEnd(t *testing.T) {
	w := newWorld(t)
	other := w.sim.AddWebhook("tabhook-workbook-updated", "WorkbookUpdated", "https://127.0.0.1:1/other-instance")
	w.start(w.config(t.TempDir(), "WorkbookUpdated", "DatasourceRefreshFailed", "WorkbookDeleted", "AdminPromoted"))

	// One webhook per event, named <prefix>-<event>; the other instance's kept apart.
	hooks := w.sim.Webhooks()
	if len(hooks) != 5 {
		t.Fatalf("webhooks = %+v", hooks)
	}
	for _, h := range hooks[1:] {
		if h.URL != w.public || !strings.HasPrefix(h.Name, "tabhook-") {
			t.Errorf("webhook %+v", h)
		}
	}
	// --verify: Tableau's test delivery reached the listener and got 200.
	eventually(t, "4 verifications", func() bool { return w.count(relay.EvVerify) == 4 })
	for _, v := range w.find(relay.EvVerify) {
		if v.OK == nil || !*v.OK {
			t.Errorf("verify failed: %+v", v)
		}
	}
	if w.count(relay.EvTest) != 4 {
		t.Errorf("test deliveries seen = %d", w.count(relay.EvTest))
	}

	// A workbook update: name, project, owner's full name, link, and the preview in the thread.
	ds := w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	if len(ds) != 2 || !ds[1].OK || ds[1].Attempts != 1 || ds[1].URL != w.public {
		t.Fatalf("deliveries = %+v", ds)
	}
	eventually(t, "the workbook message and its preview", func() bool { return len(w.slack.Messages()) == 1 && len(w.slack.Files()) == 1 })
	m := w.slack.Messages()[0]
	for _, want := range []string{"SafariSample", "default", "Bob Smith", "http://tableauserver/#/workbooks/2/views", "Workbook updated"} {
		if !strings.Contains(messageText(m), want) {
			t.Errorf("message lacks %q: %s", want, messageText(m))
		}
	}
	if m.Channel != "C0ALERTS" {
		t.Errorf("channel = %s", m.Channel)
	}
	f := w.slack.Files()[0]
	if f.ThreadTS != m.TS || f.Channel != "C0ALERTS" || string(f.Bytes[1:4]) != "PNG" {
		t.Errorf("preview = %+v (message ts %s)", f, m.TS)
	}

	// A data source refresh failure says it failed.
	w.fire(tableausim.Event{Type: "DatasourceRefreshFailed", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource"})
	eventually(t, "the refresh failure message", func() bool { return len(w.slack.Messages()) == 2 })
	if m := w.slack.Messages()[1]; !strings.Contains(m.Text, "refresh failed") || !strings.Contains(m.Text, "Sample datasource") {
		t.Errorf("refresh failure message: %s", m.Text)
	}

	// A deleted workbook is named from the payload, without a REST lookup.
	w.fire(tableausim.Event{Type: "WorkbookDeleted", ResourceLUID: "0b5f4c1e-dead-4bee-9f00-000000000001", ResourceName: "Quarterly Forecast"})
	eventually(t, "the deletion message", func() bool { return len(w.slack.Messages()) == 3 })
	if m := w.slack.Messages()[2]; !strings.Contains(m.Text, "Workbook deleted: Quarterly Forecast") {
		t.Errorf("deletion message: %s", m.Text)
	}
	if n := w.sim.CountRequests("GET", "0b5f4c1e-dead-4bee-9f00-000000000001"); n != 0 {
		t.Errorf("%d REST lookups of a deleted workbook", n)
	}

	// A user event names the user and the role.
	w.fire(tableausim.Event{Type: "AdminPromoted", ResourceLUID: tableausim.AdminUserID, ResourceName: "alice"})
	eventually(t, "the user message", func() bool { return len(w.slack.Messages()) == 4 })
	if m := w.slack.Messages()[3]; !strings.Contains(messageText(m), "Alice") || !strings.Contains(messageText(m), "SiteAdministratorCreator") {
		t.Errorf("user message: %s", messageText(m))
	}

	// SIGTERM-equivalent: exit 0, our four webhooks deleted, the other instance's kept.
	if err := w.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	left := w.sim.Webhooks()
	if len(left) != 1 || left[0].ID != other {
		t.Fatalf("after stop: %+v", left)
	}
	if w.sim.LiveSessions() != 0 {
		t.Error("the Tableau session was not signed out")
	}
}

func TestSameDeliveryTwicePostsOnce(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	ev := tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)}
	w.fire(ev)
	w.fire(ev)
	eventually(t, "a duplicate seen", func() bool { return w.count(relay.EvDuplicate) == 1 })
	eventually(t, "the delivery", func() bool { return w.count(relay.EvDelivered) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(w.slack.Messages()); n != 1 {
		t.Fatalf("%d messages for one event delivered twice", n)
	}
}

func TestExpiredSessionSignsInOnce(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	before := w.sim.SignIns()
	w.sim.ExpireSessions()
	for i := range 5 {
		w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Now().Add(time.Duration(i) * time.Second)})
	}
	eventually(t, "5 deliveries", func() bool { return w.count(relay.EvDelivered) == 5 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if got := w.sim.SignIns() - before; got != 1 {
		t.Errorf("%d re-sign-ins after expiry, want 1", got)
	}
	for _, m := range w.slack.Messages() {
		if !strings.Contains(m.Text, "Bob Smith") {
			t.Errorf("not enriched after re-sign-in: %s", m.Text)
		}
	}
}

// TestAcknowledgesFastWhileTableauIsSlow: with every REST answer taking 2.5 s, Tableau's
// own delivery (3 s to answer) still succeeds at the first attempt, because the 200 does
// not wait for enrichment.
func TestAcknowledgesFastWhileTableauIsSlow(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.sim.SetLatency(2500 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds := w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Now().Add(time.Duration(i) * time.Minute)})
			for _, d := range ds {
				if !d.OK || d.Attempts != 1 {
					t.Errorf("delivery needed %d attempts (ok=%v): %s", d.Attempts, d.OK, d.Err)
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, "4 deliveries", func() bool { return w.count(relay.EvDelivered) == 4 })
	w.sim.SetLatency(0)
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	for _, m := range w.slack.Messages() {
		if !strings.Contains(m.Text, "Bob Smith") {
			t.Errorf("slow Tableau: not enriched: %s", m.Text)
		}
	}
}

func TestVerifyReportsUnreachableListener(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	// Tableau is told to post where nothing listens.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.PublicURL = "https://" + dead.Addr().String() + "/tableau/3f9c2d7e8a1b4c60"
	dead.Close()
	w.start(cfg)
	eventually(t, "a verification", func() bool { return w.count(relay.EvVerify) == 1 })
	v := w.find(relay.EvVerify)[0]
	if v.OK == nil || *v.OK || !strings.Contains(v.Detail, "could not connect") {
		t.Errorf("verify = %+v", v)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRejectedCredentialsEndStartup(t *testing.T) {
	w := newWorld(t)
	bad, _ := tableau.New(tableau.Config{Server: w.tableau.Server(), PATName: patName, PATSecret: "wrong"})
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Tableau = bad
	err := relay.Run(context.Background(), cfg)
	if !tableau.IsCredentialsRejected(err) {
		t.Fatalf("bad PAT: %v", err)
	}
	cfg = w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Slack = slackout.New(slackout.Options{Token: "xoxb-wrong", APIURL: w.slack.APIURL()})
	err = relay.Run(context.Background(), cfg)
	var se *slackout.Error
	if !asSlack(err, &se) || !se.CredentialsRejected() {
		t.Fatalf("bad Slack token: %v", err)
	}
	cfg = w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Channel = "#nowhere"
	if err := relay.Run(context.Background(), cfg); slackout.Code(err) != "channel_not_found" {
		t.Fatalf("unknown channel: %v", err)
	}
	if n := len(w.sim.Webhooks()); n != 0 {
		t.Errorf("%d webhooks created by a failed start", n)
	}
}

func asSlack(err error, target **slackout.Error) bool {
	for err != nil {
		if se, ok := err.(*slackout.Error); ok {
			*target = se
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// start2 starts the relay without waiting for readiness.
func (w *world) start2(cfg relay.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { w.done <- relay.Run(ctx, cfg) }()
}

func (w *world) httpsClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.cert.Pool}}}
}

func TestStartupRefusesAChannelTheBotCannotPostTo(t *testing.T) {
	w := newWorld(t)
	w.slack.AddChannel(slackfake.Channel{ID: "G0PRIV", Name: "private-ops", IsPrivate: true})
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Channel = "#private-ops"
	err := relay.Run(context.Background(), cfg)
	if slackout.Code(err) != "not_in_channel" || !strings.Contains(err.Error(), "/invite") {
		t.Fatalf("err = %v", err)
	}
}

// readyz is the listener's /readyz status (0 when it does not answer).
func (w *world) readyz() int {
	resp, err := w.httpsClient().Get(w.public[:strings.LastIndex(w.public, "/tableau")] + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
