package relay_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

// TestTwoRelaysShareAChannel: relay A posts five events to #alerts and stops; relay B,
// with a state directory of its own (so its local event numbers start at 1 again),
// posts five others to the same channel while Slack answers 429s and loses an answer.
// Every event of both appears exactly once: B's history checks never take A's messages
// for its own.
func TestTwoRelaysShareAChannel(t *testing.T) {
	w := newWorld(t)
	fire := func(relayName string, hour int) {
		for i := range 5 {
			id, name := fmt.Sprintf("0b5f4c1e-0000-4000-8000-%012d", hour*10+i), fmt.Sprintf("from-%s-%d", relayName, i)
			w.sim.AddWorkbook(tableausim.Workbook{ID: id, Name: name, WebpageURL: "http://tableauserver/#/workbooks/" + id, Project: &tableausim.Ref{ID: "p", Name: "default"}, Owner: tableausim.Ref{ID: tableausim.OwnerUserID}})
			w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: id, ResourceName: name, CreatedAt: time.Date(2026, 11, 30, hour, i, 0, 0, time.UTC)})
		}
	}

	w.slack.DropPostResponses(1)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	fire("A", 8)
	eventually(t, "relay A's 5 events", func() bool { return w.count(relay.EvDelivered) == 5 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	w.ready = make(chan struct{})
	w.slack.RateLimit("chat.postMessage", 3, 1)
	w.slack.DropPostResponses(2)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	fire("B", 9)
	eventually(t, "relay B's 5 events", func() bool { return w.count(relay.EvDelivered) == 10 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	posted := map[string]int{}
	for _, m := range w.slack.Messages() {
		for _, r := range []string{"A", "B"} {
			for i := range 5 {
				if name := fmt.Sprintf("from-%s-%d", r, i); strings.Contains(messageText(m), name) {
					posted[name]++
				}
			}
		}
	}
	for _, r := range []string{"A", "B"} {
		for i := range 5 {
			if name := fmt.Sprintf("from-%s-%d", r, i); posted[name] != 1 {
				t.Errorf("%s posted %d times, want once", name, posted[name])
			}
		}
	}
	uniqueMessages(t, w, 10)
	if w.slack.CountCalls("chat.postMessage", http.StatusTooManyRequests) != 3 {
		t.Error("the fake did not rate-limit")
	}
}

// TestRefusedPostReadsNoHistory: a 429 means Slack did not post; the retry posts
// without reading the channel's history (limited to about one call a minute).
func TestRefusedPostReadsNoHistory(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.slack.RateLimit("chat.postMessage", 2, 1)
	burst(w, 3, "WorkbookUpdated", tableausim.WorkbookID, "SafariSample")
	eventually(t, "all 3 delivered", func() bool { return w.count(relay.EvDelivered) == 3 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.slack.CountCalls("conversations.history", 0); n != 0 {
		t.Errorf("%d history reads after 429s, want 0", n)
	}
	uniqueMessages(t, w, 3)
}

// TestHistoryUnavailablePostsAgain: when the history check after a lost answer cannot
// run (rate limited), the event is posted again — a duplicate rather than a loss — and
// that is counted.
func TestHistoryUnavailablePostsAgain(t *testing.T) {
	w := newWorld(t)
	w.start(w.config(t.TempDir(), "WorkbookUpdated"))
	w.slack.DropPostResponses(1)
	w.slack.RateLimit("conversations.history", 1, 1)
	w.fire(tableausim.Event{Type: "WorkbookUpdated", ResourceLUID: tableausim.WorkbookID, ResourceName: "SafariSample"})
	eventually(t, "the delivery", func() bool { return w.count(relay.EvDelivered) == 1 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.count(relay.EvRepost); n != 1 {
		t.Errorf("%d unchecked reposts reported, want 1", n)
	}
	if n := len(w.slack.Messages()); n != 2 {
		t.Errorf("%d messages, want 2 (the lost one and the repost)", n)
	}
}
