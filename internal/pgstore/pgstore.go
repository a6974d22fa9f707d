// Package pgstore is the store contract (internal/store) on PostgreSQL, for several
// relays sharing one database: an event is acknowledged once its row is committed,
// identical deliveries arriving at different replicas are stored once (a unique key),
// each due event is leased to one replica at a time (FOR UPDATE SKIP LOCKED) and a
// replica that dies loses its leases when they expire; replicas hear of new work by
// LISTEN/NOTIFY, with the next due time as the fallback.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tabhook/tabhook/internal/store"
)

// SchemaVersion is the schema this binary writes and reads.
const SchemaVersion = 5

const channel = "tabhook_changed"

// Options configure Open.
type Options struct {
	// Schema, when set, is the PostgreSQL schema the tables live in (tests use their
	// own); default the connection's search_path.
	Schema string
	// ConnectTimeout bounds reaching the server at open; default 10s.
	ConnectTimeout time.Duration
	// Replica names this process in the claims it holds, for a listing; default
	// <host>:<pid>. Version is its tabhook version, for the list of replicas.
	Replica, Version string
	// Heartbeat is how often a replica that joined a group renews its row and checks
	// its membership's connection; default 10s.
	Heartbeat time.Duration
	// Logger hears of a membership lost and joined again; default none.
	Logger *slog.Logger
}

