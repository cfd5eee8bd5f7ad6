package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

const reloadSensor = `  - {id: %s, name: Trạm %s, kind: river_gauge, metrics: [{name: water_level, unit: cm}], location: {lat: 22.5, lon: 103.9}, district: Bát Xát, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}}
`

// A sensor added to the catalog file is accepted after SIGHUP, without a restart, and
// mirrored into sensors_current; before, its readings were dead letters (unknown_sensor). A
// broken catalog is refused on reload and the one in use stays.
func TestCatalogReloadsOnHangup(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	seq := newSequence(20)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	catalog := filepath.Join(t.TempDir(), "sensors.yaml")
	writeCatalog := func(ids ...string) {
		body := "sensors:\n"
		for _, id := range ids {
			body += fmt.Sprintf(reloadSensor, id, id)
		}
		if err := os.WriteFile(catalog, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeCatalog("f-00")
	cfg := faultConfig(t, seq, ch, broker, clientID, t.TempDir(), "")
	body, _ := os.ReadFile(cfg)
	body = []byte(regexp.MustCompile(`(?m)^  accept_unknown_sensors: true\n  catalog: .*$`).ReplaceAllString(string(body), "  catalog: "+catalog))
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startIOC(t, cfg)
	conn := testenv.Conn(t, ch)
	count := func(q string) uint64 {
		var n uint64
		if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitCount := func(q string, want uint64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); count(q) != want; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d, want %d", q, count(q), want)
			}
		}
	}
	publishOne := func(i int) {
		t.Helper()
		publish(t, broker, map[string][][]byte{seq.topic(i): {seq.payload(i)}})
	}
	publishOne(0) // f-00: in the catalog
	publishOne(1) // f-01: not yet
	waitCount("SELECT count() FROM readings WHERE sensor_id = 'f-00'", 1)
	waitCount("SELECT count() FROM dead_letters WHERE reason = 'unknown_sensor'", 1)

	writeCatalog("f-00", "f-01")
	p.signal(syscall.SIGHUP)
	waitCount("SELECT count() FROM sensors_current WHERE id = 'f-01'", 1)
	publishOne(21) // f-01 again, a second later
	waitCount("SELECT count() FROM readings WHERE sensor_id = 'f-01'", 1)
	var v float64
	if err := conn.QueryRow(context.Background(), "SELECT value FROM readings WHERE sensor_id = 'f-01'").Scan(&v); err != nil || v != 21 {
		t.Fatalf("f-01 stored %v, want 21, %v", v, err)
	}

	if err := os.WriteFile(catalog, []byte("sensors: [{id: broken}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	publishOne(41) // f-01 still known: the broken catalog was refused
	waitCount("SELECT count() FROM readings WHERE sensor_id = 'f-01'", 2)
	if n := count("SELECT count() FROM sensors_current"); n != 2 {
		t.Fatalf("sensors_current holds %d sensors, want 2", n)
	}
}
