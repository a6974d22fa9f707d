package relay_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tabhook/tabhook/internal/fakes/faultproxy"
	"github.com/tabhook/tabhook/internal/fakes/tableausim"
	"github.com/tabhook/tabhook/internal/relay"
)

// TestStoreUnreachableIs503: the shared store goes away mid-stream. Deliveries are
// answered 503 (Tableau retries), never 200; /readyz turns; once the database is back,
// the pool reconnects by itself and every acknowledged event is delivered.
func TestStoreUnreachableIs503(t *testing.T) {
	base := os.Getenv("TABHOOK_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is not reachable: %v", err)
		}
		t.Skipf("no PostgreSQL (%v): set TABHOOK_TEST_POSTGRES to run this test", err)
	}
	schema := fmt.Sprintf("tabhook_fault_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	cfg0, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.Start(fmt.Sprintf("%s:%d", cfg0.Host, cfg0.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	storeURL := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&search_path=%s&connect_timeout=2", cfg0.User, proxy.Addr(), cfg0.Database, schema)

	w := newWorld(t)
	cfg := w.config(t.TempDir())
	cfg.Store, cfg.Ready, cfg.HealthEvery = storeURL, nil, 20*time.Millisecond
	// A claim whose outcome could not be recorded while the store was away is taken
	// again when its lease ends: short here.
	cfg.Service.Lease = 600 * time.Millisecond
	w.start2(cfg)
	eventually(t, "ready", func() bool { return w.readyz() == http.StatusOK })
	post := func(i int) int {
		body := fmt.Sprintf(`{"resource":"WORKBOOK","event_type":"WorkbookUpdated","resource_name":"SafariSample","site_luid":"%s","resource_luid":"%s","created_at":"2026-11-30T09:00:%02dZ"}`,
			w.sim.SiteID(), tableausim.WorkbookID, i)
		resp, err := w.httpsClient().Post(w.public, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(1); code != http.StatusOK {
		t.Fatalf("before the outage: %d", code)
	}
	proxy.Cut(true)
	if code := post(2); code != http.StatusServiceUnavailable {
		t.Fatalf("while the store is unreachable: %d, want 503", code)
	}
	eventually(t, "not ready while the store is away", func() bool { return w.readyz() == http.StatusServiceUnavailable })
	proxy.Cut(false)
	eventually(t, "accepted again", func() bool { return post(3) == http.StatusOK })
	eventually(t, "ready again", func() bool { return w.readyz() == http.StatusOK })
	eventually(t, "both acknowledged events delivered", func() bool { return w.count(relay.EvDelivered) == 2 })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	uniqueMessages(t, w, 2)
}
