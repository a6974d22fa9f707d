package actions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/actions"
	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/tableau"
)

const (
	secret = "8f742231b10e8888abcd99yyyzzz85a5"
	token  = "xoxb-actions-test"
)

type world struct {
	t      *testing.T
	slack  *slackfake.Fake
	sim    *tableausim.Sim
	h      *actions.Handler
	srv    *httptest.Server
	store  *spool.Spool
	ts     string // the failure's message
	site   string
	mu     sync.Mutex
	done   []actions.Done
	acked  []render.Item
	ackErr error
}

func newWorld(t *testing.T, allow ...string) *world {
	t.Helper()
	w := &world{t: t, slack: slackfake.New(token).Start()}
	t.Cleanup(w.slack.Close)
	w.sim = tableausim.New(tableausim.Options{})
	w.sim.AddPAT(tableausim.PAT{Name: "p", Secret: "s"})
	ts := w.sim.Start()
	t.Cleanup(ts.Close)
	tc, err := tableau.New(tableau.Config{Server: ts.URL, PATName: "p", PATSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.SignIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.site = tc.SiteID()
	w.store, err = spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.store.Close() })
	sc := slackout.New(slackout.Options{Token: token, APIURL: w.slack.APIURL()})
	// The failure's message, posted with its buttons.
	f := enrich.Facts{Event: "WorkbookRefreshFailed", Kind: "workbook", Name: "Superstore", Actions: true,
		Payload: payload.Payload{SiteLUID: w.site, ResourceLUID: tableausim.WorkbookID, EventType: "WorkbookRefreshFailed", Resource: "EXTRACTS"}}
	if w.ts, err = sc.Post(context.Background(), "C0ALERTS", render.Render(f)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w.h = actions.New(ctx, actions.Config{
		SigningSecret: secret, Allow: allow, Store: w.store, Slack: sc, Groups: sc, Tableau: actions.OneSite(func() string { return w.site }, tc),
		Owners: actions.TableauOwners{Tableau: func(string) enrich.Source { return tc }, Slack: sc},
		Acknowledge: func(_ context.Context, it render.Item) (bool, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.acked = append(w.acked, it)
			return true, w.ackErr
		},
		OnDone: func(d actions.Done) { w.mu.Lock(); w.done = append(w.done, d); w.mu.Unlock() },
	})
	w.srv = httptest.NewServer(w.h)
	t.Cleanup(w.srv.Close)
	return w
}

// click sends a signed click and waits for what it started.
func (w *world) click(user, action string, mod func(*http.Request)) int {
	w.t.Helper()
	req, err := w.slack.Request(w.srv.URL, secret, slackfake.Click{User: user, Channel: "C0ALERTS", TS: w.ts, ActionID: action})
	if err != nil {
		w.t.Fatal(err)
	}
	if mod != nil {
		mod(req)
	}
	return w.send(req)
}

func (w *world) send(req *http.Request) int {
	w.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	_ = resp.Body.Close()
	w.h.Wait()
	return resp.StatusCode
}

func (w *world) message() string {
	for _, m := range w.slack.Messages() {
		if m.TS == w.ts {
			return m.Shown()
		}
	}
	return ""
}

func (w *world) results() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, d := range w.done {
		out = append(out, d.Action+":"+d.Result)
	}
	return out
}

// TestRefreshOnceAndSaidOnTheMessage: an allowed click runs the refresh; a second click
// is Tableau's "already queued", still one refresh; both are said on the message.
func TestRefreshOnceAndSaidOnTheMessage(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	if code := w.click("U0ALICE", render.ActionRefresh, nil); code != http.StatusOK {
		t.Fatalf("click answered %d", code)
	}
	if code := w.click("U0ALICE", render.ActionRefresh, nil); code != http.StatusOK {
		t.Fatalf("second click answered %d", code)
	}
	if n := w.sim.Refreshes(tableausim.WorkbookID); n != 1 {
		t.Fatalf("%d refreshes queued, want 1", n)
	}
	if got := strings.Join(w.results(), " "); got != "refresh:requested refresh:already_queued" {
		t.Fatalf("results: %s", got)
	}
	msg := w.message()
	if !strings.Contains(msg, "Refresh requested by <@U0ALICE>") {
		t.Fatalf("the message does not name who clicked: %s", msg)
	}
	if !strings.Contains(msg, "already queued") {
		t.Fatalf("the message does not say the refresh was already queued: %s", msg)
	}
}

