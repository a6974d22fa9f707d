package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tabhook/tabhook/internal/payload"
	"github.com/tabhook/tabhook/internal/store"
)

// Accepts are committed in groups: the deliveries that arrive while a commit is under
// way go into the next one, a single INSERT of many rows. Each is answered only once
// its group is committed — durable before acknowledged, as with one row a commit —
// but the database does one commit (one WAL flush) for the group instead of one each.

// acceptWorkers is how many groups may be committing at once.
const acceptWorkers = 4

// maxGroup is the most deliveries one INSERT takes.
const maxGroup = 256

type acceptReq struct {
	rec  store.Record
	body []byte
	done chan acceptResult
}

type acceptResult struct {
	id  uint64
	dup bool
	err error
}

// Accept stores a delivery; the row is committed when it returns (store.Store).
func (s *Store) Accept(p payload.Payload, now time.Time) (store.Record, bool, error) {
	return s.AcceptFor(p, "", now)
}

// AcceptFor stores the event's record for a destination (store.Store).
func (s *Store) AcceptFor(p payload.Payload, destination string, now time.Time) (store.Record, bool, error) {
	rec := store.Record{Key: store.KeyFor(p, destination), Destination: destination, Payload: p, ReceivedAt: now.UTC(), State: store.Pending}
	b, err := json.Marshal(store.Stored(rec))
	if err != nil {
		return store.Record{}, false, err
	}
	req := acceptReq{rec: rec, body: b, done: make(chan acceptResult, 1)}
	select {
	case s.accepts <- req:
	case <-s.stopping:
		return store.Record{}, false, store.ErrClosed
	}
	var r acceptResult
	select {
	case r = <-req.done:
	case <-s.committersGone:
		select {
		case r = <-req.done: // committed in the last group
		default:
			return store.Record{}, false, store.ErrClosed
		}
	}
	if r.err != nil {
		return store.Record{}, false, fmt.Errorf("store event: %w", r.err)
	}
	if r.dup {
		return store.Record{ID: r.id, Key: rec.Key, Destination: destination, Payload: p}, true, nil
	}
	rec.ID = r.id
	s.signal() // this replica hears its own news at once
	s.tell()
	return rec, false, nil
}

// commitAccepts takes what is waiting, up to maxGroup, and commits it as one group.
func (s *Store) commitAccepts() {
	defer s.acceptsDone.Done()
	for {
		var first acceptReq
		select {
		case first = <-s.accepts:
		case <-s.stopping:
			return
		}
		group := []acceptReq{first}
	gather:
		for len(group) < maxGroup {
			select {
			case r := <-s.accepts:
				group = append(group, r)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup inserts the group's new keys in one statement and finds the ids of the
// keys already stored (a duplicate, within the group too).
func (s *Store) commitGroup(group []acceptReq) {
	ctx, cancel := s.ctx()
	defer cancel()
	keys, bodies, times := make([]string, len(group)), make([]string, len(group)), make([]time.Time, len(group))
	for i, r := range group {
		keys[i], bodies[i], times[i] = r.rec.Key, string(r.body), r.rec.ReceivedAt
	}
	fresh, err := keyIDs(s.pool.Query(ctx, `
		INSERT INTO tabhook_events (key, rec, state, received_at)
		SELECT k, r::json, 'pending', t FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS u(k, r, t, n)
		ORDER BY n
		ON CONFLICT (key) DO NOTHING RETURNING id, key`, keys, bodies, times))
	existing := map[string]uint64{}
	if err == nil && len(fresh) < len(group) {
		existing, err = keyIDs(s.pool.Query(ctx, `SELECT id, key FROM tabhook_events WHERE key = ANY($1)`, keys))
	}
	answered := map[string]bool{}
	for _, r := range group {
		switch {
		case err != nil:
			r.done <- acceptResult{err: err}
		case fresh[r.rec.Key] != 0 && !answered[r.rec.Key]:
			answered[r.rec.Key] = true
			r.done <- acceptResult{id: fresh[r.rec.Key]}
		case existing[r.rec.Key] != 0:
			r.done <- acceptResult{id: existing[r.rec.Key], dup: true}
		default:
			r.done <- acceptResult{err: fmt.Errorf("key %s neither stored nor found", r.rec.Key)}
		}
	}
}

// keyIDs reads (id, key) rows into a map by key.
func keyIDs(rows pgx.Rows, err error) (map[string]uint64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var id uint64
		var k string
		if err := rows.Scan(&id, &k); err != nil {
			return nil, err
		}
		out[k] = id
	}
	return out, rows.Err()
}
