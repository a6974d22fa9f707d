package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/store"
)

// pgCeilingHandler inserts each body with one committed INSERT through a pool: the
// least a PostgreSQL-backed relay that is durable before answering can do.
func pgCeilingHandler(url string) (http.Handler, func(), error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, err
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := pool.Exec(context.Background(), `CREATE TABLE IF NOT EXISTS load_ceiling (id bigserial PRIMARY KEY, body jsonb NOT NULL)`); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := pool.Exec(r.Context(), `INSERT INTO load_ceiling (body) VALUES ($1)`, body); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}), pool.Close, nil
}

// freshSchema makes a schema for one server's round and returns a URL using it.
func freshSchema(base string) (string, func(), error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", pgstore.Redact(base), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("tabhook_load_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	drop := func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
			c.Close(ctx)
		}
	}
	return base + sep + "search_path=" + name, drop, nil
}

// backlog measures how fast events are claimed and marked delivered through the
// PostgreSQL store with a small backlog and with 100 000 rows pending: claims must not
// slow down as the backlog grows.
func backlog(base string, dur time.Duration) error {
	fmt.Printf("Claim and deliver through the PostgreSQL store, batches of 50, %s each\n\n", dur)
	var rates []float64
	for _, pending := range []int{1_000, 100_000} {
		rate, err := claimRate(base, pending, dur)
		if err != nil {
			return err
		}
		rates = append(rates, rate)
		fmt.Printf("%7d pending: %8.0f events/s\n", pending, rate)
	}
	fmt.Printf("100 000 pending / 1 000 pending = %.2f (target: no slow-down, >= 0.80)\n\n", rates[1]/rates[0])
	return nil
}

func claimRate(base string, pending int, dur time.Duration) (float64, error) {
	url, drop, err := freshSchema(base)
	if err != nil {
		return 0, err
	}
	defer drop()
	ctx := context.Background()
	st, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	_, err = conn.Exec(ctx, `
		INSERT INTO tabhook_events (key, rec, state, received_at)
		SELECT 'k' || g, json_build_object('key', 'k' || g, 'state', 'pending', 'received_at', now(),
			'payload', json_build_object('event_type', 'WorkbookUpdated', 'site_luid', 's', 'resource_luid', 'r' || g)),
			'pending', now()
		FROM generate_series(1, $1) g`, pending)
	conn.Close(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < dur {
		recs, err := st.Claim(time.Now(), 50, time.Minute)
		if err != nil {
			return 0, err
		}
		if len(recs) == 0 {
			break
		}
		ids := make([]uint64, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		if err := st.UpdateMany(ids, func(r *store.Record) error { r.State, r.DeliveredAt = store.Delivered, time.Now(); return nil }); err != nil {
			return 0, err
		}
		st.Release(ids...)
		n += len(recs)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func pgURLFromEnv() string { return os.Getenv("LOAD_PG") }
