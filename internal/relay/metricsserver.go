package relay

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/tabhook/tabhook/internal/store"
)

// withMetrics is the relay's event stream: the metrics first, then the caller's
// observer. Run composes it before anything can emit, so no part sees another stream.
func withMetrics(o Observer, m *Metrics) Observer {
	if m == nil {
		return o
	}
	return func(e Event) {
		m.Observe(e)
		if o != nil {
			o(e)
		}
	}
}

// serveMetrics exports the store's backlog and serves the metrics on addr (only
// counts them when addr is empty).
func serveMetrics(m *Metrics, addr string, st store.Store, profiles bool) (stop func(), err error) {
	if m == nil {
		return func() {}, nil
	}
	m.Pending(func() float64 {
		n, _ := st.Pending()
		return float64(n)
	})
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	if profiles {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
