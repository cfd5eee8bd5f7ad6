package analytics

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// Every migration rewrites for a cluster: a migration that a cluster cannot run fails here,
// not at a province's upgrade.
func TestEveryMigrationRunsOnACluster(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	c := Cluster{Name: "ioc", Database: "city"}
	for _, m := range ms {
		for _, stmt := range m.Statements {
			out, err := c.Statement(stmt, m.Version)
			if err != nil {
				t.Fatalf("migration %04d_%s: %v", m.Version, m.Name, err)
			}
			if strings.HasPrefix(stmt, "INSERT ") {
				if out != stmt {
					t.Errorf("an INSERT changed: %q", out)
				}
				continue
			}
			if !strings.Contains(out, " ON CLUSTER ioc") {
				t.Errorf("migration %04d: not ON CLUSTER: %.80q", m.Version, out)
			}
			if strings.Contains(out, "ENGINE = ") && !strings.Contains(out, "ENGINE = Replicated") {
				t.Errorf("migration %04d: an engine that does not replicate: %.200q", m.Version, out)
			}
		}
	}
}

func TestClusterStatement(t *testing.T) {
	c := Cluster{Name: "ioc", Database: "city"}
	for _, tc := range []struct{ in, want string }{
		{"CREATE TABLE IF NOT EXISTS readings (a UInt8) ENGINE = ReplacingMergeTree(ingest_time) ORDER BY a",
			"CREATE TABLE IF NOT EXISTS readings ON CLUSTER ioc (a UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/city/readings_2', '{replica}', ingest_time) ORDER BY a"},
		{"CREATE TABLE IF NOT EXISTS audit_log (a UInt8) ENGINE = ReplacingMergeTree\nORDER BY a",
			"CREATE TABLE IF NOT EXISTS audit_log ON CLUSTER ioc (a UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/city/audit_log_2', '{replica}')\nORDER BY a"},
		{"CREATE TABLE IF NOT EXISTS m (a UInt8) ENGINE = MergeTree ORDER BY a",
			"CREATE TABLE IF NOT EXISTS m ON CLUSTER ioc (a UInt8) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/city/m_2', '{replica}') ORDER BY a"},
		{"CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS\nSELECT a FROM readings\nANY INNER JOIN (SELECT id FROM sensors FINAL) USING a",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER ioc TO city.t AS\nSELECT a FROM city.readings\nANY INNER JOIN (SELECT id FROM city.sensors FINAL) USING a"},
		{"CREATE VIEW IF NOT EXISTS v AS SELECT id FROM other.sensors FINAL", "CREATE VIEW IF NOT EXISTS v ON CLUSTER ioc AS SELECT id FROM other.sensors FINAL"},
		{"ALTER TABLE alert_events ADD COLUMN reason_en String AFTER reason", "ALTER TABLE alert_events ON CLUSTER ioc ADD COLUMN reason_en String AFTER reason"},
		{"RENAME TABLE a TO b, c TO d", "RENAME TABLE a TO b, c TO d ON CLUSTER ioc"},
		{"DROP TABLE camera_status_v1", "DROP TABLE camera_status_v1 ON CLUSTER ioc"},
		{"CREATE DATABASE IF NOT EXISTS city", "CREATE DATABASE IF NOT EXISTS city ON CLUSTER ioc"},
		{"INSERT INTO a SELECT * FROM b", "INSERT INTO a SELECT * FROM b"},
	} {
		got, err := c.Statement(tc.in, 2)
		if err != nil || got != tc.want {
			t.Errorf("%q:\n got %q, %v\nwant %q", tc.in, got, err, tc.want)
		}
		if one, err := (Cluster{Database: "city"}).Statement(tc.in, 2); err != nil || one != tc.in {
			t.Errorf("one node changed %q to %q, %v", tc.in, one, err)
		}
	}
	for _, bad := range []string{"OPTIMIZE TABLE readings FINAL", "TRUNCATE TABLE readings", "SELECT 1"} {
		if _, err := c.Statement(bad, 2); err == nil || !strings.Contains(err.Error(), "a cluster cannot run") {
			t.Errorf("%q on a cluster: %v, want refused", bad, err)
		}
	}
}

// On the local cluster the migrations create the same tables on both replicas, each that
// stores rows a Replicated one; a row written on one replica reaches the other through its
// views too; applying them again changes nothing; a cluster name the servers do not know is a
// clear error.
func TestMigrateOnCluster(t *testing.T) {
	cl := testenv.StartedCluster(t)
	cfg := cl.Config(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if v, err := Migrate(ctx, cfg); err != nil || v != LatestVersion() {
			t.Fatalf("migrate %d: version %d, %v", i+1, v, err)
		}
	}
	tables := func(addr string) string {
		conn := testenv.Conn(t, config.ClickHouse{Addr: addr, Database: cfg.Database, Username: "default"})
		rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var name, engine string
			if err := rows.Scan(&name, &engine); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(engine, "MergeTree") && !strings.HasPrefix(engine, "Replicated") {
				t.Errorf("%s on %s: %s does not replicate", name, addr, engine)
			}
			out = append(out, name+" "+engine)
		}
		return strings.Join(out, "\n")
	}
	one, two := tables(cl.Replicas[0]), tables(cl.Replicas[1])
	if one != two || !strings.Contains(one, "readings ReplicatedReplacingMergeTree") {
		t.Fatalf("replica 1:\n%s\nreplica 2:\n%s", one, two)
	}

	first := cfg
	first.Addr = cl.Replicas[0]
	w, _, _ := startWriter(t, first, false)
	if err := w.Deliver(ctx, ingest.Delivery{Readings: []ingest.Reading{reading(1), reading(2)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	second := testenv.Conn(t, config.ClickHouse{Addr: cl.Replicas[1], Database: cfg.Database, Username: "default"})
	if err := second.Exec(ctx, "SYSTEM SYNC REPLICA readings_1h"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := second.QueryRow(ctx, "SELECT countMerge(n) FROM readings_1h").Scan(&n); err != nil || n != 2 {
		t.Fatalf("replica 2's hourly rollup counts %d readings (%v), want 2", n, err)
	}

	wrong := cfg
	wrong.Cluster = "ioc_typo"
	if _, err := Migrate(ctx, wrong); err == nil || !strings.Contains(err.Error(), `no cluster named "ioc_typo"`) {
		t.Fatalf("migrate on a cluster the servers do not know: %v", err)
	}
}

// A cluster's ALTER that times out says what to check; other statements and errors, and one
// node, get no hint.
func TestClusterHint(t *testing.T) {
	c := Cluster{Name: "ioc", Database: "ioc"}
	timeout := fmt.Errorf("read: %w", os.ErrDeadlineExceeded)
	if h := clusterHint(c, "ALTER TABLE alert_events ON CLUSTER ioc ADD COLUMN term UInt64", timeout); !strings.Contains(h, "every replica") {
		t.Errorf("hint %q", h)
	}
	for _, tc := range []struct {
		c    Cluster
		stmt string
		err  error
	}{
		{Cluster{}, "ALTER TABLE t ADD COLUMN x UInt8", timeout},
		{c, "CREATE TABLE t ON CLUSTER ioc (x UInt8) ENGINE = Memory", timeout},
		{c, "ALTER TABLE t ON CLUSTER ioc ADD COLUMN x UInt8", errors.New("code: 44, message: column exists")},
	} {
		if h := clusterHint(tc.c, tc.stmt, tc.err); h != "" {
			t.Errorf("%+v %q %v: hint %q, want none", tc.c, tc.stmt, tc.err, h)
		}
	}
}
