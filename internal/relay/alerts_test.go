package relay_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

var refreshEvents = []string{"WorkbookRefreshStarted", "WorkbookRefreshSucceeded", "WorkbookRefreshFailed",
	"DatasourceRefreshStarted", "DatasourceRefreshSucceeded", "DatasourceRefreshFailed"}

// restart stops the relay and starts it again on the same state: what it remembers of
// each refresh must survive.
func (w *world) restart(stateDir string, mod func(*relay.Config)) {
	w.t.Helper()
	if err := w.stop(); err != nil {
		w.t.Fatal(err)
	}
	w.ready, w.done = make(chan struct{}), make(chan error, 1)
	cfg := w.config(stateDir, refreshEvents...)
	mod(&cfg)
	w.start(cfg)
}

// topLevel are the channel's messages that are not replies.
func topLevel(ms []slackfake.Message) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range ms {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// TestRefreshStory follows a workbook's refreshes: a start that fails (one thread,
// the opening message updated), a second failure after a restart (the count kept), and
// the recovery in the last failure's thread; the owner is mentioned on failures.
func TestRefreshStory(t *testing.T) {
	w := newWorld(t)
	w.slack.AddUser("bob@example.com", "U0BOB")
	dir := t.TempDir()
	withMentions := func(c *relay.Config) { c.MentionOwner = true }
	cfg := w.config(dir, refreshEvents...)
	withMentions(&cfg)
	w.start(cfg)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	fire := func(event string, offset time.Duration) {
		w.fire(tableausim.Event{Type: event, ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(offset)})
	}

	fire("WorkbookRefreshStarted", 0)
	eventually(t, "the opening message", func() bool { return len(w.slack.Messages()) == 1 })
	fire("WorkbookRefreshFailed", 3*time.Minute)
	eventually(t, "the failure in the opening message's thread", func() bool { return len(w.slack.Messages()) == 2 })
	open := w.slack.Messages()[0]
	eventually(t, "the opening message updated", func() bool { return w.slack.Messages()[0].Edits == 1 })
	failure := w.slack.Messages()[1]
	if failure.ThreadTS != open.TS {
		t.Fatalf("the failure was not posted in the opening message's thread: %+v", failure)
	}
	mustContain(t, "the failure", messageText(failure), "Login failed for user 'tableau_svc'.", "<@U0BOB>", "ran 3m 0s")
	mustContain(t, "the updated opening message", messageText(w.slack.Messages()[0]), "Workbook extract refresh failed", "after 3m 0s", "details in the thread")

	// The story is in the store: a restart keeps the count and the thread.
	w.restart(dir, withMentions)
	fire("WorkbookRefreshFailed", time.Hour)
	eventually(t, "the second failure", func() bool { return len(w.slack.Messages()) == 3 })
	second := w.slack.Messages()[2]
	if second.ThreadTS != "" {
		t.Fatalf("a failure with no start of its own joined a thread: %+v", second)
	}
	mustContain(t, "the second failure", messageText(second), "2nd failure in a row", "<@U0BOB>")
	// Hours pass in real life: the failure is recorded (delivered) before its recovery.
	eventually(t, "the second failure recorded", func() bool { return w.count(relay.EvDelivered) == 3 })

	fire("WorkbookRefreshSucceeded", 2*time.Hour)
	eventually(t, "the recovery", func() bool { return len(w.slack.Messages()) == 4 })
	recovery := w.slack.Messages()[3]
	if recovery.ThreadTS != second.TS {
		t.Fatalf("the recovery is not in the last failure's thread: %+v (failure %s)", recovery, second.TS)
	}
	mustContain(t, "the recovery", messageText(recovery), "Recovered after 2 failures")
	eventually(t, "the failure message updated", func() bool { return w.slack.Messages()[2].Edits == 1 })
	mustContain(t, "the updated failure", messageText(w.slack.Messages()[2]), "recovered", "after 2 failures in a row")
	if n := len(topLevel(w.slack.Messages())); n != 2 {
		t.Fatalf("%d top-level messages, want 2 (the opening and the second failure)", n)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartedThenSucceededIsOneThread(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), refreshEvents...))
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	w.fire(tableausim.Event{Type: "DatasourceRefreshStarted", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: at})
	eventually(t, "the opening message", func() bool { return len(w.slack.Messages()) == 1 })
	w.fire(tableausim.Event{Type: "DatasourceRefreshSucceeded", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: at.Add(72 * time.Second)})
	eventually(t, "the outcome and the updated opening", func() bool {
		ms := w.slack.Messages()
		return len(ms) == 2 && ms[0].Edits == 1
	})
	ms := w.slack.Messages()
	if ms[1].ThreadTS != ms[0].TS || len(topLevel(ms)) != 1 {
		t.Fatalf("not one thread: %+v", ms)
	}
	mustContain(t, "the updated opening", messageText(ms[0]), "Data source extract refresh succeeded", "after 1m 12s")
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestWithoutJobsRights: a token that may not list jobs still gets every failure
// posted, each saying in one line why the reason is missing; the refusal is logged once.
func TestWithoutJobsRights(t *testing.T) {
	w := newWorld(t)
	w.sim.AddUser(tableausim.User{ID: "u-creator", Name: "creator@example.com", SiteRole: "Creator"})
	w.sim.AddPAT(tableausim.PAT{Name: patName, Secret: patSecret, UserID: "u-creator"})
	var logs syncBuffer
	cfg := w.config(t.TempDir(), refreshEvents...)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w.start(cfg)
	for i := range 2 {
		w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Now().Add(time.Duration(i-10) * time.Minute)})
	}
	eventually(t, "both failures posted", func() bool { return len(w.slack.Messages()) == 2 })
	for _, m := range w.slack.Messages() {
		mustContain(t, "a failure without jobs rights", messageText(m), "Tableau's reason is not shown: the token's user may not query jobs", "SafariSample")
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "refused to list jobs"); n != 1 {
		t.Fatalf("the refusal was logged %d times:\n%s", n, logs.String())
	}
}

