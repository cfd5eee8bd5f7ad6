package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/dashboard/auth"
)

func runIOC(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckPrintsEveryProblemWithItsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	body := "ingest:\n  topics:\n    - pattern: a/#\n    - pattern: b/+\n    - pattern: \"\"\nwriter:\n  batch_size: 0\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIOC("check", "--config", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"3 problem(s)", "ingest.topics[2].pattern: empty", "writer.batch_size: want 1 to 1000000, got 0", "ingest.catalog: missing"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
}

func TestCheckAcceptsTheExampleConfig(t *testing.T) {
	t.Setenv("IOC_INGEST_CATALOG", "../../deploy/catalog/sensors.example.yaml")
	code, stdout, stderr := runIOC("check", "--config", "../../deploy/config/ioc.example.yaml")
	if code != exitOK || !strings.Contains(stdout, "ok") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// Without a sensor catalog and with the simulator off, check and serve refuse the config: a
// province never runs on the demo's catalog.
func TestNoCatalogIsAConfigurationError(t *testing.T) {
	for _, cmd := range []string{"check", "serve"} {
		code, _, stderr := runIOC(cmd, "--config", "../../deploy/config/ioc.example.yaml")
		if code != exitUsage || !strings.Contains(stderr, "ingest.catalog: missing") {
			t.Errorf("ioc %s: exit %d, stderr %q; want a usage error naming ingest.catalog", cmd, code, stderr)
		}
	}
}

func TestUnknownEnvironmentSettingIsAnError(t *testing.T) {
	t.Setenv("IOC_CLICKHOUS_ADDR", "x:1")
	code, _, stderr := runIOC("serve")
	if code != exitUsage || !strings.Contains(stderr, "IOC_CLICKHOUS_ADDR: unknown setting") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	if code, _, stderr := runIOC(); code != exitUsage || !strings.Contains(stderr, "usage: ioc") {
		t.Errorf("no command: exit %d, %q", code, stderr)
	}
	_, _, stderr := runIOC()
	for _, cmd := range []string{"serve", "migrate", "check", "sim province", "sim backfill", "sim cameras", "token", "version"} {
		if !strings.Contains(stderr, cmd) {
			t.Errorf("the usage does not name %q:\n%s", cmd, stderr)
		}
	}
	if code, _, stderr := runIOC("frobnicate"); code != exitUsage || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runIOC("version"); code != exitOK || !strings.HasPrefix(stdout, "ioc ") || !strings.Contains(stdout, "schema ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	if code, _, _ := runIOC("check", "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
}

// The example catalog loads with the example config's profiles, and ioc check validates a
// config's catalog, printing its problems with their paths.
func TestCheckValidatesTheCatalog(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("ingest:\n  catalog: ../../deploy/catalog/sensors.example.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runIOC("check", "--config", good); code != exitOK {
		t.Fatalf("example catalog: exit %d, %q %q", code, stdout, stderr)
	}
	cat := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(cat, []byte("sensors:\n  - id: x\n    name: X\n    kind: volcano\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("ingest:\n  catalog: "+cat+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIOC("check", "--config", bad)
	if code != exitUsage || !strings.Contains(stderr, `sensors[0].kind: unknown kind "volcano"`) || !strings.Contains(stderr, "sensors[0].location: missing") {
		t.Fatalf("bad catalog: exit %d, %q", code, stderr)
	}
}

// A metrics token named but unset stops serve before it starts anything, saying which variable.
func TestServeRefusesAnUnsetMetricsToken(t *testing.T) {
	t.Setenv("IOC_HTTP_METRICS_TOKEN_ENV", "HAIDANG_TEST_NO_SUCH_TOKEN")
	t.Setenv("IOC_CLICKHOUSE_ADDR", "127.0.0.1:1")
	t.Setenv("IOC_CLICKHOUSE_DIAL_TIMEOUT", "1s")
	code, _, stderr := runIOC("serve", "--config", "../../deploy/config/demo.yaml")
	if code == exitOK || !strings.Contains(stderr, "http.metrics.token_env: the variable HAIDANG_TEST_NO_SUCH_TOKEN is unset or empty") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// ioc token's entry, pasted into a config file, is accepted by ioc check, with its expiry; the
// token it prints hashes to the entry's hash.
func TestTokenEntryPassesCheck(t *testing.T) {
	code, stdout, stderr := runIOC("token", "--id", "cong-an", "--name", "Công an tỉnh", "--role", "unit", "--units", "police", "--days", "30")
	if code != exitOK {
		t.Fatalf("ioc token: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	token := strings.TrimSpace(lines[1])
	entry := lines[slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  - id:") }):]
	if !strings.Contains(stdout, "expires: ") || !strings.Contains(stdout, "hash: "+auth.HashToken(token)) {
		t.Fatalf("ioc token printed %q", stdout)
	}
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	body := "http:\n  auth:\n    api_keys:\n" + indent(strings.Join(entry, "\n"), "    ") + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IOC_INGEST_CATALOG", "../../deploy/catalog/sensors.example.yaml")
	if code, _, stderr := runIOC("check", "--config", path); code != exitOK {
		t.Fatalf("ioc check of\n%s\nexit %d: %s", body, code, stderr)
	}
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(s, "\n", "\n"+by)
}

// ioc broker sync says what it lacks: the admin's name in config, or its password's variable.
func TestBrokerSyncSaysWhatIsMissing(t *testing.T) {
	t.Setenv("IOC_INGEST_CATALOG", "../../deploy/catalog/sensors.example.yaml")
	if code, _, stderr := runIOC("broker", "sync", "--config", "../../deploy/config/ioc.example.yaml"); code != exitUsage || !strings.Contains(stderr, "mqtt.access.admin_username is empty") {
		t.Errorf("without an admin: exit %d, %q", code, stderr)
	}
	t.Setenv("IOC_MQTT_USERNAME", "ioc")
	t.Setenv("IOC_MQTT_ACCESS_ADMIN_USERNAME", "admin")
	t.Setenv("IOC_MQTT_ACCESS_ADMIN_PASSWORD_ENV", "HAIDANG_TEST_NO_SUCH_PASSWORD")
	t.Setenv("IOC_MQTT_ACCESS_CREDENTIALS_FILE", t.TempDir()+"/creds.yaml")
	if code, _, stderr := runIOC("broker", "sync", "--config", "../../deploy/config/ioc.example.yaml"); code != exitFailed || !strings.Contains(stderr, "ioc broker sync: mqtt.access.admin_password_env: the variable HAIDANG_TEST_NO_SUCH_PASSWORD is unset or empty") {
		t.Errorf("without the admin's password: exit %d, %q", code, stderr)
	}
	if code, _, _ := runIOC("broker"); code != exitUsage {
		t.Errorf("ioc broker: exit %d, want usage", code)
	}
}
