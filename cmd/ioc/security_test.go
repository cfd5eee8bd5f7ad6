package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.yaml.in/yaml/v3"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// ioc as a province runs it: the broker with TLS (client certificates) and device accounts made
// by `ioc broker sync`, ClickHouse over its secure port, the API over HTTPS with a redirect and
// HSTS. A device's own reading is stored; the same device naming another sensor is a dead
// letter; a device on another's topic and an anonymous client get nothing in; the web
// certificate is renewed at SIGHUP without a restart.
func TestSecureLinks(t *testing.T) {
	b := testenv.StartSecureBroker(t)
	h := newHarness(t)
	h.cfg.ClickHouse = testenv.Secure(t, h.cfg.ClickHouse)
	now := time.Now()
	h.cfg.MQTT = b.Client(t, "ioc", now.Add(-time.Hour), now.Add(time.Hour))
	h.cfg.MQTT.ClientID, h.cfg.MQTT.Username, h.cfg.MQTT.Password = "ioc-"+h.prefix, "ioc", "ioc-test-password"
	// serve syncs the broker's accounts at start: ioc's own with its configured password, one
	// per sensor with a new one each, written to the credentials file
	t.Setenv("TEST_BROKER_ADMIN", b.AdminPassword)
	h.cfg.MQTT.Access = config.Access{AdminUsername: b.AdminUsername, AdminPasswordEnv: "TEST_BROKER_ADMIN",
		CredentialsFile: filepath.Join(t.TempDir(), "mqtt-credentials.yaml"), SyncOnReload: true}
	h.cfg.Ingest.Topics = config.Default().Ingest.Topics
	h.cfg.Ingest.AcceptUnknownSensors = false
	if err := h.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cat, err := loadCatalog(h.cfg.Ingest, nil)
	if err != nil {
		t.Fatal(err)
	}

	// HTTPS with a certificate of the same CA, a redirect listener and HSTS.
	web, err := b.CA.Issue("web", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	webDir := t.TempDir()
	certFile, keyFile, err := web.Write(webDir, "web")
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.HTTP.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	h.cfg.HTTP.RedirectListen = freeAddr(t)
	roots := x509.NewCertPool()
	roots.AddCert(b.CA.Cert)
	h.web = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	h.start(t) // healthy: ioc's account was made at start with its configured password

	if fi, err := os.Stat(h.cfg.MQTT.Access.CredentialsFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, %v: want mode 0600", fi, err)
	}
	raw, _ := os.ReadFile(h.cfg.MQTT.Access.CredentialsFile)
	var creds map[string]string
	if err := yaml.Unmarshal(raw, &creds); err != nil || len(creds) != cat.Len() || creds["ioc"] != "" {
		t.Fatalf("credentials file: %d entries (want one per sensor, %d, and not ioc's known password), %v", len(creds), cat.Len(), err)
	}

	// The device's own reading, then the device naming another sensor on its own topic.
	dev := b.Client(t, "lc-hong-laocai", now.Add(-time.Hour), now.Add(time.Hour))
	dev.Username, dev.Password = "lc-hong-laocai", config.Secret(creds["lc-hong-laocai"])
	reading := func(sensor string, v float64) []byte {
		return fmt.Appendf(nil, `{"sensor":%q,"ts":%d,"metric":"water_level","value":%g,"unit":"m"}`, sensor, now.UnixMilli(), v)
	}
	devicePublish(t, dev, map[string][]byte{
		"province/lao-cai/river_gauge/lc-hong-laocai": reading("lc-hong-laocai", 80.1),
	})
	devicePublish(t, dev, map[string][]byte{
		"province/lao-cai/river_gauge/lc-hong-laocai": reading("lc-hong-pho-lu", 99.9),
	})
	// On another sensor's topic: the broker drops it (the device's session goes on).
	devicePublish(t, dev, map[string][]byte{
		"province/lao-cai/river_gauge/lc-hong-pho-lu": reading("lc-hong-pho-lu", 77.7),
	})
	anon := dev
	anon.Username, anon.Password = "", ""
	if _, err := connectMQTT(anon); err == nil || !strings.Contains(ingest.ConnectProblem(err), "refused") {
		t.Errorf("anonymous client: %v, want a refusal", err)
	}
	h.waitCount(t, "SELECT count() FROM readings WHERE sensor_id = 'lc-hong-laocai'", 1)
	h.waitCount(t, "SELECT count() FROM dead_letters WHERE reason = 'identity_mismatch' AND detail LIKE '%lc-hong-pho-lu%'", 1)
	time.Sleep(500 * time.Millisecond) // what the broker let through would be stored by now
	h.waitCount(t, "SELECT count() FROM readings WHERE sensor_id = 'lc-hong-pho-lu'", 0)
	if log, _ := os.ReadFile(b.Log); !strings.Contains(string(log), "not authorised") {
		t.Errorf("the broker's log shows no refusal:\n%s", log)
	}

	// HTTPS answers with HSTS; plain HTTP is redirected; plain HTTP on the TLS port is refused.
	resp, err := h.web.Get("https://" + h.cfg.HTTP.Listen + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "max-age=31536000; includeSubDomains" {
		t.Errorf("Strict-Transport-Security %q", hsts)
	}
	first := resp.TLS.PeerCertificates[0].NotAfter
	resp, err = h.web.Get("http://" + h.cfg.HTTP.RedirectListen + "/api/v1/alerts?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != "https://"+h.cfg.HTTP.Listen+"/api/v1/alerts?x=1" {
		t.Errorf("redirect: %d to %q", resp.StatusCode, loc)
	}
	if resp, err := http.Get("http://" + h.cfg.HTTP.Listen + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP served on the TLS port")
	}

	// A renewed certificate is served after SIGHUP, by the same process.
	renewed, _ := b.CA.Issue("web", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(5*time.Hour))
	if err := os.WriteFile(certFile, renewed.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, renewed.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the renewed web certificate", 10*time.Second, func() bool {
		h.web.CloseIdleConnections()
		resp, err := h.web.Get("https://" + h.cfg.HTTP.Listen + "/livez")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].NotAfter.After(first)
	})
}

func connectMQTT(mc config.MQTT) (mqtt.Client, error) {
	opts, _, err := ingest.ClientOptions(mc, "dev-"+randomID())
	if err != nil {
		return nil, err
	}
	c := mqtt.NewClient(opts.SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, tok.Error()
	}
	return c, nil
}

// devicePublish publishes msgs with QoS 1 as the device of mc.
func devicePublish(t *testing.T, mc config.MQTT, msgs map[string][]byte) {
	t.Helper()
	c, err := connectMQTT(mc)
	if err != nil {
		t.Fatalf("device %s: %v", mc.Username, err)
	}
	defer c.Disconnect(100)
	for topic, p := range msgs {
		if tok := c.Publish(topic, 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}
