package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tabhook/tabhook/internal/pgstore"
	"github.com/tabhook/tabhook/internal/spool"
	"github.com/tabhook/tabhook/internal/store"
)

// Open reaches the spool in stateDir: through the running relay's control socket when
// one answers, else by opening the spool file (which a relay holding it would refuse).
func Open(stateDir string) (Deliveries, error) { return open(stateDir, false) }

// OpenForReading is Open for listing and showing: when no relay runs and the spool was
// closed cleanly (no intake log left to replay), it is opened read-only — no replay, no
// index of keys in memory: one record is read in milliseconds, however large the spool.
func OpenForReading(stateDir string) (Deliveries, error) { return open(stateDir, true) }

func open(stateDir string, reading bool) (Deliveries, error) {
	path := filepath.Join(stateDir, SocketName)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return newSocketClient(path), nil
	}
	if _, err := os.Stat(filepath.Join(stateDir, spool.FileName)); errors.Is(err, os.ErrNotExist) {
		// Never an empty list: under systemd a forgotten --state-dir would look like a
		// healthy, empty spool.
		return nil, &NoSpoolError{Dir: stateDir, DirMissing: missing(stateDir)}
	} else if err != nil {
		return nil, fmt.Errorf("read the spool in %s: %w", stateDir, err)
	}
	opts := spool.Options{Timeout: 2 * time.Second}
	if segs, _ := filepath.Glob(filepath.Join(stateDir, "intake-*.wal")); reading && len(segs) == 0 {
		opts.ReadOnly = true
	}
	sp, err := spool.Open(stateDir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w; if a relay runs, its control socket %s did not answer", err, path)
	}
	return local{sp}, nil
}

// NoSpoolError is a state directory that holds no spool: no relay has used it, or it
// is not the relay's.
type NoSpoolError struct {
	Dir        string
	DirMissing bool // the directory itself does not exist
}

func (e *NoSpoolError) Error() string {
	what := "holds no spool"
	if e.DirMissing {
		what = "does not exist"
	}
	return fmt.Sprintf("the state directory %s %s: no relay has used it. Point --state-dir (TABHOOK_STATE_DIR) at the relay's — under systemd, its StateDirectory=, /var/lib/tabhook — or give --store for a shared store", e.Dir, what)
}

func missing(dir string) bool {
	_, err := os.Stat(dir)
	return errors.Is(err, os.ErrNotExist)
}

// local reads a store this process opened: the spool when no relay holds it (a retry
// is delivered at the next start), or a shared store every replica reads.
type local struct{ st store.Store }

func (d local) List(_ context.Context, q store.ListQuery) ([]Delivery, error) {
	recs, err := d.st.List(q)
	return wire(recs), err
}

func (d local) Get(_ context.Context, id uint64) (Delivery, error) {
	r, err := d.st.Get(id)
	return FromRecord(r), err
}

func (d local) Retry(_ context.Context, id uint64) (Delivery, error) {
	r, err := d.st.Requeue(id)
	return FromRecord(r), err
}

func (d local) Close() error { return d.st.Close() }

type socketClient struct{ hc *http.Client }

func newSocketClient(path string) *socketClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	return &socketClient{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *socketClient) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://relay"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		switch resp.StatusCode {
		case http.StatusNotFound:
			return store.ErrNotFound
		case http.StatusConflict:
			return store.ErrDelivered
		}
		return errors.New(e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *socketClient) List(ctx context.Context, q store.ListQuery) ([]Delivery, error) {
	var recs []Delivery
	err := c.do(ctx, http.MethodGet, "/deliveries?"+Query(q).Encode(), &recs)
	return recs, err
}

func (c *socketClient) Get(ctx context.Context, id uint64) (Delivery, error) {
	var rec Delivery
	err := c.do(ctx, http.MethodGet, "/deliveries/"+strconv.FormatUint(id, 10), &rec)
	return rec, err
}

func (c *socketClient) Retry(ctx context.Context, id uint64) (Delivery, error) {
	var rec Delivery
	err := c.do(ctx, http.MethodPost, "/deliveries/"+strconv.FormatUint(id, 10)+"/retry", &rec)
	return rec, err
}

func (c *socketClient) Close() error { return nil }

// OpenShared reaches the deliveries in a shared PostgreSQL store directly: every
// replica reads the same rows, and a retried event is claimed by whichever is free.
func OpenShared(ctx context.Context, url string) (Deliveries, error) {
	st, err := pgstore.Open(ctx, url, pgstore.Options{})
	if err != nil {
		return nil, err
	}
	return local{st}, nil
}
