package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tabhook/tabhook/internal/selfsigned"
)

func writeCert(t *testing.T, dir string, c *selfsigned.Cert) {
	t.Helper()
	// Write to temporary names and rename, as certificate renewals do.
	for name, data := range map[string][]byte{"tls.crt": c.CertPEM, "tls.key": c.KeyPEM} {
		tmp := filepath.Join(dir, name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func serial(c *selfsigned.Cert) string {
	leaf, _ := x509.ParseCertificate(c.TLS.Certificate[0])
	return leaf.SerialNumber.String()
}

// TestCertificateReload: a renewed certificate at the same paths is served without a
// restart, and a broken renewal keeps the old one in service.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	first, _ := selfsigned.Generate(time.Hour, "127.0.0.1")
	second, _ := selfsigned.Generate(time.Hour, "127.0.0.1")
	writeCert(t, dir, first)
	srv, err := Listen(ServerConfig{Listen: "127.0.0.1:0", CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	defer srv.Close()
	addr := srv.Addr().String()
	if got := servedSerial(t, addr); got != serial(first) {
		t.Fatalf("serving %s, want the first certificate", got)
	}
	// Make the new files visibly newer than the old ones.
	writeCert(t, dir, second)
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{"tls.crt", "tls.key"} {
		_ = os.Chtimes(filepath.Join(dir, f), later, later)
	}
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, addr) != serial(second) {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A half-written renewal: the old certificate stays.
	_ = os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("garbage"), 0o600)
	evenLater := time.Now().Add(4 * time.Second)
	_ = os.Chtimes(filepath.Join(dir, "tls.crt"), evenLater, evenLater)
	time.Sleep(1100 * time.Millisecond)
	if got := servedSerial(t, addr); got != serial(second) {
		t.Fatalf("after a broken renewal serving %s", got)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := Listen(ServerConfig{Listen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "no TLS certificate") {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := Listen(ServerConfig{Listen: "127.0.0.1:0", CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}); err == nil {
		t.Error("missing certificate files accepted")
	}
	srv, err := Listen(ServerConfig{Listen: "127.0.0.1:0", Insecure: true, Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.TLS() {
		t.Error("insecure listener claims TLS")
	}
	if _, err := Listen(ServerConfig{Listen: srv.Addr().String(), Insecure: true}); err == nil {
		t.Error("a port in use was bound twice")
	}
}
