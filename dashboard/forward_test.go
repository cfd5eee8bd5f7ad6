package dashboard

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// leaderAt is a Leader that names url, never this process.
type leaderAt string

func (l leaderAt) Leader() (string, bool, bool) { return string(l), false, l != "" }

// A dashboard without the alert engine sends the alert routes on to the leader, here over
// HTTPS with a private CA: with forward's CA it gets the leader's answer (with the caller's
// token, which the leader checks again); trusting only the system's roots, it answers 503
// no_leader; with no leader known, 503 no_leader too.
func TestForwardToAnHTTPSLeader(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.NewAuthority("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("leader", []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := leaf.Write(dir, "leader")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := tlsconf.Load("http.tls", config.TLS{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, 0, func(o *Options) { o.TLS = serverTLS })
	leaderURL := "https://" + f.serve(t)

	trust, err := tlsconf.Load("http.forward_ca_file", config.TLS{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	httpCfg := config.Default().HTTP
	httpCfg.Auth.APIKeys = []config.APIKey{{ID: "operator", Name: "Trực ban IOC", Role: "operator", Hash: auth.HashToken(f.tokens["operator"])}}
	log := slog.New(slog.DiscardHandler)
	forwarder := func(l Leader, forwardTLS *tlsconf.Files) *Server {
		o := Options{HTTP: httpCfg, Version: "v-test", Gatherer: prometheus.NewRegistry(), Registerer: prometheus.NewRegistry(), Log: log}
		if forwardTLS != nil {
			o.ForwardTLS = forwardTLS.Client()
		}
		return New(o, auth.New(httpCfg.Auth, nil, log), Sources{Leader: l})
	}
	get := func(s *Server) (int, string) {
		req := httptest.NewRequest(http.MethodGet, APIPrefix+"/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["operator"])
		resp, err := s.App().Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	code, body := get(forwarder(leaderAt(leaderURL), trust))
	var page struct {
		Items []struct{ ID string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &page); code != http.StatusOK || err != nil || len(page.Items) == 0 || page.Items[0].ID != f.alert.ID {
		t.Fatalf("forwarded with the CA: %d %s, want the leader's alert %s", code, body, f.alert.ID)
	}
	if code, body := get(forwarder(leaderAt(leaderURL), nil)); code != http.StatusServiceUnavailable || !strings.Contains(body, "no_leader") {
		t.Errorf("forwarded trusting the system's roots only: %d %s, want 503 no_leader", code, body)
	}
	if code, body := get(forwarder(leaderAt(""), trust)); code != http.StatusServiceUnavailable || !strings.Contains(body, "no_leader") {
		t.Errorf("no leader known: %d %s, want 503 no_leader", code, body)
	}
}