// TestQualityWarningFollowsTheDataSource: with --quality-warnings a failing data source
// carries one warning of tabhook's until it refreshes again; others' warnings stay.
func TestQualityWarningFollowsTheDataSource(t *testing.T) {
	for _, inList := range []bool{false, true} {
		t.Run(map[bool]string{false: "warning alone", true: "warning inside a list"}[inList], func(t *testing.T) {
			qualityWarningFollows(t, newWorldWith(t, tableausim.Options{WarningInList: inList}))
		})
	}
}

// TestSuccessRemovesTabhooksWarningWhateverTheStory: a warning of tabhook's that no
// story recorded (an add whose answer was lost, a state directory replaced) is
// removed by the next success all the same; others' stay.
func TestSuccessRemovesTabhooksWarningWhateverTheStory(t *testing.T) {
	w := newWorld(t)
	others := w.sim.AddQualityWarning(tableausim.DatasourceID, "Deprecated: use Orders v2")
	w.sim.AddQualityWarning(tableausim.DatasourceID, "tabhook: the extract refresh failed at 2026-11-30 07:00 UTC: Login failed")
	cfg := w.config(t.TempDir(), refreshEvents...)
	cfg.QualityWarnings = true
	w.start(cfg)
	w.fire(tableausim.Event{Type: "DatasourceRefreshSucceeded", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: time.Now().UTC()})
	eventually(t, "the success", func() bool { return len(w.slack.Messages()) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if left := w.sim.QualityWarnings(tableausim.DatasourceID); len(left) != 1 || left[0].ID != others {
		t.Fatalf("left on the data source: %+v (want only someone else's)", left)
	}
	mustContain(t, "the success", messageText(w.slack.Messages()[0]), "was removed")
}

func qualityWarningFollows(t *testing.T, w *world) {
	others := w.sim.AddQualityWarning(tableausim.DatasourceID, "Deprecated: use Orders v2")
	cfg := w.config(t.TempDir(), refreshEvents...)
	cfg.QualityWarnings = true
	w.start(cfg)
	fire := func(event string, at time.Time) {
		w.fire(tableausim.Event{Type: event, ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource", CreatedAt: at})
	}
	at := time.Now().UTC().Add(-time.Hour)
	fire("DatasourceRefreshFailed", at)
	fire("DatasourceRefreshFailed", at.Add(10*time.Minute))
	eventually(t, "two failures", func() bool { return len(w.slack.Messages()) == 2 })
	ours := func() (n int, msg string) {
		for _, q := range w.sim.QualityWarnings(tableausim.DatasourceID) {
			if q.ID != others {
				n, msg = n+1, q.Message
			}
		}
		return n, msg
	}
	if n, msg := ours(); n != 1 || !strings.Contains(msg, "Login failed for user 'tableau_svc'.") {
		t.Fatalf("%d warnings of tabhook's (want 1, carrying the error): %q", n, msg)
	}
	// The two failures are delivered side by side (two workers): whichever Tableau's
	// warning was added for says so, the other that the data source carries it.
	var added, carries int
	for _, m := range w.slack.Messages()[:2] {
		text := messageText(m)
		if strings.Contains(text, "A data quality warning (stale data) was added") {
			added++
		}
		if strings.Contains(text, "carries tabhook's data quality warning") {
			carries++
		}
	}
	if added != 1 || carries != 1 {
		t.Fatalf("of the two failures, %d say the warning was added and %d that the data source carries it; want 1 and 1", added, carries)
	}
	fire("DatasourceRefreshSucceeded", at.Add(20*time.Minute))
	eventually(t, "the recovery", func() bool { return len(w.slack.Messages()) == 3 })
	if n, _ := ours(); n != 0 {
		t.Fatalf("tabhook's warning was not removed")
	}
	if left := w.sim.QualityWarnings(tableausim.DatasourceID); len(left) != 1 || left[0].ID != others {
		t.Fatalf("someone else's warning was touched: %+v", left)
	}
	mustContain(t, "the recovery", messageText(w.slack.Messages()[2]), "was removed")
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestQualityWarningsNeedREST39(t *testing.T) {
	w := newWorldWith(t, tableausim.Options{APIVersion: "3.8"})
	cfg := w.config(t.TempDir(), refreshEvents...)
	cfg.QualityWarnings = true
	w.start(cfg)
	said := false
	for _, e := range w.find(relay.EvStatus) {
		said = said || strings.Contains(e.Detail, "--quality-warnings is unavailable") && strings.Contains(e.Detail, "3.9")
	}
	if !said {
		t.Fatalf("no start-up message that --quality-warnings is unavailable: %+v", w.find(relay.EvStatus))
	}
	w.fire(tableausim.Event{Type: "DatasourceRefreshFailed", ResourceLUID: tableausim.DatasourceID, ResourceName: "Sample datasource"})
	eventually(t, "the failure posted all the same", func() bool { return len(w.slack.Messages()) == 1 })
	if n := w.sim.CountRequests("POST", "dataQualityWarnings"); n != 0 {
		t.Fatalf("%d warning requests to a 3.8 server", n)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestMissingMentionScopeSaidOnce: a token without users:read.email is said once —
// one status line, no warning repeating it — whether start-up or the first mention
// finds it.
func TestMissingMentionScopeSaidOnce(t *testing.T) {
	for _, reported := range []bool{true, false} {
		w := newWorld(t)
		if reported {
			w.slack.SetScopes("chat:write,chat:write.public,files:write,channels:read,groups:read,channels:history,groups:history")
		} else {
			w.slack.SetScopes("") // auth.test says nothing: found at the first mention
		}
		var logged syncBuffer
		cfg := w.config(t.TempDir(), refreshEvents...)
		cfg.MentionOwner = true
		cfg.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
		w.start(cfg)
		for i := range 2 {
			w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: time.Now().Add(time.Duration(i) * time.Minute)})
		}
		eventually(t, "both failures posted", func() bool { return w.count(relay.EvDelivered) == 2 })
		if err := w.stop(); err != nil {
			t.Fatal(err)
		}
		said := 0
		for _, e := range w.find(relay.EvStatus) {
			if strings.Contains(e.Detail, "users:read.email") {
				said++
			}
		}
		if said != 1 || strings.Contains(logged.String(), "users:read.email") {
			t.Errorf("reported by auth.test=%v: said %d times as a status line, want 1; log:\n%s", reported, said, logged.String())
		}
	}
}

// TestRenamedItemTellsItsOwnReason: a workbook fails, is renamed, fails again: the
// second alert — in Slack, Teams, PagerDuty and the webhook — gives the second job's
// reason and the new name, never the first job's.
func TestRenamedItemTellsItsOwnReason(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshFailed", "WorkbookRefreshSucceeded")
	r.configure(t, &cfg)
	w.start(cfg)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at, Notes: "FIRST reason A"})
	eventually(t, "the first failure everywhere", func() bool {
		return len(w.slack.Messages()) == 1 && len(r.teams.Accepted()) == 1 && len(r.pd.Accepted()) == 1 && len(r.hook.Accepted()) == 1
	})
	w.sim.AddWorkbook(tableausim.Workbook{ID: tableausim.WorkbookID, Name: "Safari (renamed)", WebpageURL: "http://tableauserver/#/workbooks/" + tableausim.WorkbookID,
		Project: &tableausim.Ref{ID: "p", Name: "default"}, Owner: tableausim.Ref{ID: tableausim.OwnerUserID}})
	w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "Safari (renamed)", CreatedAt: at.Add(2 * time.Minute), Notes: "SECOND reason B", Incremental: true})
	eventually(t, "the second failure everywhere", func() bool {
		return len(w.slack.Messages()) == 2 && len(r.teams.Accepted()) == 2 && len(r.pd.Accepted()) == 2 && len(r.hook.Accepted()) == 2
	})
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	second := map[string]string{
		"slack":     messageText(w.slack.Messages()[1]),
		"teams":     string(r.teams.Accepted()[1].Body),
		"pagerduty": string(r.pd.Accepted()[1].Body),
		"webhook":   string(r.hook.Accepted()[1].Body),
	}
	for where, body := range second {
		if !strings.Contains(body, "SECOND reason B") || strings.Contains(body, "FIRST reason A") {
			t.Errorf("%s: the second failure does not give its own reason:\n%s", where, body)
		}
		if !strings.Contains(body, "renamed") {
			t.Errorf("%s: the second failure does not give the new name:\n%s", where, body)
		}
	}
}

// TestFailureCountReachesEveryDestination: the second failure in a row says so in
// Teams, PagerDuty and the webhook as in Slack.
func TestFailureCountReachesEveryDestination(t *testing.T) {
	w := newWorld(t)
	r := newReceivers(t)
	cfg := w.config(t.TempDir(), "WorkbookRefreshFailed", "WorkbookRefreshSucceeded")
	r.configure(t, &cfg)
	w.start(cfg)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	for i := range 2 {
		w.fire(tableausim.Event{Type: "WorkbookRefreshFailed", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(time.Duration(i) * time.Minute)})
		eventually(t, "the failure everywhere", func() bool {
			return len(w.slack.Messages()) == i+1 && len(r.teams.Accepted()) == i+1 && len(r.pd.Accepted()) == i+1 && len(r.hook.Accepted()) == i+1
		})
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	for where, want := range map[string][2]string{
		"slack":     {messageText(w.slack.Messages()[1]), "2nd failure in a row"},
		"teams":     {string(r.teams.Accepted()[1].Body), "2nd failure in a row"},
		"pagerduty": {string(r.pd.Accepted()[1].Body), `"failures_in_a_row":2`},
		"webhook":   {string(r.hook.Accepted()[1].Body), `"failures_in_a_row":2`},
	} {
		if !strings.Contains(want[0], want[1]) {
			t.Errorf("%s: the second failure lacks %q:\n%s", where, want[1], want[0])
		}
	}
}

// TestRecoveryAfterAStartIsOneThread: a failure, then a refresh that starts and
// succeeds: the success is told in the new refresh's thread, linking the failure; the
// failure's message is marked recovered; nothing is posted into the failure's thread.
func TestRecoveryAfterAStartIsOneThread(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(t.TempDir(), refreshEvents...)
	w.start(cfg)
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	fire := func(event string, offset time.Duration) {
		w.fire(tableausim.Event{Type: event, ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample", CreatedAt: at.Add(offset)})
	}
	fire("WorkbookRefreshFailed", 0)
	eventually(t, "the failure", func() bool { return len(w.slack.Messages()) == 1 })
	eventually(t, "the failure recorded", func() bool { return w.count(relay.EvDelivered) == 1 })
	failure := w.slack.Messages()[0]
	fire("WorkbookRefreshStarted", 10*time.Minute)
	eventually(t, "the opening message", func() bool { return len(w.slack.Messages()) == 2 })
	eventually(t, "the opening recorded", func() bool { return w.count(relay.EvDelivered) == 2 })
	opening := w.slack.Messages()[1]
	fire("WorkbookRefreshSucceeded", 10*time.Minute+2*time.Second)
	eventually(t, "the success", func() bool { return len(w.slack.Messages()) == 3 })
	eventually(t, "both rewritten", func() bool { ms := w.slack.Messages(); return ms[0].Edits == 1 && ms[1].Edits == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	ms := w.slack.Messages()
	success := ms[2]
	if success.ThreadTS != opening.TS {
		t.Fatalf("the success went to thread %q, want its refresh's (%s), not the failure's (%s)", success.ThreadTS, opening.TS, failure.TS)
	}
	mustContain(t, "the success", messageText(success), "Recovered after 1 failure", "fake.slack.com/archives/C0ALERTS/p"+strings.ReplaceAll(failure.TS, ".", ""))
	mustContain(t, "the rewritten opening", messageText(ms[1]), "after 2s")
	mustContain(t, "the rewritten failure", messageText(ms[0]), "recovered")
	for _, m := range ms {
		if m.ThreadTS == failure.TS {
			t.Errorf("a reply in the failure's thread: %s", m.Text)
		}
	}
}
