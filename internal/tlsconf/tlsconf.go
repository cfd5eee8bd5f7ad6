// Package tlsconf turns the TLS files of a link (CA, certificate, key, server name) into
// crypto/tls configurations for ioc's clients (MQTT, ClickHouse) and its web server, checks them
// when they are loaded (a certificate that has expired, or a key that is not its certificate's,
// is a clear error, not a failed handshake later) and reloads them without a restart (SIGHUP).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Files is one link's TLS material, loaded and checked. Its tls.Configs read the current
// material at each handshake, so Reload takes effect on the next connection.
type Files struct {
	link  string // for errors: mqtt.tls, clickhouse.tls, http.tls
	files config.TLS
	now   func() time.Time
	cur   atomic.Pointer[material]
}

type material struct {
	cert *tls.Certificate // nil without cert_file
	leaf *x509.Certificate
	pool *x509.CertPool // nil without ca_file
}

// Load reads and checks the files of link (named in errors, e.g. "mqtt.tls").
func Load(link string, files config.TLS) (*Files, error) {
	f := &Files{link: link, files: files, now: time.Now}
	m, err := f.read()
	if err != nil {
		return nil, err
	}
	f.cur.Store(m)
	return f, nil
}

// Reload reads the files again; on any problem the material in use stays and the error says why.
func (f *Files) Reload() error {
	m, err := f.read()
	if err != nil {
		return err
	}
	f.cur.Store(m)
	return nil
}

// NotAfter is when the certificate in use expires (zero without one).
func (f *Files) NotAfter() time.Time {
	if m := f.cur.Load(); m.leaf != nil {
		return m.leaf.NotAfter
	}
	return time.Time{}
}

func (f *Files) read() (*material, error) {
	var m material
	if f.files.CertFile != "" || f.files.KeyFile != "" {
		if f.files.CertFile == "" || f.files.KeyFile == "" {
			return nil, fmt.Errorf("%s: cert_file and key_file go together", f.link)
		}
		cert, err := tls.LoadX509KeyPair(f.files.CertFile, f.files.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: cert_file %s with key_file %s: %w", f.link, f.files.CertFile, f.files.KeyFile, err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("%s: cert_file %s: %w", f.link, f.files.CertFile, err)
		}
		if err := validNow(leaf, f.now()); err != nil {
			return nil, fmt.Errorf("%s: cert_file %s: %w", f.link, f.files.CertFile, err)
		}
		m.cert, m.leaf = &cert, leaf
	}
	if f.files.CAFile != "" {
		pem, err := os.ReadFile(f.files.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file: %w", f.link, err)
		}
		m.pool = x509.NewCertPool()
		if !m.pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: ca_file %s holds no PEM certificate", f.link, f.files.CAFile)
		}
	}
	return &m, nil
}

func validNow(c *x509.Certificate, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("certificate %q expired at %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("certificate %q is not valid before %s", c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Client is the configuration of a client link: it presents the certificate (mutual TLS) when
// there is one and verifies the server against ca_file (the system's roots without one) and
// server_name (the host dialled without one). A server the CA did not sign fails the handshake
// with an error that names the link and the CA file.
func (f *Files) Client() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: f.files.ServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if m := f.cur.Load(); m.cert != nil {
				return m.cert, nil
			}
			return &tls.Certificate{}, nil // none: the server decides whether that is enough
		},
		// Verification is done below against the current CA, so that a reloaded ca_file counts
		// from the next handshake; the standard checks run there in full.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return f.verifyServer(cs)
		},
	}
}

func (f *Files) verifyServer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%s: the server sent no certificate", f.link)
	}
	opts := x509.VerifyOptions{
		Roots:         f.cur.Load().pool,
		DNSName:       cs.ServerName,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   f.now(),
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err != nil {
		return f.explain("server", leaf, err)
	}
	return nil
}

// explain says in words why a peer's certificate was refused.
func (f *Files) explain(peer string, leaf *x509.Certificate, err error) error {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	ca := f.files.CAFile
	if ca == "" {
		ca = "the system's roots (no ca_file)"
	}
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%s: the %s's certificate %q is not signed by %s: %w", f.link, peer, leaf.Subject.CommonName, ca, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%s: the %s's certificate %q is expired or not yet valid (valid %s to %s): %w", f.link, peer,
			leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), err)
	case errors.As(err, &host):
		return fmt.Errorf("%s: the %s's certificate does not name %q (set server_name to a name it holds): %w", f.link, peer, host.Host, err)
	}
	return fmt.Errorf("%s: the %s's certificate %q: %w", f.link, peer, leaf.Subject.CommonName, err)
}

// Server is the configuration of a server link: it presents the certificate, and with ca_file
// it asks every client for a certificate that CA signed (mutual TLS).
func (f *Files) Server() (*tls.Config, error) {
	if f.cur.Load().cert == nil {
		return nil, fmt.Errorf("%s: a server needs cert_file and key_file", f.link)
	}
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		m := f.cur.Load()
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*m.cert}}
		if m.pool != nil {
			c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, m.pool
		}
		return c, nil
	}
	return base, nil
}