// TestRefusedRequestsDoNothing: a forged signature, a stale timestamp, a replay and an
// unsigned request get 401, and nothing is done.
func TestRefusedRequestsDoNothing(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	cases := map[string]func(*http.Request){
		"forged":   func(r *http.Request) { r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32)) },
		"unsigned": func(r *http.Request) { r.Header.Del("X-Slack-Signature") },
	}
	for name, mod := range cases {
		if code := w.click("U0ALICE", render.ActionRefresh, mod); code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", name, code)
		}
	}
	stale, err := w.slack.Request(w.srv.URL, secret, slackfake.Click{User: "U0ALICE", Channel: "C0ALERTS", TS: w.ts, ActionID: render.ActionRefresh, At: time.Now().Add(-6 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if code := w.send(stale); code != http.StatusUnauthorized {
		t.Errorf("stale: answered %d, want 401", code)
	}
	if n := w.sim.Refreshes(tableausim.WorkbookID); n != 0 || len(w.results()) != 0 {
		t.Fatalf("refused requests did something: %d refreshes, %v", n, w.results())
	}
	// A replay: the same signed request again is refused; the first was done once.
	req, err := w.slack.Request(w.srv.URL, secret, slackfake.Click{User: "U0ALICE", Channel: "C0ALERTS", TS: w.ts, ActionID: render.ActionRefresh})
	if err != nil {
		t.Fatal(err)
	}
	again := req.Clone(context.Background())
	again.Body, _ = req.GetBody()
	if code := w.send(req); code != http.StatusOK {
		t.Fatalf("first: %d", code)
	}
	if code := w.send(again); code != http.StatusUnauthorized {
		t.Errorf("replay: answered %d, want 401", code)
	}
	if n := w.sim.Refreshes(tableausim.WorkbookID); n != 1 {
		t.Errorf("%d refreshes after a replay, want 1", n)
	}
}

// TestNotAllowedIsToldAlone: a user neither listed nor in a listed group gets an
// ephemeral refusal and nothing happens; a member of a listed group may act.
func TestNotAllowedIsToldAlone(t *testing.T) {
	w := newWorld(t, "U0ALICE", "S0ONCALL")
	w.slack.AddGroup("S0ONCALL", "U0CAROL")
	before := w.message()
	w.click("U0MALLORY", render.ActionRefresh, nil)
	rs := w.slack.Responses()
	if len(rs) != 1 || !rs[0].Ephemeral || rs[0].ReplaceOriginal || !strings.Contains(rs[0].Text, "not allowed to run refreshes") || !strings.Contains(rs[0].Text, "U0MALLORY") {
		t.Fatalf("responses: %+v", rs)
	}
	if w.sim.Refreshes(tableausim.WorkbookID) != 0 || w.message() != before {
		t.Fatal("a refused user's click did something")
	}
	w.click("U0CAROL", render.ActionRefresh, nil)
	if w.sim.Refreshes(tableausim.WorkbookID) != 1 {
		t.Fatalf("a listed group's member could not act: %v", w.results())
	}
}

// TestMuteHoldsBackAndUnmuteSummarises: Mute turns its button into Unmute and holds
// back the item's alerts (counted); Unmute says how many were held back.
func TestMuteHoldsBackAndUnmuteSummarises(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	it := render.Item{Site: w.site, Kind: "workbook", ID: tableausim.WorkbookID}
	w.click("U0ALICE", render.ActionMute, nil)
	if msg := w.message(); !strings.Contains(msg, render.ActionUnmute) || !strings.Contains(msg, "Muted for 24 h by") {
		t.Fatalf("after Mute: %s", msg)
	}
	for range 2 {
		muted, _, err := actions.Hold(w.store, it, time.Now())
		if err != nil || !muted {
			t.Fatalf("Hold while muted: %v %v", muted, err)
		}
	}
	w.click("U0ALICE", render.ActionUnmute, nil)
	if msg := w.message(); !strings.Contains(msg, "2 failures were held back while muted") || !strings.Contains(msg, render.ActionMute+`"`) {
		t.Fatalf("after Unmute: %s", msg)
	}
	if muted, _, _ := actions.Hold(w.store, it, time.Now()); muted {
		t.Fatal("still muted after Unmute")
	}
}

// TestMuteEnds: a mute past its end holds nothing back, and the next alert learns how
// many it held.
func TestMuteEnds(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	it := render.Item{Site: w.site, Kind: "workbook", ID: tableausim.WorkbookID}
	w.click("U0ALICE", render.ActionMute, nil)
	if muted, _, _ := actions.Hold(w.store, it, time.Now()); !muted {
		t.Fatal("not muted")
	}
	muted, held, err := actions.Hold(w.store, it, time.Now().Add(actions.MuteFor+time.Minute))
	if err != nil || muted || held != 1 {
		t.Fatalf("after the mute's end: muted=%v held=%d err=%v", muted, held, err)
	}
	if b, _ := w.store.Item(actions.MuteKey(it)); b != nil {
		t.Fatalf("the ended mute was kept: %s", b)
	}
}

// TestAcknowledge: Acknowledge reaches PagerDuty with the item and marks the message;
// a PagerDuty failure is told to the clicker.
func TestAcknowledge(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	w.click("U0ALICE", render.ActionAck, nil)
	if len(w.acked) != 1 || w.acked[0].ID != tableausim.WorkbookID || w.acked[0].Site != w.site {
		t.Fatalf("acknowledged: %+v", w.acked)
	}
	if msg := w.message(); !strings.Contains(msg, "Acknowledged by") || !strings.Contains(msg, "PagerDuty incident acknowledged") {
		t.Fatalf("message: %s", msg)
	}
	w.ackErr = errors.New("pagerduty: HTTP 503")
	w.click("U0ALICE", render.ActionAck, nil)
	if rs := w.slack.Responses(); len(rs) != 1 || !strings.Contains(rs[0].Text, "PagerDuty did not take") {
		t.Fatalf("responses: %+v", rs)
	}
}

// TestOtherRequestsIgnored: a signed request that is not a click on tabhook's buttons
// is answered 200 and does nothing; GET is refused.
func TestOtherRequestsIgnored(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	resp, err := http.Get(w.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if _, err := w.slack.Request(w.srv.URL, secret, slackfake.Click{User: "U0ALICE", Channel: "C0ALERTS", TS: w.ts, ActionID: "open-something"}); err == nil {
		t.Error("a click on a button the message lacks was made")
	}
	if len(w.results()) != 0 {
		t.Fatal(w.results())
	}
}

// TestOwnerMayAct: with "owner" in actions.allow, the item's owner (found by their
// Tableau e-mail in Slack) may act, and no one else by that rule.
func TestOwnerMayAct(t *testing.T) {
	w := newWorld(t, actions.AllowOwner)
	w.slack.SetScopes("chat:write,users:read,users:read.email")
	w.slack.AddUser("bob@example.com", "U0BOB")
	w.click("U0ALICE", render.ActionRefresh, nil)
	if w.sim.Refreshes(tableausim.WorkbookID) != 0 {
		t.Fatal("someone who is not the owner ran the refresh")
	}
	w.click("U0BOB", render.ActionRefresh, nil)
	if w.sim.Refreshes(tableausim.WorkbookID) != 1 {
		t.Fatalf("the owner could not run the refresh: %v", w.results())
	}
}

func TestCheckAllow(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		ok    bool
	}{
		{nil, false},
		{[]string{"U0ALICE", "S0ONCALL", "W0GRID"}, true},
		{[]string{"alice@example.com"}, false},
		{[]string{"#ops"}, false},
		{[]string{"owner", "U0ALICE"}, true},
	} {
		if err := actions.CheckAllow(tc.allow); (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.allow, err)
		}
	}
}

// TestDigestClickNamesItsItem: a click on one item of a digest acts on that item,
// says which on the message, and swaps only its Mute button.
func TestDigestClickNamesItsItem(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	sc := slackout.New(slackout.Options{Token: token, APIURL: w.slack.APIURL()})
	var facts []enrich.Facts
	for _, id := range []string{tableausim.WorkbookID, "wb-other"} {
		facts = append(facts, enrich.Facts{Event: "WorkbookRefreshFailed", Kind: "workbook", Name: "Book " + id[:4], Actions: true,
			Payload: payload.Payload{SiteLUID: w.site, ResourceLUID: id, EventType: "WorkbookRefreshFailed", Resource: "EXTRACTS"}})
	}
	ts, err := sc.Post(context.Background(), "C0ALERTS", render.Digest(facts))
	if err != nil {
		t.Fatal(err)
	}
	w.ts = ts
	req, err := w.slack.Request(w.srv.URL, secret, slackfake.Click{User: "U0ALICE", Channel: "C0ALERTS", TS: ts, ActionID: render.ActionMute, Item: w.site + "/workbook/wb-other"})
	if err != nil {
		t.Fatal(err)
	}
	w.send(req)
	msg := w.message()
	if !strings.Contains(msg, "Muted for 24 h by <@U0ALICE>") || !strings.Contains(msg, "— Book wb-o") {
		t.Fatalf("the note does not name the item: %s", msg)
	}
	if strings.Count(msg, render.ActionUnmute) != 1 || strings.Count(msg, `"`+render.ActionMute+`"`) != 1 {
		t.Fatalf("Mute swapped on the wrong buttons: %s", msg)
	}
	if muted, _, _ := actions.Hold(w.store, render.Item{Site: w.site, Kind: "workbook", ID: "wb-other"}, time.Now()); !muted {
		t.Error("the clicked item is not muted")
	}
	if muted, _, _ := actions.Hold(w.store, render.Item{Site: w.site, Kind: "workbook", ID: tableausim.WorkbookID}, time.Now()); muted {
		t.Error("the other item is muted")
	}
}

// brokenItems is a store whose items cannot be written (a database gone).
type brokenItems struct{ *spool.Spool }

func (brokenItems) UpdateItem(string, func([]byte) ([]byte, error)) ([]byte, error) {
	return nil, errors.New("connection refused")
}

// TestStoreDownIsNotCalledForged: when the store cannot say whether a request was seen
// before, the click is answered 503 — not done, not called forged.
func TestStoreDownIsNotCalledForged(t *testing.T) {
	w := newWorld(t, "U0ALICE")
	h := actions.New(context.Background(), actions.Config{SigningSecret: secret, Allow: []string{"U0ALICE"}, Store: brokenItems{w.store},
		Slack: slackout.New(slackout.Options{Token: token, APIURL: w.slack.APIURL()}), Tableau: actions.OneSite(func() string { return w.site }, nil)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := w.slack.Request(srv.URL, secret, slackfake.Click{User: "U0ALICE", Channel: "C0ALERTS", TS: w.ts, ActionID: render.ActionRefresh})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	h.Wait()
	if resp.StatusCode != http.StatusServiceUnavailable || w.sim.Refreshes(tableausim.WorkbookID) != 0 {
		t.Fatalf("answered %d, %d refreshes", resp.StatusCode, w.sim.Refreshes(tableausim.WorkbookID))
	}
}
