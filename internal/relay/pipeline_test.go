package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/enrich"
	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

// fakeSlack records posts and answers as scripted.
type fakeSlack struct {
	mu      sync.Mutex
	posts   []fakePost
	postErr error // answered to the next post, then cleared
	found   bool  // FindPosted finds the message
	finds   int
	uploads int
	held    time.Time
}

type fakePost struct {
	ch         string
	msg        render.Message
	identities []string
}

func (f *fakeSlack) ChannelID(_ context.Context, ch string) (string, error) {
	if ch == "#missing" {
		return "", &slackout.Error{Op: "resolve", Code: "channel_not_found", Permanent: true}
	}
	return "ID" + strings.TrimPrefix(ch, "#"), nil
}

func (f *fakeSlack) Post(_ context.Context, ch string, m render.Message, ids ...string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.postErr; err != nil {
		f.postErr = nil
		return "", err
	}
	f.posts = append(f.posts, fakePost{ch, m, ids})
	return "1.00000" + string(rune('0'+len(f.posts))), nil
}

func (f *fakeSlack) Reply(ctx context.Context, ch, _ string, m render.Message, ids ...string) (string, error) {
	return f.Post(ctx, ch, m, ids...)
}

func (f *fakeSlack) FindReply(ctx context.Context, ch, _, id string, since time.Time) (string, bool, error) {
	return f.FindPosted(ctx, ch, id, since)
}

func (f *fakeSlack) Update(context.Context, string, string, render.Message) error { return nil }

func (f *fakeSlack) UserByEmail(context.Context, string) (string, error) {
	return "", slackout.ErrNoUser
}

func (f *fakeSlack) FindPosted(context.Context, string, string, time.Time) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	return "9.000001", f.found, nil
}

func (f *fakeSlack) Upload(context.Context, string, string, string, string, []byte) error {
	f.mu.Lock()
	f.uploads++
	f.mu.Unlock()
	return nil
}

func (f *fakeSlack) HeldUntil(string) time.Time { return f.held }

func (f *fakeSlack) Permalink(_ context.Context, ch, ts string) (string, error) {
	return "https://fake.slack.com/archives/" + ch + "/p" + ts, nil
}

// fakeEnricher names each event after its resource and puts it in project "Finance"
// when the resource LUID says so.
type fakeEnricher struct{}

func (fakeEnricher) Enrich(_ context.Context, p payload.Payload) enrich.Facts {
	f := enrich.Base(p)
	if strings.HasPrefix(p.ResourceLUID, "fin") {
		f.Project = "Finance"
	}
	if p.Resource == "WORKBOOK" {
		f.Preview = []byte("png")
	}
	return f
}

func ev(i int, luid string) payload.Payload {
	return payload.Payload{Resource: "WORKBOOK", EventType: "WorkbookUpdated", ResourceName: "wb", SiteLUID: "site", ResourceLUID: luid, CreatedAt: time.Date(2026, 11, 30, 7, 0, i, 0, time.UTC).Format(time.RFC3339)}
}

