package analytics

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/analytics/sketch"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

func TestMigrationsAreNumberedFiles(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || LatestVersion() != ms[len(ms)-1].Version {
		t.Fatalf("migrations = %+v", ms)
	}
	for _, m := range ms {
		if len(m.Statements) == 0 {
			t.Errorf("migration %d has no statements", m.Version)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	got := splitStatements("-- a comment; with a semicolon\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\nCREATE TABLE b (y String) ENGINE = Memory;\n")
	want := []string{"CREATE TABLE a (x UInt8) ENGINE = Memory", "CREATE TABLE b (y String) ENGINE = Memory"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}

// Applying the schema twice changes nothing, and every table it promises exists.
func TestMigrateTwiceChangesNothing(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	v1, err := Migrate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Migrate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != LatestVersion() || v2 != v1 {
		t.Fatalf("versions %d then %d, want %d twice", v1, v2, LatestVersion())
	}
	conn := testenv.Conn(t, cfg)
	var applied uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations()
	if applied != uint64(len(ms)) {
		t.Fatalf("schema_migrations holds %d rows, want %d", applied, len(ms))
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if want := []string{"alert_events", "alert_events_0006", "alert_notifications", "alert_silences", "api_keys", "audit_log", "camera_events", "camera_status", "cameras", "cameras_current", "cap_drafts", "cap_messages", "citizen_report_events", "dead_letters", "district_1h", "duty_handovers", "duty_log", "incident_events", "ngsild_notifications", "ngsild_subscriptions", "readings", "readings_1h", "readings_1m", "schema_migrations", "sensors", "sensors_current"}; !slices.Equal(tables, want) {
		t.Fatalf("tables %q, want %q", tables, want)
	}
}

// A server that is not there is an error naming the address and how to start one.
func TestOpenNamesTheAddressAndTheRemedy(t *testing.T) {
	cfg := testenv.ClickHouseConfig(t)
	cfg.Addr = "127.0.0.1:1" // nothing listens on port 1
	_, err := Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"127.0.0.1:1", "deploy/local/services.sh start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// Migration 2 moves readings to a deduplicating table without losing a row: a database at
// version 1 with readings keeps them, and a reading stored twice reads once with FINAL.
func TestMigrationTwoKeepsReadingsAndDeduplicates(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	conn := testenv.Conn(t, cfg)
	if v, err := migrateTo(ctx, conn, Cluster{}, 1); err != nil || v != 1 {
		t.Fatalf("migrate to 1: %d, %v", v, err)
	}
	ts := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO readings (ts, sensor_id, metric, value, unit, quality, ingest_time, topic)")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := b.Append(ts.Add(time.Duration(i)*time.Minute), "lc-hong-laocai", "water_level", 80+float64(i), "m", "good", ts, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if v, err := migrateTo(ctx, conn, Cluster{}, math.MaxUint32); err != nil || v != LatestVersion() {
		t.Fatalf("migrate on: %d, %v", v, err)
	}
	// the same reading again, as a redelivery would store it
	b, err = conn.PrepareBatch(ctx, "INSERT INTO readings (ts, sensor_id, metric, value, text, unit, quality, ingest_time, topic)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(ts, "lc-hong-laocai", "water_level", 80.0, "", "m", "good", ts.Add(time.Second), "t"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	var sum float64
	if err := conn.QueryRow(ctx, "SELECT count(), sum(value) FROM readings FINAL").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 243 {
		t.Fatalf("FINAL reads %d readings summing to %g, want 3 summing to 243", n, sum)
	}
	var engine string
	if err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = 'readings'", cfg.Database).Scan(&engine); err != nil {
		t.Fatal(err)
	}
	if engine != "ReplacingMergeTree" {
		t.Fatalf("readings engine %s", engine)
	}
}

// Migration 15 moves the rollups the views kept into the tables ioc writes, as the source
// "migrated": the same counts, sums, extremes and last values per bucket, and a p95 within the
// sketch's accuracy of the old t-digest's; districts keep their number of sensors.
func TestMigrationFifteenMovesTheRollups(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	conn := testenv.Conn(t, cfg)
	if v, err := migrateTo(ctx, conn, Cluster{}, 14); err != nil || v != 14 {
		t.Fatalf("migrate to 14: %d, %v", v, err)
	}
	if err := SyncSensors(ctx, conn, laoCai(t)); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 8, 3, 14, 0, 0, 0, time.UTC)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO readings (ts, sensor_id, metric, value, text, unit, quality, ingest_time, topic)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		for _, s := range []string{"lc-hong-laocai", "lc-hong-bat-xat"} {
			if err := b.Append(ts.Add(time.Duration(i)*time.Minute), s, "water_level", 80+float64(i%37)/10, "", "m", "good", ts, "t"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	type bucket struct {
		n                      uint64
		sum, lo, hi, last, p95 float64
	}
	read := func(q string) map[string]bucket {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bucket{}
		for rows.Next() {
			var k string
			var v bucket
			if err := rows.Scan(&k, &v.n, &v.sum, &v.lo, &v.hi, &v.last, &v.p95); err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	before := read(`SELECT concat(toString(sensor_id), ' ', toString(bucket)), countMerge(n), sumMerge(sum_v), minMerge(min_v), maxMerge(max_v),
       argMaxMerge(last_v), toFloat64(quantileTDigestMerge(0.95)(p95_v)) FROM readings_1m GROUP BY sensor_id, bucket`)
	beforeH := read(`SELECT concat(toString(sensor_id), ' ', toString(bucket)), countMerge(n), sumMerge(sum_v), minMerge(min_v), maxMerge(max_v),
       argMaxMerge(last_v), toFloat64(quantileTDigestMerge(0.95)(p95_v)) FROM readings_1h GROUP BY sensor_id, bucket`)
	var districtsBefore uint64
	if err := conn.QueryRow(ctx, "SELECT uniqMerge(sensors) FROM district_1h WHERE district = 'Bát Xát'").Scan(&districtsBefore); err != nil {
		t.Fatal(err)
	}
	if v, err := migrateTo(ctx, conn, Cluster{}, math.MaxUint32); err != nil || v != LatestVersion() {
		t.Fatalf("migrate on: %d, %v", v, err)
	}
	q := NewQuerier(conn, config.Default().Analytics)
	for name, old := range map[string]map[string]bucket{"1m": before, "1h": beforeH} {
		if len(old) == 0 {
			t.Fatalf("no %s rollup before the migration", name)
		}
		table := "readings_" + name
		got := read(`SELECT concat(toString(sensor_id), ' ', toString(bucket)), sum(n), sum(sum_v), min(min_v), max(max_v), argMax(last_v, last_ts),
       toFloat64(0) FROM ` + table + ` FINAL WHERE source = 'migrated' GROUP BY sensor_id, bucket`)
		if len(got) != len(old) {
			t.Fatalf("%s: %d buckets after, %d before", name, len(got), len(old))
		}
		for k, o := range old {
			g := got[k]
			if g.n != o.n || !near(g.sum, o.sum) || g.lo != o.lo || g.hi != o.hi || g.last != o.last {
				t.Errorf("%s %s: %+v after, %+v before", name, k, g, o)
			}
		}
	}
	series, err := q.Trend(ctx, TrendRequest{Sensors: []string{"lc-hong-laocai"}, Metric: "water_level", From: ts, To: ts.Add(2 * time.Hour), Resolution: Resolution1h})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range series[0].Points {
		o := beforeH["lc-hong-laocai "+p.T.Format("2006-01-02 15:04:05")]
		if p.Count != o.n || math.Abs(p.P95-o.p95) > sketch.Accuracy*o.p95*(1+1e-9) {
			t.Errorf("hour %s: %d readings, p95 %g; before %d, %g", p.T, p.Count, p.P95, o.n, o.p95)
		}
	}
	ds, err := q.Districts(ctx, "water_level", ts, ts.Add(2*time.Hour), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.District == "Bát Xát" && d.Sensors != districtsBefore {
			t.Errorf("Bát Xát: %d sensors, %d before", d.Sensors, districtsBefore)
		}
	}
}

// Migration 15 turns the old p95s into sketch keys with sketch.KeySQL's expression, spelled
// out in its SQL: a change of the sketch's accuracy must change the migration with it.
func TestMigrationFifteenKeysAsTheSketch(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, m := range ms {
		for _, s := range m.Statements {
			if m.Version == 15 && strings.Contains(s, "quantileTDigestMerge") {
				if !strings.Contains(s, sketch.KeySQL("p")) {
					t.Errorf("migration 15 keys p95s otherwise than %s:\n%s", sketch.KeySQL("p"), s)
				}
				found++
			}
		}
	}
	if found != 2 {
		t.Errorf("%d statements of migration 15 move p95s, want 2", found)
	}
}
