package analytics

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

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
	if want := []string{"alert_events", "alert_events_0006", "alert_notifications", "alert_silences", "api_keys", "audit_log", "camera_events", "camera_status", "cameras", "cameras_current", "cap_drafts", "cap_messages", "dead_letters", "district_1h", "district_1h_mv", "readings", "readings_1h", "readings_1h_mv", "readings_1m", "readings_1m_mv", "schema_migrations", "sensor_districts", "sensors", "sensors_current"}; !slices.Equal(tables, want) {
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
