package pgstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tabhook/tabhook/internal/fakes/slackfake"
	"github.com/tabhook/tabhook/internal/render"
	"github.com/tabhook/tabhook/internal/slackout"
	"github.com/tabhook/tabhook/internal/store"
	"github.com/tabhook/tabhook/internal/store/storetest"
	"github.com/tabhook/tabhook/internal/tableau"
)

// testURL is the server the tests use: TABHOOK_TEST_POSTGRES, else the project
// machines' local server.
func testURL() string {
	if u := os.Getenv("TABHOOK_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// schema makes a schema of the test's own, dropped when it ends. Without a server the
// test is skipped, saying how to run it — except in CI, where that is a failure.
func schema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is not reachable at %s: %v", Redact(testURL()), err)
		}
		t.Skipf("no PostgreSQL at %s (%v): start one, or set TABHOOK_TEST_POSTGRES to a server's URL", Redact(testURL()), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("tabhook_test_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testURL())
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	return name
}

func open(t *testing.T, schema string) *Store {
	t.Helper()
	s, err := Open(context.Background(), testURL(), Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreContract runs the store contract suite on PostgreSQL. A crash is a store
// abandoned without Close: its leases are left to expire, as a dead replica's would.
func TestStoreContract(t *testing.T) {
	schemas := map[store.Store]string{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			name := schema(t)
			s := open(t, name)
			schemas[s] = name
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			r := open(t, schemas[s])
			schemas[r] = schemas[s]
			return r
		},
		Crash: func(t *testing.T, s store.Store) store.Store {
			r := open(t, schemas[s])
			schemas[r] = schemas[s]
			_ = s.Close()
			return r
		},
	})
}

// TestTwoReplicasShareOneStore: identical deliveries at two replicas are stored once,
// and each due event is claimed by one replica only.
func TestTwoReplicasShareOneStore(t *testing.T) {
	name := schema(t)
	a, b := open(t, name), open(t, name)
	defer a.Close()
	defer b.Close()
	ra, dupA, err := a.Accept(storetest.Event(1), time.Now())
	if err != nil || dupA {
		t.Fatal(err)
	}
	rb, dupB, err := b.Accept(storetest.Event(1), time.Now())
	if err != nil || !dupB || rb.ID != ra.ID {
		t.Fatalf("the same delivery at the other replica: %+v dup=%v %v", rb, dupB, err)
	}
	for i := 2; i <= 20; i++ {
		if _, _, err := a.Accept(storetest.Event(i), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-b.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("replica b heard nothing of a's events (LISTEN/NOTIFY)")
	}
	seen := map[uint64]string{}
	for _, r := range []*Store{a, b, a, b} {
		recs, err := r.Claim(time.Now(), 6, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if seen[rec.ID] != "" {
				t.Fatalf("event %d claimed twice", rec.ID)
			}
			seen[rec.ID] = "x"
		}
	}
	if len(seen) != 20 {
		t.Fatalf("%d of 20 claimed", len(seen))
	}
}

// TestSchemaNewerThanBinaryIsRefused and the password never shown.
func TestSchemaNewerThanBinaryIsRefused(t *testing.T) {
	name := schema(t)
	s := open(t, name)
	_ = s.Close()
	conn, err := pgx.Connect(context.Background(), testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE "+name+".tabhook_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), testURL(), Options{Schema: name})
	if err == nil || !strings.Contains(err.Error(), "newer than this tabhook's") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreachableStoreNamesTheRedactedURL(t *testing.T) {
	url := "postgres://relay:s3cret-db-pass@127.0.0.1:1/tabhook"
	_, err := Open(context.Background(), url, Options{ConnectTimeout: 2 * time.Second})
	if err == nil || strings.Contains(err.Error(), "s3cret-db-pass") || !strings.Contains(err.Error(), "relay:xxxxx@127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

// TestCheck: doctor's look at the database changes nothing and reports the schema and
// the user's rights.
func TestCheck(t *testing.T) {
	name := schema(t)
	url := testURL() + "&search_path=" + name
	if !strings.Contains(testURL(), "?") {
		url = testURL() + "?search_path=" + name
	}
	h, err := Check(context.Background(), url, 5*time.Second)
	if err != nil || h.Version != 0 || !h.CanCreate {
		t.Fatalf("before the first start: %+v %v", h, err)
	}
	s := open(t, name)
	_ = s.Close()
	h, err = Check(context.Background(), url, 5*time.Second)
	if err != nil || h.Version != SchemaVersion || !h.CanWrite {
		t.Fatalf("after the first start: %+v %v", h, err)
	}
}

// TestReplicasShareSlacksPace: two replicas posting to one channel through the shared
// pacer keep Slack's pace together — Slack (the fake, answering 429 to posts closer
// than 900 ms) never has to refuse one — where each on its own pace would post twice
// as fast.
func TestReplicasShareSlacksPace(t *testing.T) {
	name := schema(t)
	a, b := open(t, name), open(t, name)
	defer a.Close()
	defer b.Close()
	// The turns two replicas take for one channel are a second apart, by the
	// database's clock — asserted on the turns themselves, not on when posts happen
	// to reach a Slack fake (which a loaded machine compresses or stretches).
	const interval = time.Second
	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for _, st := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := st.Turn(context.Background(), "C0ALERTS", interval)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			waits = append(waits, w)
			mu.Unlock()
		}()
	}
	wg.Wait()
	window := time.Since(start) // the turns were asked for within this
	slices.Sort(waits)
	for i, w := range waits {
		if min := time.Duration(i)*interval - window; w < min {
			t.Errorf("turn %d waits %s, want at least %s: the replicas did not share the pace (%v)", i, w, min, waits)
		}
	}
	// And through Slack's client: every post goes out, each once.
	fake := slackfake.New("xoxb-pace").Start()
	defer fake.Close()
	msg := render.Message{Text: "x"}
	for _, st := range []*Store{a, b} {
		c := slackout.New(slackout.Options{Token: "xoxb-pace", APIURL: fake.APIURL(), PerChannel: 100, Burst: 1, Pacer: st})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Post(context.Background(), "C0ALERTS", msg, "id"); err != nil {
				t.Errorf("post: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(fake.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

// TestReplicasShareOneTableauSession: processes sharing a credential sign in once —
// the first publishes its session, the others take it; a session that failed is
// replaced, once, by whoever finds it failed first.
func TestReplicasShareOneTableauSession(t *testing.T) {
	name := schema(t)
	a, b := open(t, name), open(t, name)
	defer a.Close()
	defer b.Close()
	var signIns atomic.Int32
	signIn := func(failed string) func(tableau.Session) (tableau.Session, error) {
		return func(cur tableau.Session) (tableau.Session, error) {
			if cur.Token != "" && cur.Token != failed {
				return cur, nil
			}
			n := signIns.Add(1)
			return tableau.Session{Token: fmt.Sprint("token-", n), SiteID: "site"}, nil
		}
	}
	var wg sync.WaitGroup
	for _, st := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := st.Share(context.Background(), "k", signIn("")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := signIns.Load(); n != 1 {
		t.Fatalf("%d sign-ins for four processes, want 1", n)
	}
	// token-1 expires: both find it failed; one signs in, the other takes the new one.
	for _, st := range []*Store{a, b} {
		if err := st.Share(context.Background(), "k", signIn("token-1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := signIns.Load(); n != 2 {
		t.Fatalf("%d sign-ins after one expiry, want 2", n)
	}
}