// Store is a PostgreSQL store.
type Store struct {
	pool    *pgxpool.Pool
	changed chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	timeout time.Duration

	outbox   chan struct{} // accepts waiting to be NOTIFYed
	notified chan struct{} // closed when the notifier has stopped

	accepts     chan acceptReq // deliveries waiting for the next group commit
	stopping    chan struct{}  // closed by Close: no more accepts
	acceptsDone sync.WaitGroup
	// committersGone is closed once no committer runs: a queued accept is refused.
	committersGone chan struct{}
	replica        string // this process, as its claims name it
	version        string
	heartbeat      time.Duration // a joined replica's row renewal and membership check
	log            *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Redact is a store URL with its password replaced, for output and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable database URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects, creates or migrates the schema (under a lock, so replicas starting
// together do not race) and starts listening for changes.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", Redact(dsn), errors.New("not a PostgreSQL URL (postgres://user@host:5432/db)"))
	}
	if o.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16 // acknowledgements wait on commits: many in flight at once
	}
	cctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, cfg)
	if err == nil {
		err = pool.Ping(cctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("store %s: cannot reach PostgreSQL within %s: %w", Redact(dsn), o.ConnectTimeout, redactErr(err, dsn))
	}
	if o.Replica == "" {
		o.Replica = store.ThisProcess()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = heartbeatEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{pool: pool, changed: make(chan struct{}, 1), done: make(chan struct{}), timeout: 15 * time.Second, replica: o.Replica, version: o.Version, heartbeat: o.Heartbeat, log: o.Logger,
		outbox: make(chan struct{}, 1), notified: make(chan struct{}),
		accepts: make(chan acceptReq, maxGroup), stopping: make(chan struct{}), committersGone: make(chan struct{})}
	if err := s.migrate(cctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store %s: %w", Redact(dsn), err)
	}
	lctx, stop := context.WithCancel(context.Background())
	s.cancel = stop
	listening := make(chan struct{})
	go s.listen(lctx, listening)
	go s.notify(lctx)
	for range acceptWorkers {
		s.acceptsDone.Add(1)
		go s.commitAccepts()
	}
	select { // so that no change made after Open returns goes unheard
	case <-listening:
	case <-cctx.Done():
	}
	return s, nil
}

// redactErr keeps a password that pgx may quote out of an error.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

// migrations, in order; migration i brings the schema to version i+1.
var migrations = []string{
	`CREATE TABLE tabhook_events (
		id          bigserial PRIMARY KEY,
		key         text NOT NULL UNIQUE,
		rec         json NOT NULL, -- the record as stored (store.Stored); never queried into
		state       text NOT NULL,
		received_at timestamptz NOT NULL,
		next_try    timestamptz,
		delivered_at timestamptz,
		lease_until timestamptz,
		held        boolean NOT NULL DEFAULT false
	);
	CREATE INDEX tabhook_events_pending ON tabhook_events (id) WHERE state = 'pending';`,
	`CREATE TABLE tabhook_replicas (
		id   text PRIMARY KEY,
		grp  text NOT NULL,
		seen timestamptz NOT NULL
	);`,
	`CREATE TABLE tabhook_pace (
		channel text PRIMARY KEY,
		next_at timestamptz NOT NULL
	);`,
	`CREATE TABLE tabhook_items (
		key        text PRIMARY KEY,
		value      bytea NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now()
	);`,
	// Fenced claims: each claim draws a token; a write checks it in its transaction.
	`CREATE SEQUENCE tabhook_lease_seq;
	ALTER TABLE tabhook_events ADD COLUMN lease_token bigint NOT NULL DEFAULT 0;
	ALTER TABLE tabhook_events ADD COLUMN lease_holder text NOT NULL DEFAULT '';
	ALTER TABLE tabhook_replicas ADD COLUMN name text NOT NULL DEFAULT '',
		ADD COLUMN version text NOT NULL DEFAULT '', ADD COLUMN since timestamptz NOT NULL DEFAULT now(),
		ADD COLUMN backend int NOT NULL DEFAULT 0;
	CREATE TABLE tabhook_sessions (
		key   text PRIMARY KEY,
		value bytea NOT NULL -- a Tableau session the replicas share (tableau.Session, JSON)
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// One replica migrates at a time; the others wait and find it done.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(72707369)`); err != nil {
		return fmt.Errorf("lock the schema: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(72707369)`)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS tabhook_schema (version int NOT NULL)`); err != nil {
		return fmt.Errorf("create the schema table (does the user have CREATE on the database?): %w", err)
	}
	var version int
	err = conn.QueryRow(ctx, `SELECT version FROM tabhook_schema`).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := conn.Exec(ctx, `INSERT INTO tabhook_schema VALUES (0)`); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("the database's schema is version %d, newer than this tabhook's (%d): upgrade tabhook on every replica", version, SchemaVersion)
	}
	for v := version; v < SchemaVersion; v++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("migrate the schema to version %d: %w", v+1, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tabhook_schema SET version = $1`, v+1); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// listen turns NOTIFY into Changed signals; it reconnects after a lost connection.
func (s *Store) listen(ctx context.Context, listening chan struct{}) {
	defer close(s.done)
	var once sync.Once
	for ctx.Err() == nil {
		conn, err := s.pool.Acquire(ctx)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+channel)
			if err == nil {
				once.Do(func() { close(listening) })
			}
			for err == nil {
				_, err = conn.Conn().WaitForNotification(ctx)
				if err == nil {
					s.signal()
				}
			}
			conn.Release()
		}
		s.signal() // something may have changed while not listening
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
}

// tell asks the notifier to NOTIFY the other replicas.
func (s *Store) tell() {
	select {
	case s.outbox <- struct{}{}:
	default:
	}
}

// notify sends one NOTIFY for every burst of accepts, at most every notifyEvery.
func (s *Store) notify(ctx context.Context) {
	defer close(s.notified)
	for {
		select {
		case <-s.outbox:
		case <-ctx.Done():
			return
		}
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		_, _ = s.pool.Exec(cctx, `SELECT pg_notify('`+channel+`', '')`)
		cancel()
		select {
		case <-time.After(notifyEvery):
		case <-ctx.Done():
			return
		}
	}
}

// notifyEvery bounds how often a replica NOTIFYs the others of new events.
const notifyEvery = 20 * time.Millisecond

func (s *Store) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Changed is signalled when events may have become due (store.Store).
func (s *Store) Changed() <-chan struct{} { return s.changed }

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// decode reads a row's record, with its ID.
func decode(id uint64, b []byte) (store.Record, error) {
	var r store.Stored
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Record{}, fmt.Errorf("event %d: %w", id, err)
	}
	r.ID = id
	return store.Record(r), nil
}

// Claim leases up to max due events to this replica (store.Store).
func (s *Store) Claim(now time.Time, max int, lease time.Duration) ([]store.Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var out []store.Record
	// Claims are serialised across replicas (a transaction-level advisory lock of the
	// schema): replicas woken together by a storm do not each take a part of it — the
	// first takes every due event up to max, one digest per channel as with a single
	// replica; the next sees them leased.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tabhook_claim/' || current_schema()))`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			UPDATE tabhook_events SET lease_until = $2, held = false, lease_token = nextval('tabhook_lease_seq'), lease_holder = $4 WHERE id IN (
				SELECT id FROM tabhook_events
				WHERE state = 'pending' AND (next_try IS NULL OR next_try <= $1) AND (lease_until IS NULL OR lease_until <= $1)
				ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, rec, lease_token`, now, now.Add(lease), max, s.replica)
		if err != nil {
			return err
		}
		out, err = collectLeased(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Record) int { return cmpID(a.ID, b.ID) })
	return out, nil
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// collectLeased reads rows of id, rec and lease_token.
func collectLeased(rows pgx.Rows) ([]store.Record, error) {
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var id, token int64
		var b []byte
		if err := rows.Scan(&id, &b, &token); err != nil {
			return nil, err
		}
		r, err := decode(uint64(id), b)
		if err != nil {
			return nil, err
		}
		r.Lease = uint64(token)
		out = append(out, r)
	}
	return out, rows.Err()
}

func collect(rows pgx.Rows) ([]store.Record, error) {
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var id uint64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return nil, err
		}
		r, err := decode(id, b)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Release ends the leases of these events (store.Store); holds stay.
func (s *Store) Release(ids ...uint64) {
	if len(ids) == 0 {
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, _ = s.pool.Exec(ctx, `
		WITH up AS (UPDATE tabhook_events SET lease_until = NULL
			WHERE id = ANY($1) AND NOT held AND state = 'pending' AND lease_until IS NOT NULL RETURNING id)
		SELECT pg_notify('`+channel+`', '') FROM up LIMIT 1`, ids)
	s.signal()
}

// Extend renews this replica's leases on these events (store.Store).
func (s *Store) Extend(until time.Time, ids ...uint64) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, _ = s.pool.Exec(ctx, `UPDATE tabhook_events SET lease_until = $2 WHERE id = ANY($1) AND lease_until IS NOT NULL AND NOT held`, ids, until)
}

// Hold keeps these events unclaimed until then (store.Store).
func (s *Store) Hold(until time.Time, ids ...uint64) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, _ = s.pool.Exec(ctx, `UPDATE tabhook_events SET lease_until = $2, held = true WHERE id = ANY($1)`, ids, until)
	s.signal()
}

// Expedite makes a destination's events waiting on a retry due now (store.Store): their
// next try is cleared in the row and in its record.
func (s *Store) Expedite(destination string, now time.Time) (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	tag, err := s.pool.Exec(ctx, `
		UPDATE tabhook_events SET next_try = NULL, rec = (rec::jsonb - 'next_try')::json
		WHERE state = 'pending' AND next_try > $1 AND (lease_until IS NULL OR lease_until <= $1)
		  AND COALESCE(rec->>'destination', '') = $2`, now, destination)
	if err != nil {
		return 0, fmt.Errorf("expedite %q's retries: %w", destination, err)
	}
	if tag.RowsAffected() > 0 {
		s.signal()
	}
	return int(tag.RowsAffected()), nil
}

// NextDue is when the next pending event is due (store.Store).
func (s *Store) NextDue() (time.Time, bool) {
	ctx, cancel := s.ctx()
	defer cancel()
	var next *time.Time
	// Asked only while a worker is free: a scan of the pending rows' index, not of the
	// table; an index on the due time would cost every insert and lease more.
	err := s.pool.QueryRow(ctx, `
		SELECT min(GREATEST(COALESCE(next_try, 'epoch'), COALESCE(lease_until, 'epoch')))
		FROM tabhook_events WHERE state = 'pending'`).Scan(&next)
	if err != nil || next == nil {
		return time.Time{}, false
	}
	return *next, true
}

// Update changes one record in one transaction (store.Store).
func (s *Store) Update(id uint64, fn func(*store.Record) error) (store.Record, error) {
	var out store.Record
	err := s.inTx(func(tx pgx.Tx) error {
		r, err := update(tx, id, fn)
		out = r
		return err
	})
	return out, err
}

// UpdateMany changes several records in one transaction (store.Store): one read and
// one write for all of them, not one round trip each.
func (s *Store) UpdateMany(ids []uint64, fn func(*store.Record) error) error {
	if len(ids) == 1 {
		_, err := s.Update(ids[0], fn)
		return err
	}
	return s.inTx(func(tx pgx.Tx) error {
		ctx := context.Background()
		rows, err := tx.Query(ctx, `SELECT id, rec, lease_token FROM tabhook_events WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		recs, err := collectLeased(rows)
		if err != nil {
			return err
		}
		if len(recs) != len(uniq(ids)) {
			return store.ErrNotFound
		}
		n := len(recs)
		upIDs, bodies, states := make([]uint64, n), make([][]byte, n), make([]string, n)
		nexts, delivereds := make([]*time.Time, n), make([]*time.Time, n)
		for i := range recs {
			if err := fn(&recs[i]); err != nil {
				return err
			}
			b, err := json.Marshal(store.Stored(recs[i]))
			if err != nil {
				return err
			}
			upIDs[i], bodies[i], states[i] = recs[i].ID, b, string(recs[i].State)
			nexts[i], delivereds[i] = nullTime(recs[i].NextTry), nullTime(recs[i].DeliveredAt)
		}
		_, err = tx.Exec(ctx, `
			UPDATE tabhook_events e SET rec = u.rec, state = u.state, next_try = u.next_try, delivered_at = u.delivered_at,
				lease_until = CASE WHEN u.state = 'pending' THEN e.lease_until END, held = e.held AND u.state = 'pending'
			FROM unnest($1::bigint[], $2::json[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(id, rec, state, next_try, delivered_at)
			WHERE e.id = u.id`, upIDs, bodies, states, nexts, delivereds)
		return err
	})
}

