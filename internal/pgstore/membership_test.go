package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMembershipSurvivesALostConnection: a replica whose membership connection drops
// (a PostgreSQL restart, a proxy) while it runs on joins again at its next heartbeat,
// so another replica leaving is not told it is the last; once the first leaves too,
// that one is.
func TestMembershipSurvivesALostConnection(t *testing.T) {
	name := schema(t)
	ctx := context.Background()
	open := func(replica string) *Store {
		s, err := Open(ctx, testURL(), Options{Schema: name, Replica: replica, Heartbeat: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open("a"), open("b")
	leaveA, err := a.Join(ctx, "run tabhook https://relay.example.com/t")
	if err != nil {
		t.Fatal(err)
	}
	var before int32
	if err := a.pool.QueryRow(ctx, `SELECT backend FROM tabhook_replicas WHERE name = 'a'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// a's membership connection is cut, as a restart would.
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, before); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var now int32
		_ = a.pool.QueryRow(ctx, `SELECT backend FROM tabhook_replicas WHERE name = 'a'`).Scan(&now)
		if now != 0 && now != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a did not join again after its membership connection was cut")
		}
		time.Sleep(20 * time.Millisecond)
	}
	leaveB, err := b.Join(ctx, "run tabhook https://relay.example.com/t")
	if err != nil {
		t.Fatal(err)
	}
	if last, err := leaveB(ctx); err != nil || last {
		t.Fatalf("b leaving while a runs: last=%v %v; want false", last, err)
	}
	if last, err := leaveA(ctx); err != nil || !last {
		t.Fatalf("a leaving alone: last=%v %v; want true", last, err)
	}
}
