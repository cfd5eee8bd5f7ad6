package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.yaml.in/yaml/v3"

	"github.com/haidang-ioc/ioc/analytics/sketch"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

// rollupCatalog writes a catalog of the sequences' 20 river gauges f-00 … f-19, in four
// districts, for the district rollup.
func rollupCatalog(t *testing.T) string {
	t.Helper()
	raw, err := provincesim.Catalog("lao-cai", 5*time.Minute, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := ingest.ParseCatalog(raw, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	gauge := *cat.Lookup("lc-hong-laocai")
	gauge.Metrics = []ingest.Metric{{Name: "water_level"}} // the sequence's values, 0 to 999, are in its range
	districts := []string{"TP Lào Cai", "Bát Xát", "Bảo Thắng", "Sa Pa"}
	out := ingest.Catalog{Districts: cat.Districts}
	for i := range 20 {
		s := gauge
		s.ID, s.Name, s.District = fmt.Sprintf("f-%02d", i), fmt.Sprintf("Trạm thử %d", i), districts[i%4]
		out.Sensors = append(out.Sensors, s)
	}
	body, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sensors.yaml")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rollupConfig is faultConfig with the gauges' catalog, rollups written every second and
// hours kept a minute after their end, and, with forced, every batch through the spool.
func rollupConfig(t *testing.T, seq sequence, ch config.ClickHouse, broker, clientID, spoolDir, catalog, sharedGroup string, forced bool) string {
	t.Helper()
	path := faultConfig(t, seq, ch, broker, clientID, spoolDir, sharedGroup)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?m)^  catalog: .*$`).ReplaceAllString(string(body), fmt.Sprintf("  catalog: %q", catalog))
	s += "analytics: {rollups: {interval: 1s, lateness: 1m}}\n"
	s = strings.Replace(s, "log: {level: warn", "log: {level: info", 1)
	if forced {
		s = strings.Replace(s, "after: 1s}", "after: 1s, force: true}", 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A day of readings of 20 gauges reaches ioc out of order (shuffled within blocks of 100
// minutes, the first hour's readings last of all: late, into an hour written and forgotten
// long before), through a process killed with SIGKILL (the broker delivers again what it had
// not acknowledged), one whose every batch goes through the spool and is replayed from it,
// and a third. Every bucket of every rollup then equals the raw table's answer with FINAL:
// count, sum, min, max and last exactly, the p95 within the sketch's accuracy.
func TestRollupsExactAgainstRaw(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	seq := newSequence(20 * 1440)
	seq.step = time.Minute
	seq.base = time.Now().UTC().Truncate(time.Hour).Add(-26 * time.Hour)
	r := rand.New(rand.NewPCG(7, 23))
	first := 20 * 60 // the first hour's readings
	for b := first; b < seq.n; b += 2000 {
		block := make([]int, 0, 2000)
		for i := b; i < min(b+2000, seq.n); i++ {
			block = append(block, i)
		}
		r.Shuffle(len(block), func(i, j int) { block[i], block[j] = block[j], block[i] })
		seq.order = append(seq.order, block...)
	}
	for i := range first {
		seq.order = append(seq.order, i)
	}
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	spool, catalog := t.TempDir(), rollupCatalog(t)

	a := startIOC(t, rollupConfig(t, seq, ch, broker, clientID, spool, catalog, "", false))
	published, wait := publishInBackground(t, seq, broker, 1500)
	waitPublished(t, published, 8000)
	a.signal(syscall.SIGKILL)
	a.wait(t)
	t.Logf("ioc killed with %d published", published.Load())
	b := startIOC(t, rollupConfig(t, seq, ch, broker, clientID, spool, catalog, "", true))
	waitPublished(t, published, 18000)
	b.signal(syscall.SIGTERM)
	b.wait(t)
	t.Logf("ioc with a forced spool stopped with %d published", published.Load())
	startIOC(t, rollupConfig(t, seq, ch, broker, clientID, spool, catalog, "", false))
	wait()
	conn := testenv.Conn(t, ch)
	seq.verify(t, conn, 2*time.Minute)

	var diff string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		if diff = rollupsAgainstRaw(t, conn); diff == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the last reading was stored, the rollups differ from the raw readings:\n%s", diff)
		}
	}
}

// rollupsAgainstRaw compares every bucket of the three rollups with the raw readings ("" when
// they agree).
func rollupsAgainstRaw(t *testing.T, conn driver.Conn) string {
	t.Helper()
	type bucket struct {
		n                      uint64
		sum, lo, hi, last, p95 float64
		sensors                uint64
	}
	read := func(q string) map[string]bucket {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bucket{}
		for rows.Next() {
			var k string
			var v bucket
			var keys []int32
			var counts []uint64
			if err := rows.Scan(&k, &v.n, &v.sum, &v.lo, &v.hi, &v.last, &keys, &counts, &v.p95, &v.sensors); err != nil {
				t.Fatal(err)
			}
			if v.p95 < 0 { // a rollup: its p95 is the sketch's
				v.p95 = sketch.Quantile(keys, counts, 0.95)
			}
			out[k] = v
		}
		return out
	}
	// the value of rank ⌊0.95·(n−1)⌋, as sketch.Quantile ranks
	rank := "arrayElement(arraySort(groupArray(value)), toUInt64(floor(0.95 * (count() - 1))) + 1)"
	var out strings.Builder
	for _, c := range []struct{ name, rollup, raw string }{
		{"1h", sensorRollupSQL("readings_1h"), sensorRawSQL(3600, rank)},
		{"1m", sensorRollupSQL("readings_1m"), sensorRawSQL(60, rank)},
		{"district", `SELECT concat(district, ' ', toString(bucket)), sum(n), sum(sum_v), min(min_v), max(max_v), toFloat64(0),
       emptyArrayInt32(), emptyArrayUInt64(), toFloat64(0), length(groupUniqArrayArray(sensors))
FROM district_1h FINAL WHERE source != '' GROUP BY district, bucket`,
			`SELECT concat(district, ' ', toString(toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC'))) AS k, count(), sum(value), min(value), max(value), toFloat64(0),
       emptyArrayInt32(), emptyArrayUInt64(), toFloat64(0), uniqExact(sensor_id)
FROM readings FINAL ANY INNER JOIN (SELECT id AS sensor_id, district FROM sensors FINAL WHERE deleted = 0) USING sensor_id
WHERE metric = 'water_level' GROUP BY k`},
	} {
		got, want := read(c.rollup), read(c.raw)
		if len(got) != len(want) {
			fmt.Fprintf(&out, "%s: %d buckets, the raw readings make %d\n", c.name, len(got), len(want))
			continue
		}
		bad := 0
		for k, w := range want {
			g, ok := got[k]
			if !ok || g.n != w.n || math.Abs(g.sum-w.sum) > 1e-6*math.Abs(w.sum) || g.lo != w.lo || g.hi != w.hi || g.last != w.last ||
				g.sensors != w.sensors || math.Abs(g.p95-w.p95) > sketch.Accuracy*math.Abs(w.p95)*(1+1e-9) {
				if bad++; bad <= 3 {
					fmt.Fprintf(&out, "%s %s: rollup %+v, raw %+v\n", c.name, k, g, w)
				}
			}
		}
		if bad > 3 {
			fmt.Fprintf(&out, "%s: %d buckets differ in all\n", c.name, bad)
		}
	}
	return out.String()
}

// sensorRollupSQL reads every bucket of a sensor rollup table, its sources merged, in the
// columns rollupsAgainstRaw scans.
func sensorRollupSQL(table string) string {
	return `SELECT concat(toString(sensor_id), ' ', toString(bucket)), sum(n), sum(sum_v), min(min_v), max(max_v), argMax(last_v, last_ts),
       tupleElement(sumMap(sketch_keys, sketch_counts), 1), tupleElement(sumMap(sketch_keys, sketch_counts), 2), -1.0, toUInt64(0)
FROM ` + table + ` FINAL WHERE source != '' GROUP BY sensor_id, bucket`
}

// sensorRawSQL is the raw readings' answer for the buckets of step seconds, p95 by rank.
func sensorRawSQL(step int, rank string) string {
	return fmt.Sprintf(`SELECT concat(toString(sensor_id), ' ', toString(toDateTime(intDiv(toUInt32(ts), %[1]d) * %[1]d, 'UTC'))) AS k, count(), sum(value),
       min(value), max(value), argMax(value, ts), emptyArrayInt32(), emptyArrayUInt64(), %[2]s, toUInt64(0)
FROM readings FINAL WHERE metric = 'water_level' GROUP BY k`, step, rank)
}