func uniq(ids []uint64) map[uint64]bool {
	m := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func (s *Store) inTx(fn func(pgx.Tx) error) error {
	ctx, cancel := s.ctx()
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func update(tx pgx.Tx, id uint64, fn func(*store.Record) error) (store.Record, error) {
	ctx := context.Background()
	var b []byte
	var token int64
	err := tx.QueryRow(ctx, `SELECT rec, lease_token FROM tabhook_events WHERE id = $1 FOR UPDATE`, id).Scan(&b, &token)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, err
	}
	r, err := decode(id, b)
	if err != nil {
		return r, err
	}
	r.Lease = uint64(token) // the claim that holds now, for fn's fence
	if err := fn(&r); err != nil {
		return r, err
	}
	out, err := json.Marshal(store.Stored(r))
	if err != nil {
		return r, err
	}
	// Leaving pending ends any lease: a later requeue starts unclaimed.
	_, err = tx.Exec(ctx, `UPDATE tabhook_events SET rec = $2, state = $3, next_try = $4, delivered_at = $5,
		lease_until = CASE WHEN $3 = 'pending' THEN lease_until END, held = held AND $3 = 'pending' WHERE id = $1`,
		id, out, string(r.State), nullTime(r.NextTry), nullTime(r.DeliveredAt))
	return r, err
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Get returns one record (store.Store).
func (s *Store) Get(id uint64) (store.Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT id, rec, lease_holder, lease_until, held FROM tabhook_events WHERE id = $1`, id)
	if err != nil {
		return store.Record{}, err
	}
	recs, err := collectShown(rows)
	switch {
	case err != nil:
		return store.Record{}, err
	case len(recs) == 0:
		return store.Record{}, store.ErrNotFound
	}
	return recs[0], nil
}

// collectShown reads rows of id, rec, lease_holder, lease_until and held: records as
// a listing shows them, with who holds a live claim on a pending one.
func collectShown(rows pgx.Rows) ([]store.Record, error) {
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var id int64
		var b []byte
		var holder string
		var until *time.Time
		var held bool
		if err := rows.Scan(&id, &b, &holder, &until, &held); err != nil {
			return nil, err
		}
		r, err := decode(uint64(id), b)
		if err != nil {
			return nil, err
		}
		if r.State == store.Pending && until != nil && !held && until.After(time.Now()) {
			r.Holder, r.LeaseUntil = holder, *until
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// List returns the records in a state, or all, oldest first (store.Store).
func (s *Store) List(q store.ListQuery) ([]store.Record, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	limit := any(nil) // LIMIT NULL: no limit
	if q.Limit > 0 {
		limit = q.Limit
	}
	since := any(nil)
	if !q.Since.IsZero() {
		since = q.Since
	}
	// Slack's records have no destination in rec.
	rows, err := s.pool.Query(ctx, `SELECT id, rec, lease_holder, lease_until, held FROM tabhook_events
		WHERE id > $1 AND ($2 = '' OR state = $2) AND ($3::timestamptz IS NULL OR received_at >= $3)
		AND ($4 = '' OR coalesce(rec->>'destination', 'slack') = $4)
		AND ($6 = '' OR lower(coalesce(rec->'payload'->>'tabhook_site', '')) = lower($6)
			OR (lower($6) = 'default' AND coalesce(rec->'payload'->>'tabhook_site', '') = ''))
		ORDER BY id LIMIT $5`, int64(q.After), string(q.State), since, q.Destination, limit, q.Site)
	if err != nil {
		return nil, err
	}
	return collectShown(rows)
}

// Requeue makes a dead event pending and due now (store.Store).
func (s *Store) Requeue(id uint64) (store.Record, error) {
	r, err := s.Update(id, func(r *store.Record) error {
		switch r.State {
		case store.Delivered:
			return store.ErrDelivered
		case store.Dead:
			r.State, r.DeadReason, r.NextTry = store.Pending, "", time.Time{}
		}
		return nil
	})
	if err == nil {
		ctx, cancel := s.ctx()
		defer cancel()
		_, _ = s.pool.Exec(ctx, `SELECT pg_notify('`+channel+`', '')`)
		s.signal()
	}
	return r, err
}

// Pending counts the events neither delivered nor dead (store.Store).
func (s *Store) Pending() (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tabhook_events WHERE state = 'pending'`).Scan(&n)
	return n, err
}

// Prune deletes delivered records delivered before cutoff and dead letters received
// before it (store.Store).
func (s *Store) Prune(cutoff time.Time) (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM tabhook_events WHERE (state = 'delivered' AND delivered_at < $1) OR (state = 'dead' AND received_at < $1)`, cutoff)
	return int(tag.RowsAffected()), err
}

// Turn hands out a channel's next turn to post among every replica (slackout.Pacer):
// one turn every interval, timed by the database's clock, so replicas together keep
// Slack's pace of about one message a second per channel.
func (s *Store) Turn(ctx context.Context, channel string, interval time.Duration) (time.Duration, error) {
	var wait time.Duration
	err := s.pool.QueryRow(ctx, `
		INSERT INTO tabhook_pace (channel, next_at) VALUES ($1, now() + $2::interval)
		ON CONFLICT (channel) DO UPDATE SET next_at = greatest(tabhook_pace.next_at, now()) + $2::interval
		RETURNING next_at - $2::interval - now()`, channel, interval).Scan(&wait)
	return wait, err
}

// Replica is this process's name in the store: host:pid.
func (s *Store) Replica() string { return s.replica }

// Ping checks that the database answers, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close stops listening and closes the pool (store.Store).
func (s *Store) Close() error {
	close(s.stopping)
	s.acceptsDone.Wait()
	close(s.committersGone)
	s.cancel()
	<-s.done
	<-s.notified
	s.pool.Close()
	return nil
}

// Health is what Check found.
type Health struct {
	Version   int  // the schema's version; 0 when not created yet
	CanCreate bool // the user may create the tables (needed at the first start)
	CanWrite  bool // the user may read and write the events table
}

// Check reaches the database without changing it: the schema's version and the
// user's rights, for doctor.
func Check(ctx context.Context, dsn string, timeout time.Duration) (Health, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return Health{}, fmt.Errorf("cannot reach %s: %w", Redact(dsn), redactErr(err, dsn))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var h Health
	if err := conn.QueryRow(cctx, `SELECT has_schema_privilege(current_schema(), 'CREATE')`).Scan(&h.CanCreate); err != nil {
		return h, err
	}
	var exists bool
	if err := conn.QueryRow(cctx, `SELECT to_regclass('tabhook_schema') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return h, err
	}
	if err := conn.QueryRow(cctx, `SELECT version FROM tabhook_schema`).Scan(&h.Version); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return h, err
	}
	if h.Version > 0 {
		err = conn.QueryRow(cctx, `SELECT has_table_privilege('tabhook_events', 'SELECT, INSERT, UPDATE, DELETE')`).Scan(&h.CanWrite)
	}
	return h, err
}

