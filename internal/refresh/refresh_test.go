package refresh

import (
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func facts(event string) enrich.Facts {
	return enrich.Base(payload.Payload{Resource: "WORKBOOK", EventType: event, ResourceName: "Superstore", SiteLUID: "s", ResourceLUID: "wb"})
}

func TestCountOnce(t *testing.T) {
	var s State
	steps := []struct {
		id     string
		failed bool
		at     time.Time
		want   Count
	}{
		{"f1", true, t0, Count{Streak: 1}},
		{"f1", true, t0, Count{Streak: 1}}, // a retry of the same event
		{"f2", true, t0.Add(time.Hour), Count{Streak: 2}},
		{"s1", false, t0.Add(2 * time.Hour), Count{Recovered: 2}},
		{"s1", false, t0.Add(2 * time.Hour), Count{Recovered: 2}},
		{"old", true, t0.Add(30 * time.Minute), Count{}}, // delayed: older than what is known
		{"f3", true, t0.Add(3 * time.Hour), Count{Streak: 1, LastSuccess: t0.Add(2 * time.Hour)}},
	}
	for i, st := range steps {
		if got := s.Count(st.id, st.failed, st.at); got != st.want {
			t.Fatalf("step %d (%s): %+v, want %+v", i, st.id, got, st.want)
		}
	}
	if s.Streak != 1 {
		t.Fatalf("streak %d", s.Streak)
	}
}

func TestStartedThenSucceededIsOneThread(t *testing.T) {
	var s State
	s.Opened(Thread{Channel: "C1", TS: "1.0", At: t0, Root: facts("WorkbookRefreshStarted")})
	s.Count("s", false, t0.Add(3*time.Minute))
	reply := s.ReplyTo("C1", false, 0, t0.Add(3*time.Minute))
	if reply == nil || reply.TS != "1.0" {
		t.Fatalf("reply to %+v", reply)
	}
	rw := s.Ended(Outcome{Facts: facts("WorkbookRefreshSucceeded"), At: t0.Add(3 * time.Minute), Channel: "C1", TS: "2.0", Root: reply})
	if len(rw) != 1 || rw[0].TS != "1.0" || !strings.Contains(rw[0].Message.Text, "after 3m 0s") {
		t.Fatalf("rewrites %+v", rw)
	}
	if s.Open != nil || s.Failed != nil {
		t.Fatalf("threads left open: %+v", s)
	}
}

func TestRecoveryGoesToTheFailureThread(t *testing.T) {
	var s State
	failed := facts("WorkbookRefreshFailed")
	s.Count("f1", true, t0)
	s.Ended(Outcome{Facts: failed, At: t0, Channel: "C1", TS: "1.0"})
	s.Count("f2", true, t0.Add(time.Hour))
	if r := s.ReplyTo("C1", true, 0, t0.Add(time.Hour)); r != nil {
		t.Fatalf("a second failure without a start replies to %+v", r)
	}
	s.Ended(Outcome{Facts: failed, At: t0.Add(time.Hour), Channel: "C1", TS: "2.0"})
	c := s.Count("s1", false, t0.Add(2*time.Hour))
	reply := s.ReplyTo("C1", false, c.Recovered, t0.Add(2*time.Hour))
	if c.Recovered != 2 || reply == nil || reply.TS != "2.0" {
		t.Fatalf("recovered %d, reply to %+v: want the last failure's thread", c.Recovered, reply)
	}
	ok := facts("WorkbookRefreshSucceeded")
	ok.Recovered = c.Recovered
	rw := s.Ended(Outcome{Facts: ok, At: t0.Add(2 * time.Hour), Channel: "C1", TS: "3.0", Root: reply})
	if len(rw) != 1 || rw[0].TS != "2.0" || !strings.Contains(rw[0].Message.Text, "after 2 failures") {
		t.Fatalf("rewrites %+v", rw)
	}
}

// TestRecoveryAfterAStartIsOneThread: after a failure, a refresh that opens a message
// and succeeds tells its outcome in its own thread; the old failure is marked
// recovered where it stands, with no reply in its thread.
func TestRecoveryAfterAStartIsOneThread(t *testing.T) {
	var s State
	s.Count("f1", true, t0)
	s.Ended(Outcome{Facts: facts("WorkbookRefreshFailed"), At: t0, Channel: "C1", TS: "1.0"})
	s.Opened(Thread{Channel: "C1", TS: "2.0", At: t0.Add(time.Hour), Root: facts("WorkbookRefreshStarted")})
	c := s.Count("s1", false, t0.Add(time.Hour+2*time.Second))
	reply := s.ReplyTo("C1", false, c.Recovered, t0.Add(time.Hour+2*time.Second))
	if reply == nil || reply.TS != "2.0" {
		t.Fatalf("reply to %+v: want the refresh's own opening message", reply)
	}
	ok := facts("WorkbookRefreshSucceeded")
	ok.Recovered = c.Recovered
	rw := s.Ended(Outcome{Facts: ok, At: t0.Add(time.Hour + 2*time.Second), Channel: "C1", TS: "3.0", Root: reply})
	byTS := map[string]string{}
	for _, r := range rw {
		byTS[r.TS] = r.Message.Text
	}
	if len(rw) != 2 || !strings.Contains(byTS["2.0"], "after 2s") || !strings.Contains(byTS["1.0"], "recovered") {
		t.Fatalf("rewrites %+v: want the opening (how long it ran) and the old failure (recovered)", rw)
	}
	if s.Open != nil || s.Failed != nil {
		t.Fatalf("threads left open: %+v", s)
	}
}

func TestFailureInsideTheOpeningThread(t *testing.T) {
	var s State
	s.Opened(Thread{Channel: "C1", TS: "1.0", At: t0, Root: facts("WorkbookRefreshStarted")})
	s.Count("f", true, t0.Add(time.Minute))
	reply := s.ReplyTo("C1", true, 0, t0.Add(time.Minute))
	rw := s.Ended(Outcome{Facts: facts("WorkbookRefreshFailed"), At: t0.Add(time.Minute), Channel: "C1", TS: "2.0", Root: reply})
	if reply == nil || reply.TS != "1.0" || len(rw) != 1 || !strings.Contains(rw[0].Message.Text, "Failed") {
		t.Fatalf("reply %+v rewrites %+v", reply, rw)
	}
	if s.Failed == nil || s.Failed.TS != "1.0" {
		t.Fatalf("a recovery must go to the thread the failure is in: %+v", s.Failed)
	}
}

func TestThreadsEnd(t *testing.T) {
	cases := []struct {
		name    string
		channel string
		at      time.Time
	}{
		{"a day later", "C1", t0.Add(ThreadLife)},
		{"another channel", "C2", t0.Add(time.Minute)},
		{"before the start", "C1", t0.Add(-time.Minute)},
	}
	for _, tc := range cases {
		s := State{Open: &Thread{Channel: "C1", TS: "1.0", At: t0}}
		if r := s.ReplyTo(tc.channel, true, 0, tc.at); r != nil {
			t.Errorf("%s: replies to %+v", tc.name, r)
		}
	}
}

func TestDelayedStartDoesNotOpen(t *testing.T) {
	var s State
	s.Count("f", true, t0)
	s.Opened(Thread{Channel: "C1", TS: "1.0", At: t0.Add(-time.Minute)})
	if s.Open != nil {
		t.Fatal("a start older than a known outcome opened a thread")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	if b, err := (State{}).Encode(); b != nil || err != nil {
		t.Fatalf("empty story stored: %q %v", b, err)
	}
	s := State{Streak: 2, Warning: "w1", Failed: &Thread{Channel: "C1", TS: "1.0", At: t0, Root: facts("WorkbookRefreshFailed")}}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || got.Streak != 2 || got.Warning != "w1" || got.Failed.Root.Name != "Superstore" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := Decode([]byte("{")); err == nil {
		t.Fatal("garbage decoded")
	}
}

// TestLateRetryKeepsTheStory: an older failure whose post is resumed after a restart,
// recorded after a newer one, rewrites only what it replied to and leaves the newer
// failure as the thread a recovery goes to; a recovery rewrites the thread it replied
// to even when the story moved on meanwhile.
func TestLateRetryKeepsTheStory(t *testing.T) {
	var s State
	failed := facts("WorkbookRefreshFailed")
	s.Count("f1", true, t0)
	s.Count("f2", true, t0.Add(time.Hour))
	s.Ended(Outcome{Facts: failed, At: t0.Add(time.Hour), Channel: "C1", TS: "2.0"})
	if rw := s.Ended(Outcome{Facts: failed, At: t0, Channel: "C1", TS: "1.0"}); len(rw) != 0 || s.Failed.TS != "2.0" {
		t.Fatalf("the late retry changed the story: rewrites %+v, failed thread %+v", rw, s.Failed)
	}
	c := s.Count("ok", false, t0.Add(2*time.Hour))
	reply := s.ReplyTo("C1", false, c.Recovered, t0.Add(2*time.Hour))
	s.Failed = &Thread{Channel: "C1", TS: "9.0", At: t0.Add(90 * time.Minute), Root: failed} // moved on meanwhile
	ok := facts("WorkbookRefreshSucceeded")
	ok.Recovered = c.Recovered
	rw := s.Ended(Outcome{Facts: ok, At: t0.Add(2 * time.Hour), Channel: "C1", TS: "3.0", Root: reply})
	if len(rw) != 1 || rw[0].TS != "2.0" || !strings.Contains(rw[0].Message.Text, "recovered") {
		t.Fatalf("rewrites %+v, want the thread it replied to (2.0)", rw)
	}
}