func pipelineWith(t *testing.T, sl *fakeSlack) (*Pipeline, *spool.Spool, *[]Event) {
	t.Helper()
	sp := openSpool(t)
	var mu sync.Mutex
	var events []Event
	p := NewPipeline(ServiceConfig{Store: sp, Slack: sl, Enricher: fakeEnricher{}, SiteID: func() string { return "site" },
		Routing: Routing{Default: "#alerts", Routes: []Route{{Projects: []string{"Finance"}, Channel: "#finance"}}},
		Observe: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	return p, sp, &events
}

// stored accepts the payloads and claims them, as the scheduler would.
func stored(t *testing.T, sp *spool.Spool, ps ...payload.Payload) []store.Record {
	t.Helper()
	for _, p := range ps {
		if _, _, err := sp.Accept(p, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sp.Flush()
	recs, err := sp.Claim(time.Now(), len(ps), time.Minute)
	if err != nil || len(recs) != len(ps) {
		t.Fatalf("claimed %d of %d: %v", len(recs), len(ps), err)
	}
	return recs
}

func itemsOf(recs []store.Record) []*item {
	out := make([]*item, len(recs))
	for i, r := range recs {
		out[i] = &item{rec: r, facts: enrich.Base(r.Payload)}
	}
	return out
}

func TestStageSite(t *testing.T) {
	site := ""
	p := NewPipeline(ServiceConfig{SiteID: func() string { return site }})
	items := []*item{{rec: store.Record{Payload: payload.Payload{SiteLUID: "a"}}}, {rec: store.Record{Payload: payload.Payload{SiteLUID: "b"}}}}
	p.checkSite(context.Background(), items)
	var we *waitError
	if !errors.As(items[0].err, &we) || !errors.As(items[1].err, &we) {
		t.Fatalf("site unknown: %v %v", items[0].err, items[1].err)
	}
	site = "a"
	for _, it := range items {
		it.err = nil
	}
	p.checkSite(context.Background(), items)
	var pe *permanentError
	if items[0].err != nil || !errors.As(items[1].err, &pe) || pe.code != "site_mismatch" {
		t.Fatalf("site known: %v %v", items[0].err, items[1].err)
	}
}

func TestStageRouteAndHold(t *testing.T) {
	sl := &fakeSlack{}
	p, sp, _ := pipelineWith(t, sl)
	items := itemsOf(stored(t, sp, ev(1, "fin-1"), ev(2, "ops-1")))
	p.enrich(context.Background(), items)
	p.route(context.Background(), items)
	if items[0].channel != "#finance" || items[0].chID != "IDfinance" || items[1].channel != "#alerts" {
		t.Fatalf("routed to %q and %q", items[0].channel, items[1].channel)
	}
	sl.held = time.Now().Add(time.Second)
	items[1].rec.PostStarted = true // resuming a post: not held back into a digest
	p.hold(context.Background(), items)
	if !items[0].later.Equal(sl.held) || !items[1].later.IsZero() {
		t.Fatalf("hold: %v %v", items[0].later, items[1].later)
	}
	p.SetRouting(Routing{Default: "#missing"})
	items = itemsOf(stored(t, sp, ev(3, "ops-2")))
	p.route(context.Background(), items)
	if !slackout.IsPermanent(items[0].err) {
		t.Fatalf("a missing channel: %v", items[0].err)
	}
}

func TestStagePostSingleAndDigest(t *testing.T) {
	sl := &fakeSlack{}
	p, sp, _ := pipelineWith(t, sl)
	items := itemsOf(stored(t, sp, ev(1, "ops-1"), ev(2, "ops-2"), ev(3, "ops-3"), ev(4, "fin-1")))
	p.enrich(context.Background(), items)
	p.route(context.Background(), items)
	p.post(context.Background(), items)
	if len(sl.posts) != 2 {
		t.Fatalf("%d posts, want a digest and a single", len(sl.posts))
	}
	digest, single := sl.posts[0], sl.posts[1]
	if digest.ch != "IDalerts" || len(digest.identities) != 3 || !strings.Contains(digest.msg.Text, "3 Tableau events") {
		t.Errorf("digest: %+v", digest)
	}
	if single.ch != "IDfinance" || len(single.identities) != 1 || single.identities[0] != items[3].rec.Identity() {
		t.Errorf("single: %+v", single)
	}
	for i, it := range items {
		r, _ := sp.Get(it.rec.ID)
		if !it.posted || r.MessageTS == "" || !r.PostStarted || r.SentAt.IsZero() || r.Digest != (i < 3) {
			t.Errorf("item %d: posted=%v record %+v", i, it.posted, r)
		}
	}
	p.preview(context.Background(), items)
	if sl.uploads != 1 {
		t.Errorf("%d previews uploaded, want 1 (the single message's)", sl.uploads)
	}
}

func TestStagePostResumesAnInterruptedPost(t *testing.T) {
	sl := &fakeSlack{found: true}
	p, sp, events := pipelineWith(t, sl)
	recs := stored(t, sp, ev(1, "ops-1"), ev(2, "ops-2"))
	for _, r := range recs {
		if _, err := sp.Update(r.ID, func(r *store.Record) error { r.PostStarted, r.SentAt = true, time.Now(); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	recs[0].PostStarted, recs[1].PostStarted = true, true
	items := itemsOf(recs)
	p.route(context.Background(), items)
	p.post(context.Background(), items)
	if sl.finds != 2 || len(sl.posts) != 0 || !items[0].posted || !items[1].posted {
		t.Fatalf("finds %d posts %d: interrupted posts found in history must not be posted again (nor digested)", sl.finds, len(sl.posts))
	}
	if n := count(*events, EvRecovered); n != 2 {
		t.Errorf("%d recovered events reported", n)
	}
}

func count(events []Event, typ string) int {
	n := 0
	for _, e := range events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestStageRefusedPosts(t *testing.T) {
	cases := []struct {
		name                string
		err                 error
		wantLater, wantFail bool
	}{
		{"429", &slackout.Error{Code: "ratelimited", RetryAfter: time.Second, NoEffect: true}, false, true},
		{"held", &slackout.Error{Code: "held", RetryAfter: time.Second, NoEffect: true}, true, false},
		{"lost answer", &slackout.Error{Code: "network"}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sl := &fakeSlack{postErr: tc.err, held: time.Now().Add(time.Second)}
			p, sp, _ := pipelineWith(t, sl)
			items := itemsOf(stored(t, sp, ev(1, "ops-1")))
			p.route(context.Background(), items)
			p.post(context.Background(), items)
			it := items[0]
			if (!it.later.IsZero()) != tc.wantLater || (it.err != nil) != tc.wantFail {
				t.Fatalf("later=%v err=%v", it.later, it.err)
			}
			r, _ := sp.Get(it.rec.ID)
			if r.PostStarted == slackout.NoEffect(tc.err) {
				t.Errorf("post_started=%v after %v: only an outcome Slack did not tell leaves it set", r.PostStarted, tc.err)
			}
		})
	}
}

func TestStageSettle(t *testing.T) {
	sl := &fakeSlack{held: time.Now().Add(3 * time.Second)}
	p, sp, events := pipelineWith(t, sl)
	items := itemsOf(stored(t, sp, ev(1, "a"), ev(2, "b"), ev(3, "c"), ev(4, "d"), ev(5, "e")))
	items[0].posted, items[0].inPost = true, 1
	items[1].err = &permanentError{"no", "site_mismatch"}
	items[2].err = &waitError{"wait"}
	items[3].err = &slackout.Error{Code: "ratelimited", RetryAfter: time.Second, NoEffect: true}
	items[4].later = time.Now().Add(time.Minute).Truncate(time.Millisecond)
	p.settle(context.Background(), items, time.Now())
	get := func(i int) store.Record { r, _ := sp.Get(items[i].rec.ID); return r }
	if r := get(0); r.State != store.Delivered || r.Attempts != 1 {
		t.Errorf("delivered: %+v", r)
	}
	if r := get(1); r.State != store.Dead || r.Attempts != 1 {
		t.Errorf("dead: %+v", r)
	}
	if r := get(2); r.State != store.Pending || r.Attempts != 0 || r.NextTry.IsZero() {
		t.Errorf("waiting for Tableau counts no attempt: %+v", r)
	}
	if r := get(3); !r.NextTry.Equal(sl.held) || r.Attempts != 0 {
		t.Errorf("429: retried exactly when Slack said (%v), the wait not counted as an attempt: %+v", sl.held, r)
	}
	if r := get(4); !r.NextTry.Equal(items[4].later) || r.Attempts != 0 {
		t.Errorf("put off: %+v", r)
	}
	if count(*events, EvDelivered) != 1 || count(*events, EvDead) != 1 || count(*events, EvRetrying) != 2 {
		t.Errorf("events: %+v", *events)
	}
}

// TestStaleClaimSendsNothing: a holder whose claim was taken over (frozen past its
// lease) writes nothing and posts nothing when it goes on; the new holder posts once
// and its record stays as it wrote it.
func TestStaleClaimSendsNothing(t *testing.T) {
	sl := &fakeSlack{}
	p, sp, _ := pipelineWith(t, sl)
	if _, _, err := sp.Accept(ev(1, "a"), time.Now()); err != nil {
		t.Fatal(err)
	}
	sp.Flush()
	a, err := sp.Claim(time.Now(), 1, 10*time.Millisecond)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim A: %v %v", a, err)
	}
	time.Sleep(30 * time.Millisecond) // A frozen past its lease
	b, err := sp.Claim(time.Now(), 1, time.Minute)
	if err != nil || len(b) != 1 {
		t.Fatalf("claim B: %v %v", b, err)
	}
	p.Deliver(context.Background(), b) // B delivers
	p.Deliver(context.Background(), a) // A thaws and goes on
	if n := len(sl.posts); n != 1 {
		t.Fatalf("%d posts, want 1: the stale holder posted", n)
	}
	got, _ := sp.Get(b[0].ID)
	if got.State != store.Delivered || got.MessageTS == "" {
		t.Fatalf("B's record: %+v", got)
	}
}

// TestStageBacklogDigestCarriesOneKey: a digest of more events than its metadata can
// list carries one key, kept in each record; after a lost answer the channel is
// searched once for that key and, found, every event is recorded as posted — no second
// message; not found, the digest is posted again under the same key.
func TestStageBacklogDigestCarriesOneKey(t *testing.T) {
	var ps []payload.Payload
	for i := range maxListed + 30 {
		ps = append(ps, ev(i, fmt.Sprintf("ops-%d", i)))
	}
	for _, found := range []bool{true, false} {
		sl := &fakeSlack{postErr: &slackout.Error{Op: "post message", Code: "no answer"}} // the answer is lost
		p, sp, _ := pipelineWith(t, sl)
		items := itemsOf(stored(t, sp, ps...))
		p.route(context.Background(), items)
		p.post(context.Background(), items)
		r, _ := sp.Get(items[0].rec.ID)
		key := r.DigestKey
		if !strings.HasPrefix(key, "digest-") || !r.PostStarted {
			t.Fatalf("the interrupted digest's record: %+v", r)
		}
		for _, it := range items {
			if r, _ := sp.Get(it.rec.ID); r.DigestKey != key {
				t.Fatalf("record %d carries key %q, want %q", it.rec.ID, r.DigestKey, key)
			}
		}
		// The retry.
		sl.found = found
		var again []store.Record
		for _, it := range items {
			r, _ := sp.Get(it.rec.ID)
			again = append(again, r)
		}
		retry := itemsOf(again)
		p.route(context.Background(), retry)
		p.post(context.Background(), retry)
		if sl.finds != 1 {
			t.Errorf("found=%v: %d history searches, want 1 for the whole digest", found, sl.finds)
		}
		wantPosts := 0
		if !found {
			wantPosts = 1
		}
		if len(sl.posts) != wantPosts {
			t.Fatalf("found=%v: %d posts after the lost answer, want %d", found, len(sl.posts), wantPosts)
		}
		if !found && (len(sl.posts[0].identities) != 1 || sl.posts[0].identities[0] != key) {
			t.Errorf("the digest posted again carries %v, want its key %s", sl.posts[0].identities, key)
		}
		for _, it := range retry {
			if !it.posted {
				t.Fatalf("found=%v: event %d not recorded as posted", found, it.rec.ID)
			}
		}
	}
}
