package tlsconf

import (
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

type pki struct {
	dir string
	ca  *Authority
}

func newPKI(t *testing.T) pki {
	t.Helper()
	ca, err := NewAuthority("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{dir: t.TempDir(), ca: ca}
	if _, err := ca.WriteCA(p.dir); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p pki) issue(t *testing.T, name string, hosts []string, from, to time.Time) config.TLS {
	t.Helper()
	leaf, err := p.ca.Issue(name, hosts, from, to)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := leaf.Write(p.dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return config.TLS{CAFile: filepath.Join(p.dir, "ca.crt"), CertFile: cert, KeyFile: key}
}

// serve accepts TLS connections with files until the test ends; each connection says "ok".
func serve(t *testing.T, files *Files) string {
	t.Helper()
	tc, err := files.Server()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // stops when the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = c.Write([]byte("ok")); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func dial(addr string, files *Files) (string, error) {
	c, err := tls.Dial("tcp", addr, files.Client())
	if err != nil {
		return "", err
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	server, err := Load("test.server", p.issue(t, "server", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, server)
	client, err := Load("test.client", p.issue(t, "client", nil, now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dial(addr, client); err != nil || got != "ok" {
		t.Fatalf("mutual TLS: %q, %v", got, err)
	}

	// A client trusting another CA refuses the server, and says which file it trusted.
	other := newPKI(t)
	stranger, err := Load("mqtt.tls", config.TLS{CAFile: filepath.Join(other.dir, "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dial(addr, stranger)
	if err == nil || !strings.Contains(err.Error(), "mqtt.tls: the server's certificate \"server\" is not signed by "+filepath.Join(other.dir, "ca.crt")) {
		t.Errorf("wrong CA: %v", err)
	}

	// A client without a certificate, or with one of another CA, is refused by the server.
	bare, _ := Load("c", config.TLS{CAFile: filepath.Join(p.dir, "ca.crt")})
	if _, err := dial(addr, bare); err == nil {
		t.Error("a client without a certificate was served")
	}
	foreign, _ := Load("c", other.issue(t, "foreign", nil, now.Add(-time.Hour), now.Add(time.Hour)))
	foreign.files.CAFile = filepath.Join(p.dir, "ca.crt")
	_ = foreign.Reload()
	if _, err := dial(addr, foreign); err == nil {
		t.Error("a client with another CA's certificate was served")
	}

	// The server's name must be in its certificate.
	named, _ := Load("clickhouse.tls", config.TLS{CAFile: filepath.Join(p.dir, "ca.crt"), ServerName: "ch.example"})
	named.files.CertFile, named.files.KeyFile = client.files.CertFile, client.files.KeyFile
	_ = named.Reload()
	if _, err := dial(addr, named); err == nil || !strings.Contains(err.Error(), `does not name "ch.example"`) {
		t.Errorf("wrong server name: %v", err)
	}
}

// An expired certificate is refused when it is loaded, with its file and its end; one that
// expires while in use is refused by the peer.
func TestExpiredCertificates(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	expired := p.issue(t, "old", nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	_, err := Load("mqtt.tls", expired)
	if err == nil || !strings.Contains(err.Error(), "mqtt.tls: cert_file "+expired.CertFile+`: certificate "old" expired at`) {
		t.Errorf("loading an expired certificate: %v", err)
	}
	server, err := Load("s", p.issue(t, "server", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, server)
	client, err := Load("c", p.issue(t, "client", nil, now.Add(-time.Hour), now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	client.now = func() time.Time { return now.Add(2 * time.Hour) } // the server's certificate has expired by then
	if _, err := dial(addr, client); err == nil || !strings.Contains(err.Error(), "expired or not yet valid") {
		t.Errorf("an expired server certificate: %v", err)
	}
}

// Reload swaps the certificate for the next handshake; a broken file leaves the one in use.
func TestReload(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	files := p.issue(t, "server", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour))
	server, err := Load("http.tls", files)
	if err != nil {
		t.Fatal(err)
	}
	first := server.NotAfter()
	addr := serve(t, server)
	client, _ := Load("c", p.issue(t, "client", nil, now.Add(-time.Hour), now.Add(time.Hour)))

	renewed, _ := p.ca.Issue("server", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(3*time.Hour))
	if err := errors.Join(os.WriteFile(files.CertFile, renewed.CertPEM, 0o644), os.WriteFile(files.KeyFile, renewed.KeyPEM, 0o600)); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if !server.NotAfter().After(first) {
		t.Errorf("NotAfter %s after reload, was %s: want the renewed certificate", server.NotAfter(), first)
	}
	c, err := tls.Dial("tcp", addr, client.Client())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectionState().PeerCertificates[0].NotAfter; !got.Equal(server.NotAfter()) {
		t.Errorf("served certificate ends %s, want the renewed one's %s", got, server.NotAfter())
	}
	c.Close()

	if err := os.WriteFile(files.CertFile, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(); err == nil || !strings.Contains(err.Error(), "http.tls: cert_file") {
		t.Errorf("reload of a broken file: %v", err)
	}
	if got, err := dial(addr, client); err != nil || got != "ok" {
		t.Errorf("after a refused reload the server must go on with its certificate: %q, %v", got, err)
	}
	if _, err := Load("x", config.TLS{CAFile: files.KeyFile}); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}
