package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

func seed(t *testing.T, dir string) (*spool.Spool, uint64, uint64) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := payload.Payload{EventType: "WorkbookUpdated", SiteLUID: "s", ResourceLUID: "r", CreatedAt: "t1"}
	dead, _, _ := sp.Accept(p, time.Now())
	p.CreatedAt = "t2"
	done, _, _ := sp.Accept(p, time.Now())
	sp.Flush()
	_, _ = sp.Update(dead.ID, func(r *store.Record) error { r.State, r.DeadReason = store.Dead, "not_in_channel"; return nil })
	_, _ = sp.Update(done.ID, func(r *store.Record) error { r.State = store.Delivered; return nil })
	return sp, dead.ID, done.ID
}

func exercise(t *testing.T, d Deliveries, dead, done uint64) {
	t.Helper()
	ctx := context.Background()
	recs, err := d.List(ctx, store.ListQuery{State: store.Dead})
	if err != nil || len(recs) != 1 || recs[0].ID != dead {
		t.Fatalf("list dead = %+v, %v", recs, err)
	}
	if all, _ := d.List(ctx, store.ListQuery{}); len(all) != 2 {
		t.Fatalf("list all = %d", len(all))
	}
	// A page at a time: the cursor and the limit cross the socket.
	first, err := d.List(ctx, store.ListQuery{Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	second, err := d.List(ctx, store.ListQuery{After: first[0].ID, Limit: 1})
	if err != nil || len(second) != 1 || second[0].ID <= first[0].ID {
		t.Fatalf("second page = %+v, %v", second, err)
	}
	if rest, _ := d.List(ctx, store.ListQuery{After: second[0].ID}); len(rest) != 0 {
		t.Fatalf("after the last = %+v", rest)
	}
	if r, err := d.Get(ctx, dead); err != nil || r.DeadReason != "not_in_channel" || r.Identity == "" || r.Destinations == nil {
		t.Fatalf("get = %+v, %v", r, err)
	}
	if _, err := d.Get(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if _, err := d.Retry(ctx, done); !errors.Is(err, store.ErrDelivered) {
		t.Errorf("retry delivered: %v", err)
	}
	r, err := d.Retry(ctx, dead)
	if err != nil || r.State != string(store.Pending) || r.DeadReason != "" {
		t.Fatalf("retry = %+v, %v", r, err)
	}
}

// TestThroughTheRunningRelay: while a relay holds the spool, the CLI's calls go through
// the control socket and retried events are scheduled.
func TestThroughTheRunningRelay(t *testing.T) {
	dir := t.TempDir()
	sp, dead, done := seed(t, dir)
	defer sp.Close()
	srv, err := Serve(dir, sp)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := Serve(dir, sp); err == nil {
		t.Error("a second control socket was opened over a live one")
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*socketClient); !ok {
		t.Fatalf("opened %T, want the socket client", d)
	}
	for len(sp.Changed()) > 0 {
		<-sp.Changed()
	}
	exercise(t, d, dead, done)
	// The retried event is due: the relay's scheduler hears it from the store.
	select {
	case <-sp.Changed():
	default:
		t.Error("the retry did not tell the scheduler")
	}
	if recs, _ := sp.Claim(time.Now(), 10, time.Minute); len(recs) != 1 || recs[0].ID != dead {
		t.Errorf("claimable after the retry: %+v", recs)
	}
	_ = d.Close()
}

// TestWithoutARelay: with no relay, the CLI opens the spool itself.
func TestWithoutARelay(t *testing.T) {
	dir := t.TempDir()
	sp, dead, done := seed(t, dir)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(local); !ok {
		t.Fatalf("opened %T, want the spool itself", d)
	}
	exercise(t, d, dead, done)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Reading a cleanly closed spool opens it read-only: a second reader at the same
	// time is fine (a writer would hold the lock), and it lists and shows as before.
	r1, err := OpenForReading(dir)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := OpenForReading(dir)
	if err != nil {
		t.Fatalf("a second read-only reader: %v", err)
	}
	if got, err := r2.Get(context.Background(), dead); err != nil || got.State != "pending" {
		t.Fatalf("read-only get: %+v %v", got, err)
	}
	_ = r2.Close()
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	// No relay has used this directory, or it does not exist: an error that says
	// so, never an empty spool.
	empty := t.TempDir()
	for dir, missing := range map[string]bool{empty: false, empty + "/nope": true} {
		_, err = Open(dir)
		var nse *NoSpoolError
		if !errors.As(err, &nse) || nse.DirMissing != missing {
			t.Errorf("Open(%s): %v, want a NoSpoolError (dir missing: %v)", dir, err, missing)
		}
	}
}

// TestAnswerIsAtMostAPage: however many records there are and whatever limit is asked,
// one answer of the control API holds at most MaxPage of them.
func TestAnswerIsAtMostAPage(t *testing.T) {
	sp, err := spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := range MaxPage + 3 {
		p := payload.Payload{EventType: "WorkbookUpdated", SiteLUID: "s", ResourceLUID: "r", CreatedAt: strconv.Itoa(i)}
		if _, _, err := sp.Accept(p, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sp.Flush()
	h := &handler{st: sp}
	for _, tc := range []struct {
		limit string
		want  int
	}{
		{"", MaxPage},
		{"0", MaxPage},
		{strconv.Itoa(MaxPage * 10), MaxPage},
		{"2", 2},
	} {
		rec := httptest.NewRecorder()
		h.list(rec, httptest.NewRequest(http.MethodGet, "/deliveries?limit="+tc.limit, nil))
		var got []Delivery
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("limit=%q: HTTP %d %v", tc.limit, rec.Code, err)
		}
		if len(got) != tc.want {
			t.Errorf("limit=%q: %d records, want %d", tc.limit, len(got), tc.want)
		}
	}
}
