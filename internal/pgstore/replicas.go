package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicas of `run` that share a store share one set of webhooks: the first creates
// it, the others adopt it, and only the last to stop deletes it.
//
// Membership cannot lie: a replica holds a session-level shared advisory lock on the
// group, on a connection of its own, for as long as it runs; PostgreSQL releases it
// the moment that connection drops — a replica killed with -9, a host gone. The last
// to leave is the one that can then take the lock exclusively. The heartbeat rows stay,
// for display.

// heartbeatEvery is how often a replica renews its row and checks its membership's
// connection, unless Options.Heartbeat says otherwise.
const heartbeatEvery = 10 * time.Second

// memberKey is the advisory lock of a group's membership.
func memberKey(group string) int64 {
	h := fnv.New64a()
	h.Write([]byte("tabhook members " + group))
	return int64(h.Sum64())
}

// Join announces a replica of group (the webhooks' name prefix and URL) until leave is
// called; leave reports whether no other live replica of the group remains.
//
// The membership's connection is checked with every heartbeat: when it was lost (a
// PostgreSQL restart, a proxy cutting idle connections) while this replica runs on,
// the replica joins again at once — otherwise another replica stopping would find
// itself "last" and delete the webhooks this one still serves.
func (s *Store) Join(ctx context.Context, group string) (leave func(context.Context) (last bool, err error), err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	key := memberKey(group)
	member, backend, err := s.member(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("announce this replica: %w", err)
	}
	// Rows of replicas whose session is gone (killed) are of no more use.
	_, _ = s.pool.Exec(ctx, `DELETE FROM tabhook_replicas r WHERE backend <> 0 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend)`)
	if _, err := s.pool.Exec(ctx, `INSERT INTO tabhook_replicas (id, grp, seen, name, version, since, backend) VALUES ($1, $2, now(), $3, $4, now(), $5)`,
		id, group, s.replica, s.version, backend); err != nil {
		_ = member.Close(ctx)
		return nil, fmt.Errorf("announce this replica: %w", err)
	}
	hctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				cctx, cancel := context.WithTimeout(hctx, s.heartbeat)
				if _, err := member.Exec(cctx, `SELECT 1`); err != nil && hctx.Err() == nil {
					_ = member.Close(cctx)
					if m, pid, err := s.member(cctx, key); err == nil {
						member, backend = m, pid
						s.log.Warn("this replica's membership was lost (its database connection dropped); joined again", "group", group)
					} else {
						s.log.Error("this replica's membership was lost and it could not join again: another replica stopping may take it for the last", "group", group, "err", err)
					}
				}
				_, _ = s.pool.Exec(cctx, `UPDATE tabhook_replicas SET seen = now(), backend = $2 WHERE id = $1`, id, backend)
				cancel()
			case <-hctx.Done():
				return
			}
		}
	}()
	return func(ctx context.Context) (bool, error) {
		stop()
		<-done
		_, _ = s.pool.Exec(ctx, `DELETE FROM tabhook_replicas WHERE id = $1`, id)
		// Give up this replica's share, then see whether anyone else holds one: the
		// exclusive lock is granted only when no live replica's session holds it.
		_, _ = member.Exec(ctx, `SELECT pg_advisory_unlock_shared($1)`, key)
		_ = member.Close(ctx)
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return false, err
		}
		defer conn.Release()
		var alone bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&alone); err != nil {
			return false, err
		}
		if alone {
			_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		}
		return alone, nil
	}, nil
}

// member opens the membership's own connection and takes the group's shared lock on
// it: held for as long as the connection lives.
func (s *Store) member(ctx context.Context, key int64) (*pgx.Conn, int32, error) {
	member, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, 0, err
	}
	if _, err := member.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, key); err != nil {
		_ = member.Close(ctx)
		return nil, 0, err
	}
	var backend int32
	if err := member.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		_ = member.Close(ctx)
		return nil, 0, err
	}
	return member, backend, nil
}

// Exclusive runs fn while no other replica of the group runs an Exclusive of its own:
// registering and removing the webhooks never interleave.
func (s *Store) Exclusive(ctx context.Context, group string, fn func() error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	h := fnv.New64a()
	h.Write([]byte("tabhook webhooks " + group))
	key := int64(h.Sum64())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("lock the webhooks: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
	return fn()
}

// Replica is a relay process on the store, as the list of replicas shows it.
type Replica struct {
	Name    string    `json:"name"` // host:pid
	Version string    `json:"version"`
	Since   time.Time `json:"since"`
	Group   string    `json:"group"` // run: the webhooks' prefix and URL it shares; serve: "serve <path>"
	Live    bool      `json:"live"`  // its database session still holds its membership
}

// Replicas lists the relays that joined the store, live ones first: alive exactly while
// their membership connection is.
func (s *Store) Replicas(ctx context.Context) ([]Replica, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.name, r.version, r.since, r.grp, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend) AS live
		FROM tabhook_replicas r ORDER BY live DESC, r.since`)
	if err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var rp Replica
		if err := rows.Scan(&rp.Name, &rp.Version, &rp.Since, &rp.Group, &rp.Live); err != nil {
			return nil, err
		}
		out = append(out, rp)
	}
	return out, rows.Err()
}