// Item reads one item's value (store.Store).
func (s *Store) Item(key string) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(context.Background(), `SELECT value FROM tabhook_items WHERE key = $1`, key).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read item %s: %w", key, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// PruneItems deletes the items last written before cutoff (store.Store).
func (s *Store) PruneItems(cutoff time.Time) (int, error) {
	tag, err := s.pool.Exec(context.Background(), `DELETE FROM tabhook_items WHERE updated_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("prune items: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// UpdateItems changes several items in one transaction (store.Store). The rows are
// locked in key order, whatever the updates' order, so two replicas updating the same
// items cannot deadlock; each key's updates still run in the order given.
func (s *Store) UpdateItems(updates []store.ItemUpdate) ([]error, error) {
	errs := make([]error, len(updates))
	keys := make([]string, 0, len(updates))
	seen := map[string]bool{}
	for _, u := range updates {
		if !seen[u.Key] {
			seen[u.Key] = true
			keys = append(keys, u.Key)
		}
	}
	slices.Sort(keys)
	err := s.inTx(func(tx pgx.Tx) error {
		ctx := context.Background()
		clear(errs)
		if _, err := tx.Exec(ctx, `INSERT INTO tabhook_items (key, value) SELECT k, '' FROM unnest($1::text[]) AS k ON CONFLICT DO NOTHING`, keys); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key, value FROM tabhook_items WHERE key = ANY($1) ORDER BY key FOR UPDATE`, keys)
		if err != nil {
			return err
		}
		values := make(map[string][]byte, len(keys))
		for rows.Next() {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			if len(v) > 0 {
				values[k] = v
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		changed := make(map[string]bool, len(keys))
		existed := make(map[string]bool, len(values))
		for k := range values {
			existed[k] = true
		}
		for i, u := range updates {
			v, err := u.Fn(values[u.Key])
			if err != nil {
				errs[i] = err
				continue
			}
			values[u.Key], changed[u.Key] = v, true
		}
		for _, k := range keys {
			var err error
			switch v := values[k]; {
			case !changed[k] && existed[k]:
				continue // every change of it failed: left as it was
			case v == nil: // deleted, or the placeholder of a key no change wrote
				_, err = tx.Exec(ctx, `DELETE FROM tabhook_items WHERE key = $1`, k)
			default:
				_, err = tx.Exec(ctx, `UPDATE tabhook_items SET value = $2, updated_at = now() WHERE key = $1`, k, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errs, fmt.Errorf("update %d items: %w", len(updates), err)
	}
	return errs, nil
}

// UpdateItem changes one item's value in a transaction that holds its row (store.Store):
// replicas changing the same item take turns.
func (s *Store) UpdateItem(key string, fn func(old []byte) ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.inTx(func(tx pgx.Tx) error {
		ctx := context.Background()
		// Make the row exist so FOR UPDATE has something to lock, even the first time.
		if _, err := tx.Exec(ctx, `INSERT INTO tabhook_items (key, value) VALUES ($1, '') ON CONFLICT DO NOTHING`, key); err != nil {
			return err
		}
		var old []byte
		if err := tx.QueryRow(ctx, `SELECT value FROM tabhook_items WHERE key = $1 FOR UPDATE`, key).Scan(&old); err != nil {
			return err
		}
		if len(old) == 0 {
			old = nil
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		out = v
		if v == nil {
			_, err = tx.Exec(ctx, `DELETE FROM tabhook_items WHERE key = $1`, key)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tabhook_items SET value = $2, updated_at = now() WHERE key = $1`, key, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update item %s: %w", key, err)
	}
	return out, nil
}
