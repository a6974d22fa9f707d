package relay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ServerConfig says where and how to listen.
type ServerConfig struct {
	Listen   string
	CertFile string // PEM; reloaded when the files change
	KeyFile  string
	// Certificate, when set, is served instead of files (the demo's self-signed one).
	Certificate *tls.Certificate
	Insecure    bool // plain HTTP behind a TLS-terminating proxy
	// Listener, when set, is used instead of binding Listen (the demo binds first to
	// learn its port).
	Listener net.Listener
	Handler  http.Handler
	Logger   *slog.Logger
}

// Server is the bound listener.
type Server struct {
	srv      *http.Server
	ln       net.Listener
	tls      bool
	inFlight atomic.Int64 // requests being handled
}

// Listen binds the address now, so a port in use fails at start-up, not later.
func Listen(c ServerConfig) (*Server, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           c.Handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(c.Logger.Handler(), slog.LevelDebug),
	}
	s := &Server{srv: srv}
	inner := c.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		inner.ServeHTTP(w, r)
	})
	if !c.Insecure {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		switch {
		case c.Certificate != nil:
			tc.Certificates = []tls.Certificate{*c.Certificate}
		case c.CertFile != "" && c.KeyFile != "":
			r, err := newCertReloader(c.CertFile, c.KeyFile, c.Logger)
			if err != nil {
				return nil, err
			}
			tc.GetCertificate = r.get
		default:
			return nil, errors.New("no TLS certificate: pass --tls-cert and --tls-key, or --insecure-http behind a TLS-terminating proxy")
		}
		srv.TLSConfig = tc
		s.tls = true
	}
	if c.Listener != nil {
		s.ln = c.Listener
		return s, nil
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// TLS reports whether the listener speaks TLS.
func (s *Server) TLS() bool { return s.tls }

// Serve blocks until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve() error {
	var err error
	if s.tls {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops accepting, waits for the requests in progress (they are being stored)
// until ctx ends, then closes every connection. Connections that never sent a request
// (a client's spare) do not hold it up, as they would with http.Server.Shutdown alone.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(ctx) }()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.inFlight.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			_ = s.srv.Close()
			return ctx.Err()
		}
	}
	err := s.srv.Close()
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && !errors.Is(serr, context.Canceled) {
		return serr
	}
	return err
}

// certReloader serves the certificate in the files, re-reading them when they change,
// so a renewed certificate is served without a restart.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) stamp() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest, nil
}

func (r *certReloader) load() error {
	mt, err := r.stamp()
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate: %w", err)
	}
	r.cert, r.modTime = &cert, mt
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) > time.Second {
		r.checked = time.Now()
		if mt, err := r.stamp(); err == nil && !mt.Equal(r.modTime) {
			if err := r.load(); err != nil {
				// Keep serving the old certificate: a half-written renewal must not
				// take the listener down.
				r.log.Warn("could not reload the TLS certificate; serving the previous one", "err", err)
			} else {
				r.log.Info("TLS certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}
