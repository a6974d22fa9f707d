package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// serveTarget runs one ceiling server in this (child) process until SIGTERM, printing
// its address on stdout.
func serveTarget(name, dir string) error {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		return err
	}
	var h http.Handler
	switch name {
	case "bare":
		h = bareHandler()
	case "pgceiling":
		ph, closePool, err := pgCeilingHandler(pgURLFromEnv())
		if err != nil {
			return err
		}
		defer closePool()
		h = ph
	case "ceiling":
		f, err := os.OpenFile(filepath.Join(dir, "ceiling.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		h = ceilingHandler(f)
	default:
		return fmt.Errorf("unknown target %q", name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle(path, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, ReadHeaderTimeout: 5 * time.Second}
	fmt.Println(ln.Addr().String())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.ServeTLS(ln, "", ""); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	})
}

// ceilingHandler appends each body to f; one goroutine writes and fdatasyncs whatever
// has queued up meanwhile (group commit), then releases those requests.
func ceilingHandler(f *os.File) http.Handler {
	type req struct {
		body []byte
		done chan error
	}
	queue := make(chan req, 4096)
	go func() {
		var buf []byte
		var batch []req
		for first := range queue {
			batch = append(batch[:0], first)
		drain:
			for {
				select {
				case r := <-queue:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			buf = buf[:0]
			for _, r := range batch {
				buf = append(buf, r.body...)
				buf = append(buf, '\n')
			}
			_, err := f.Write(buf)
			if err == nil {
				err = fdatasync(f)
			}
			for _, r := range batch {
				r.done <- err
			}
		}
	}()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		done := make(chan error, 1)
		queue <- req{body, done}
		if err := <-done; err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	})
}
