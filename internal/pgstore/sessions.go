package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/tabhook/tabhook/internal/tableau"
)

var _ tableau.SessionShare = (*Store)(nil)

// Share runs fn under a transaction-level advisory lock for key, with the session the
// replicas published last, and publishes what fn returns (tableau.SessionShare): the
// replicas on one personal access token sign in once, not once each — every sign-in
// would end the others' sessions.
func (s *Store) Share(ctx context.Context, key string, fn func(tableau.Session) (tableau.Session, error)) error {
	h := fnv.New64a()
	h.Write([]byte("tabhook session " + key))
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
			return fmt.Errorf("lock the shared Tableau session: %w", err)
		}
		var cur tableau.Session
		var b []byte
		err := tx.QueryRow(ctx, `SELECT value FROM tabhook_sessions WHERE key = $1`, key).Scan(&b)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read the shared Tableau session: %w", err)
		default:
			_ = json.Unmarshal(b, &cur) // unreadable: as if none
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == cur {
			return nil
		}
		b, err = json.Marshal(next)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO tabhook_sessions (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, b)
		return err
	})
}
