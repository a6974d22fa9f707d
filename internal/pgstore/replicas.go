package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"time"
)

// Replicas of `run` that share a store share one set of webhooks: the first creates
// it, the others adopt it, and only the last to stop deletes it. A replica announces
// itself with a heartbeat row; a crashed replica's row expires.

// heartbeatEvery is how often a replica renews its row; one not renewed for
// heartbeatExpiry is taken for dead.
const (
	heartbeatEvery  = 10 * time.Second
	heartbeatExpiry = 30 * time.Second
)

// Join announces a replica of group (the webhooks' name prefix and URL) until leave is
// called; leave reports whether no other live replica of the group remains.
func (s *Store) Join(ctx context.Context, group string) (leave func(context.Context) (last bool, err error), err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	if _, err := s.pool.Exec(ctx, `INSERT INTO tabhook_replicas (id, grp, seen) VALUES ($1, $2, now())`, id, group); err != nil {
		return nil, fmt.Errorf("announce this replica: %w", err)
	}
	hctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				cctx, cancel := context.WithTimeout(hctx, heartbeatEvery)
				_, _ = s.pool.Exec(cctx, `UPDATE tabhook_replicas SET seen = now() WHERE id = $1`, id)
				cancel()
			case <-hctx.Done():
				return
			}
		}
	}()
	return func(ctx context.Context) (bool, error) {
		stop()
		<-done
		if _, err := s.pool.Exec(ctx, `DELETE FROM tabhook_replicas WHERE id = $1`, id); err != nil {
			return false, err
		}
		var others int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tabhook_replicas WHERE grp = $1 AND seen > now() - $2::interval`,
			group, fmt.Sprintf("%d seconds", int(heartbeatExpiry.Seconds()))).Scan(&others)
		return others == 0, err
	}, nil
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
