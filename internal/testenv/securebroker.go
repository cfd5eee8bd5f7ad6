package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// DynsecPlugin is where Debian's mosquitto package keeps the dynamic security plugin ("" when
// it is not installed).
func DynsecPlugin() string {
	found, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
	if len(found) == 0 {
		return ""
	}
	return found[0]
}

// SecureBroker is a Mosquitto of a test's own, as a province runs it: TLS with client
// certificates (mutual TLS) and the dynamic security plugin (no anonymous access), with a local
// CA that issues the test's certificates.
type SecureBroker struct {
	// URL is ssl://127.0.0.1:<port>.
	URL string
	// CA signed the broker's certificate and issues clients' (Client).
	CA  *tlsconf.Authority
	Dir string
	// AdminUsername and AdminPassword are the plugin's administrator.
	AdminUsername, AdminPassword string
	// Log is the broker's log file (connections, refusals).
	Log string
}

// StartSecureBroker starts Debian's mosquitto with a TLS listener on a free loopback port and
// the dynamic security plugin, stopped when the test ends.
func StartSecureBroker(t *testing.T) *SecureBroker {
	t.Helper()
	Integration(t)
	plugin := DynsecPlugin()
	for _, bin := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto_ctrl", plugin} {
		if _, err := os.Stat(bin); err != nil || bin == "" {
			t.Fatalf("%q is missing (the dynamic security plugin, or the broker): install Debian's mosquitto (deploy/local/services.sh start does)", bin)
		}
	}
	dir := t.TempDir()
	ca, err := tlsconf.NewAuthority("test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile, err := ca.WriteCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	server, err := ca.Issue("broker", []string{"127.0.0.1", "localhost"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := server.Write(dir, "broker")
	if err != nil {
		t.Fatal(err)
	}
	b := &SecureBroker{CA: ca, Dir: dir, AdminUsername: "admin", AdminPassword: "admin-" + fmt.Sprint(now.UnixNano()), Log: filepath.Join(dir, "mosquitto.log")}
	dynsec := filepath.Join(dir, "dynsec.json")
	if out, err := exec.Command("mosquitto_ctrl", "dynsec", "init", dynsec, b.AdminUsername, b.AdminPassword).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v: %s", err, out)
	}
	port := FreePort(t)
	b.URL = fmt.Sprintf("ssl://127.0.0.1:%d", port)
	conf := filepath.Join(dir, "mosquitto.conf")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// user: run as the test's user (as root, mosquitto would drop to user mosquitto, who may
	// not read the test's folder).
	body := fmt.Sprintf(`per_listener_settings false
user %s
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
tls_version tlsv1.2
plugin %s
plugin_opt_config_file %s
log_dest file %s
log_type error
log_type warning
log_type notice
log_type information
`, me.Username, port, caFile, certFile, keyFile, plugin, dynsec, b.Log)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/mosquitto", "-c", conf)
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	WaitFor(t, "the secure broker's port", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return b
}

// Client issues a client certificate named name, valid from notBefore to notAfter, and
// returns the MQTT settings of a client presenting it (no username: add one).
func (b *SecureBroker) Client(t *testing.T, name string, notBefore, notAfter time.Time) config.MQTT {
	t.Helper()
	leaf, err := b.CA.Issue(name, nil, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := leaf.Write(b.Dir, "client-"+name)
	if err != nil {
		t.Fatal(err)
	}
	mc := config.Default().MQTT
	mc.Broker, mc.ClientID = b.URL, "test-"+name
	mc.TLS = config.TLS{CAFile: filepath.Join(b.Dir, "ca.crt"), CertFile: certFile, KeyFile: keyFile}
	return mc
}
