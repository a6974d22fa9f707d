package relay_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

func burst(w *world, n int, event, luid, name string) {
	base := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for i := range n {
		w.fire(tableausim.Event{Type: event, ResourceLUID: luid, ResourceName: fmt.Sprintf("%s %d", name, i), CreatedAt: base.Add(time.Duration(i) * time.Second)})
	}
}

// uniqueMessages checks that the messages posted stand for n events, each once (a
// digest stands for several).
func uniqueMessages(t *testing.T, w *world, n int) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range w.slack.Messages() {
		var md struct {
			Payload struct {
				IDs string `json:"tabhook_events"`
			} `json:"event_payload"`
		}
		if err := json.Unmarshal(m.Metadata, &md); err != nil {
			t.Fatalf("metadata %s: %v", m.Metadata, err)
		}
		for _, id := range strings.Split(strings.Trim(md.Payload.IDs, ","), ",") {
			if seen[id] {
				t.Errorf("event %s posted twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d events posted, want %d", len(seen), n)
	}
}

func TestSlackDownThenBack(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.slack.SetOutage(true)
	burst(w, 10, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "retries while Slack is down", func() bool { return w.count(relay.EvRetrying) >= 10 })
	if n := len(w.slack.Messages()); n != 0 {
		t.Fatalf("%d messages during the outage", n)
	}
	w.slack.SetOutage(false)
	eventually(t, "all 10 delivered", func() bool { return w.count(relay.EvDelivered) == 10 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	uniqueMessages(t, w, 10)
}

func TestRateLimitedBurstHonoursRetryAfter(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshSucceeded")
	// 10 posts a second: 100 ms apart, wide enough that loopback jitter cannot make a
	// correctly paced pair look too close.
	cfg.Slack = slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL(), PerChannel: rate.Limit(10), Burst: 1})
	w.start(cfg)
	w.slack.RateLimit("chat.postMessage", 2, 1)
	burst(w, 8, "WorkbookRefreshSucceeded", tableausim.WorkbookID, "Extract")
	eventually(t, "all 8 delivered", func() bool { return w.count(relay.EvDelivered) == 8 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	uniqueMessages(t, w, 8)
	// After each 429, nothing was posted to the channel before Retry-After passed,
	// and successful posts were never closer than the configured pace allows.
	var limitedAt, lastOK time.Time
	for _, c := range w.slack.Calls() {
		if c.Method != "chat.postMessage" {
			continue
		}
		if c.Status == http.StatusTooManyRequests {
			limitedAt = c.At
			continue
		}
		if !limitedAt.IsZero() && c.At.Sub(limitedAt) < time.Second-10*time.Millisecond {
			t.Errorf("posted %s after a 429 asking for 1s", c.At.Sub(limitedAt))
		}
		if !lastOK.IsZero() && c.At.Sub(lastOK) < 60*time.Millisecond {
			t.Errorf("posts %s apart, faster than 10/s", c.At.Sub(lastOK))
		}
		lastOK = c.At
	}
	if w.slack.CountCalls("chat.postMessage", http.StatusTooManyRequests) != 2 {
		t.Error("the fake did not rate-limit")
	}
	// Retry-After waits are not attempts (the README says so): every event went out
	// at its first real try; one line per post that met a 429.
	for _, e := range w.find(relay.EvDelivered) {
		if e.Attempt != 1 {
			t.Errorf("event %s delivered at attempt %d: a 429's wait was counted as an attempt", e.ID, e.Attempt)
		}
	}
	if n := w.count(relay.EvRetrying); n > 2 {
		t.Errorf("%d retry lines for 2 answers of 429", n)
	}
}

func TestTableauDownPostsPayloadFacts(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.sim.SetOutage(true)
	// The relay's listener still answers Tableau: deliveries are not REST calls.
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "the degraded delivery", func() bool { return w.count(relay.EvDelivered) == 1 })
	w.sim.SetOutage(false)
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	m := w.slack.Messages()[0]
	if !strings.Contains(m.Text, "Workbook updated: SafariSample") || strings.Contains(m.Text, "Bob Smith") {
		t.Errorf("degraded message: %s", m.Text)
	}
	if !strings.Contains(string(m.Blocks), "Tableau did not answer") {
		t.Errorf("the message does not say details are missing: %s", m.Blocks)
	}
}

func TestSessionExpiresMidBurst(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		burst(w, 20, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	}()
	eventually(t, "some deliveries", func() bool { return w.count(relay.EvDelivered) >= 3 })
	before := w.sim.SignIns()
	w.sim.ExpireSessions()
	<-done
	eventually(t, "all 20 delivered", func() bool { return w.count(relay.EvDelivered) == 20 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	uniqueMessages(t, w, 20)
	if n := w.sim.SignIns() - before; n > 1 {
		t.Errorf("%d sign-ins after one expiry", n)
	}
}

func TestPermanentErrorDeadLettersWithoutBlocking(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	w.start(w.config(dir, "WorkbookUpdated"))
	w.slack.FailChannel("C0ALERTS", "msg_too_long")
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "first"})
	eventually(t, "a dead letter", func() bool { return w.count(relay.EvDead) == 1 })
	w.slack.FailChannel("C0ALERTS", "")
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "second", CreatedAt: time.Now().Add(time.Hour)})
	eventually(t, "the next event delivered", func() bool { return w.count(relay.EvDelivered) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	dead := w.find(relay.EvDead)[0]
	if !strings.Contains(dead.Detail, "msg_too_long") {
		t.Errorf("dead letter reason: %s", dead.Detail)
	}
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	recs, _ := sp.List(store.ListQuery{State: spool.Dead})
	if len(recs) != 1 || !strings.Contains(recs[0].DeadReason, "msg_too_long") || recs[0].Attempts != 1 {
		t.Fatalf("dead records = %+v", recs)
	}
}

// TestLostAnswerIsNotPostedTwice: Slack stores the message but the answer never
// arrives; the retry finds the message in the channel's history instead of posting again.
func TestLostAnswerIsNotPostedTwice(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.slack.DropPostResponses(1)
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "the delivery", func() bool { return w.count(relay.EvDelivered) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if w.count(relay.EvRetrying) == 0 {
		t.Fatal("the dropped answer did not cause a retry")
	}
	if n := len(w.slack.Messages()); n != 1 {
		t.Fatalf("%d messages after a lost answer, want 1", n)
	}
	if len(w.slack.Files()) != 1 || w.slack.Files()[0].ThreadTS != w.slack.Messages()[0].TS {
		t.Error("the preview did not go into the recovered message's thread")
	}
}

// TestStartsWhileServicesUnreachable: Tableau and Slack down at start: the relay starts,
// reports not ready, accepts and stores events, and delivers once both are back.
func TestStartsWhileServicesUnreachable(t *testing.T) {
	w := newWorld(t)
	w.slack.SetOutage(true)
	w.sim.SetOutage(true)
	cfg := w.config(t.TempDir())
	cfg.Ready = nil
	w.start2(cfg)
	eventually(t, "the listener", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	// A delivery while Tableau is unreachable: stored, acknowledged.
	body := `{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"SafariSample","site_luid":"` + w.sim.SiteID() + `","resource_luid":"` + tableausim.WorkbookID + `","created_at":"2026-11-30T09:00:00Z"}`
	resp, err := w.httpsClient().Post(w.public, "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delivery while down: %v %v", resp, err)
	}
	resp.Body.Close()
	w.sim.SetOutage(false)
	w.slack.SetOutage(false)
	eventually(t, "ready", func() bool { return w.readyz() == http.StatusOK })
	eventually(t, "the delivery", func() bool { return w.count(relay.EvDelivered) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestStormBecomesDigests: 200 refreshes at once, at Slack's real pace (1/s per
// channel), reach Slack as a few digests that name or count every event; a trickle
// afterwards still gets one message per event.
func TestStormBecomesDigests(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshSucceeded")
	cfg.Slack = slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL()}) // default pace: 1/s, burst 3
	w.start(cfg)
	id := func(g, i int) string { return fmt.Sprintf("0b5f4c1e-0000-4000-8000-%012d", g*100+i) }
	for g := range 10 {
		for i := range 20 {
			w.sim.AddWorkbook(tableausim.Workbook{ID: id(g, i), Name: fmt.Sprintf("Extract-%02d-%02d", g, i), WebpageURL: "http://tableauserver/#/workbooks/" + id(g, i), Project: &tableausim.Ref{ID: "p", Name: "default"}, Owner: tableausim.Ref{ID: tableausim.OwnerUserID}})
		}
	}
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := time.Date(2026, 11, 30, 10, g, 0, 0, time.UTC)
			for i := range 20 {
				w.fire(tableausim.Event{Type: "WorkbookRefreshSucceeded", ResourceLUID: id(g, i), ResourceName: fmt.Sprintf("Extract-%02d-%02d", g, i), CreatedAt: base.Add(time.Duration(i) * time.Second)})
			}
		}()
	}
	wg.Wait()
	eventually(t, "all 200 delivered", func() bool { return w.count(relay.EvDelivered) == 200 })
	msgs := w.slack.Messages()
	if len(msgs) >= 50 {
		t.Errorf("%d messages for a storm of 200: not coalesced", len(msgs))
	}
	// Every event is represented: named, or counted in a digest's "…and N more".
	all, more := "", 0
	for _, m := range msgs {
		all += string(m.Blocks)
		if i := strings.Index(string(m.Blocks), "…and "); i >= 0 {
			var n int
			fmt.Sscanf(string(m.Blocks)[i:], "…and %d more", &n)
			more += n
		}
	}
	named := 0
	for g := range 10 {
		for i := range 20 {
			if strings.Contains(all, fmt.Sprintf("Extract-%02d-%02d", g, i)) {
				named++
			}
		}
	}
	if named+more != 200 {
		t.Errorf("%d events named and %d counted in %d messages, want 200", named, more, len(msgs))
	}
	// The storm is over: a trickle gets one message per event.
	before := len(msgs)
	for i := range 3 {
		w.fire(tableausim.Event{Type: "WorkbookRefreshSucceeded", ResourceLUID: tableausim.WorkbookID, ResourceName: fmt.Sprintf("Trickle-%d", i), CreatedAt: time.Date(2026, 11, 30, 11, 0, i, 0, time.UTC)})
		eventually(t, "the trickle event", func() bool { return w.count(relay.EvDelivered) == 201+i })
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if got := len(w.slack.Messages()) - before; got != 3 {
		t.Errorf("trickle of 3 got %d messages", got)
	}
}

// TestReadinessFollowsOutages: /readyz turns 503 while Tableau is down after start-up,
// and 200 again once it is back.
func TestReadinessFollowsOutages(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir())
	cfg.HealthEvery = 20 * time.Millisecond
	w.start(cfg)
	eventually(t, "ready", func() bool { return w.readyz() == http.StatusOK })
	w.sim.SetOutage(true)
	eventually(t, "not ready during the outage", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	w.sim.SetOutage(false)
	eventually(t, "ready again", func() bool { return w.readyz() == http.StatusOK })
	w.slack.SetOutage(true)
	eventually(t, "not ready while Slack is down", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	w.slack.SetOutage(false)
	eventually(t, "ready again", func() bool { return w.readyz() == http.StatusOK })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestStormUnderRateLimitIsDigested: Slack answers 429 past about one message a second
// per channel. A burst of 30 events for one channel becomes a handful of messages —
// after a 429 the channel's whole backlog goes into the next digest — rather than 30
// single messages retried one by one.
func TestStormUnderRateLimitIsDigested(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshSucceeded")
	// The relay's own pace is looser than Slack's: Slack's 429s do the limiting.
	cfg.Slack = slackout.New(slackout.Options{Token: slackToken, APIURL: w.slack.APIURL(), PerChannel: rate.Limit(20), Burst: 5})
	w.start(cfg)
	w.slack.PaceChannels(time.Second)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := time.Date(2026, 11, 30, 9, g, 0, 0, time.UTC)
			for i := range 10 {
				w.fire(tableausim.Event{Type: "WorkbookRefreshSucceeded", ResourceLUID: tableausim.WorkbookID, ResourceName: fmt.Sprintf("Extract-%d-%d", g, i), CreatedAt: base.Add(time.Duration(i) * time.Second)})
			}
		}()
	}
	wg.Wait()
	eventually(t, "all 30 delivered", func() bool { return w.count(relay.EvDelivered) == 30 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	uniqueMessages(t, w, 30)
	t.Logf("%d messages, %d answers of 429", len(w.slack.Messages()), w.slack.CountCalls("chat.postMessage", http.StatusTooManyRequests))
	if n := len(w.slack.Messages()); n > 6 {
		t.Errorf("a burst of 30 became %d messages under Slack's rate limit, want a handful", n)
	}
	// One line per post that met a 429, not one per event in it.
	if lines, answers := w.count(relay.EvRetrying), w.slack.CountCalls("chat.postMessage", http.StatusTooManyRequests); lines > answers {
		t.Errorf("%d retry lines for %d answers of 429: a line per event, not per post", lines, answers)
	}
	// Retry-After waits are not attempts: every event went out at its first real try.
	for _, e := range w.find(relay.EvDelivered) {
		if e.Attempt != 1 {
			t.Errorf("event %s delivered at attempt %d: a 429's wait was counted as an attempt", e.ID, e.Attempt)
			break
		}
	}
}

// TestRevokedTokenPausesDelivery: Slack answers token_revoked to everything while
// events arrive. None becomes a dead letter: delivery pauses, /readyz turns 503 at once
// and the pause is said once; when the new token is in place and the relay reloads,
// every event of the outage is posted once.
func TestRevokedTokenPausesDelivery(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	reload := make(chan os.Signal, 1)
	var token atomic.Value
	token.Store(slackToken)
	cfg.Reload, cfg.CredentialCheck = reload, time.Hour // only the reload may bring it back
	cfg.Reconfigure = func() (relay.Reloaded, error) {
		return relay.Reloaded{Routing: relay.Routing{Default: "#alerts"}, SlackToken: token.Load().(string)}, nil
	}
	w.start(cfg)
	eventually(t, "ready", func() bool { return w.readyz() == http.StatusOK })
	w.slack.RevokeToken()
	burst(w, 5, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "the pause", func() bool { return w.count(relay.EvPaused) == 1 })
	eventually(t, "not ready while paused", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	if n := w.count(relay.EvDead); n != 0 {
		t.Fatalf("%d dead letters for a revoked token", n)
	}
	// The admin installs the app again: a new token, dropped in place; systemctl reload.
	w.slack.RotateToken("xoxb-rotated-token-77aa")
	token.Store("xoxb-rotated-token-77aa")
	reload <- syscall.SIGHUP
	eventually(t, "all 5 delivered", func() bool { return w.count(relay.EvDelivered) == 5 })
	eventually(t, "ready again", func() bool { return w.readyz() == http.StatusOK })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if w.count(relay.EvDead) != 0 || w.count(relay.EvPaused) != 1 || w.count(relay.EvResumed) != 1 {
		t.Errorf("dead %d, paused %d, resumed %d", w.count(relay.EvDead), w.count(relay.EvPaused), w.count(relay.EvResumed))
	}
	uniqueMessages(t, w, 5)
}

// TestRevokedPATPausesDelivery: the PAT is revoked while events arrive. They are not
// posted without Tableau's details nor dead-lettered: delivery pauses, /readyz turns;
// with the new secret in place and a reload, every event is posted once, enriched.
func TestRevokedPATPausesDelivery(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	reload := make(chan os.Signal, 1)
	var secret atomic.Value
	secret.Store(patSecret)
	cfg.Reload, cfg.CredentialCheck = reload, time.Hour
	cfg.Reconfigure = func() (relay.Reloaded, error) {
		return relay.Reloaded{Routing: relay.Routing{Default: "#alerts"}, PATSecret: secret.Load().(string)}, nil
	}
	w.start(cfg)
	eventually(t, "ready", func() bool { return w.readyz() == http.StatusOK })
	// The PAT is revoked (a new one issued): the session ends, sign-ins are refused.
	w.sim.AddPAT(tableausim.PAT{Name: patName, Secret: "rotated-pat-secret-3b9e"})
	w.sim.ExpireSessions()
	burst(w, 3, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "the pause", func() bool { return w.count(relay.EvPaused) == 1 })
	eventually(t, "not ready while paused", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	if n := len(w.slack.Messages()); n != 0 {
		t.Fatalf("%d messages posted without Tableau's details while the PAT was refused", n)
	}
	secret.Store("rotated-pat-secret-3b9e")
	reload <- syscall.SIGHUP
	eventually(t, "all 3 delivered", func() bool { return w.count(relay.EvDelivered) == 3 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if w.count(relay.EvDead) != 0 || w.count(relay.EvResumed) != 1 {
		t.Errorf("dead %d, resumed %d", w.count(relay.EvDead), w.count(relay.EvResumed))
	}
	for _, m := range w.slack.Messages() {
		if !strings.Contains(messageText(m), "Bob Smith") {
			t.Errorf("posted without the owner: %s", m.Text)
		}
	}
	uniqueMessages(t, w, 3)
}

// TestStopDoesNotWaitForARetryDueLater: a stop while the only pending event's next try
// is after the drain deadline ends at once (it would deliver nothing by waiting) and
// says the event stays for the next start. With a 5-minute drain, stop's own 30-s
// limit fails the test if the relay waits it out.
func TestStopDoesNotWaitForARetryDueLater(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.DrainTimeout = 5 * time.Minute
	cfg.Service.MinBackoff, cfg.Service.MaxBackoff = 10*time.Minute, 20*time.Minute
	w.start(cfg)
	w.slack.SetOutage(true)
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "a failed attempt", func() bool { return w.count(relay.EvRetrying) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	stays := false
	for _, e := range w.find(relay.EvStatus) {
		stays = stays || strings.Contains(e.Detail, "1 undelivered event stays in the store: the next try is after the restart")
	}
	if !stays {
		t.Error("the stop did not say the event stays for the next start")
	}
}

// TestChannelBlipDeadLettersNothing: the bot removed from the channel for a moment
// and invited back: the events of that time wait (the channel paused, said once, named
// by /readyz and the metric) and are all posted once it works — no dead letter. Past
// --channel-dead-after they would be dead letters.
func TestChannelBlipDeadLettersNothing(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Service.ChannelRecheck = 100 * time.Millisecond
	cfg.Metrics = relay.NewMetrics()
	w.start(cfg)
	w.slack.FailChannel("C0ALERTS", "not_in_channel")
	burst(w, 8, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "the channel paused", func() bool { return w.count(relay.EvPaused) == 1 })
	if !notReadyFor(t, w, "slack #alerts") {
		t.Error("/readyz does not name the refused channel")
	}
	if got := metricValue(t, cfg.Metrics, `tabhook_delivery_paused{channel="#alerts",destination="slack",site=""}`); got != 1 {
		t.Errorf("tabhook_delivery_paused for #alerts = %v, want 1", got)
	}
	time.Sleep(300 * time.Millisecond)  // a few rechecks while the bot is out
	w.slack.FailChannel("C0ALERTS", "") // invited back
	eventually(t, "all 8 posted", func() bool { return w.count(relay.EvDelivered) == 8 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.count(relay.EvDead); n != 0 {
		t.Errorf("%d dead letters for a channel blip", n)
	}
	if n := w.count(relay.EvPaused); n != 1 {
		t.Errorf("the pause said %d times, want once", n)
	}
	if n := w.count(relay.EvResumed); n != 1 {
		t.Errorf("the resume said %d times, want once", n)
	}
	uniqueMessages(t, w, 8)

	// Past --channel-dead-after, the event is a dead letter after all.
	w2 := newWorld(t)
	cfg2 := w2.config(t.TempDir(), "WorkbookUpdated")
	cfg2.Service.ChannelRecheck, cfg2.Service.ChannelDeadAfter = 50*time.Millisecond, 300*time.Millisecond
	w2.start(cfg2)
	w2.slack.FailChannel("C0ALERTS", "channel_not_found")
	burst(w2, 1, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "a dead letter past --channel-dead-after", func() bool { return w2.count(relay.EvDead) == 1 })
	if err := w2.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestGoneItemSaidOnce: events about an item Tableau no longer has are posted with the
// payload's facts, counted each, and logged once for the item — not once per event.
func TestGoneItemSaidOnce(t *testing.T) {
	w := newWorld(t)
	var logs syncBuffer
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Metrics = relay.NewMetrics()
	w.start(cfg)
	burst(w, 5, "WorkbookUpdated", "0d7c1bd2-0000-4000-8000-00000000dead", "Deleted since")
	eventually(t, "all 5 posted", func() bool { return w.count(relay.EvDelivered) == 5 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "posting the payload's facts only"); n != 1 {
		t.Errorf("said %d times for one gone item, want once:\n%s", n, logs.String())
	}
	if got := metricValue(t, cfg.Metrics, `tabhook_events_degraded_total{why="gone"}`); got != 5 {
		t.Errorf("tabhook_events_degraded_total{why=gone} = %v, want 5", got)
	}
}

// TestBacklogGoesOutWhenSlackAnswersAgain: events that failed during a Slack outage
// back off (here ten minutes); the first post that works after it makes them all due
// at once, so they go out now rather than at the end of their backoff.
func TestBacklogGoesOutWhenSlackAnswersAgain(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), "WorkbookUpdated")
	cfg.Service.MinBackoff, cfg.Service.MaxBackoff = 10*time.Minute, 20*time.Minute
	w.start(cfg)
	w.slack.SetOutage(true)
	for i := range 3 {
		w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Date(2026, 11, 30, 7, 0, i, 0, time.UTC)})
	}
	eventually(t, "the failed attempts", func() bool { return w.count(relay.EvRetrying) >= 3 })
	w.slack.SetOutage(false)
	// A new event is due at once; its post works, and the three waiting follow.
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)})
	eventually(t, "all four delivered, long before the backoff ends", func() bool { return w.count(relay.EvDelivered) == 4 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}
