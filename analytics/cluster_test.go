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

// Every migration rewrites for a cluster of one shard and of several: a migration that a
// cluster cannot run fails here, not at a province's upgrade. Every table that stores rows
// replicates; on several shards every split table gets its Distributed table, and every view
// writes and reads locals.
func TestEveryMigrationRunsOnACluster(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Cluster{{Name: "ioc", Database: "city", Shards: 1}, {Name: "ioc", Database: "city", Shards: 2}} {
		distributed := map[string]bool{}
		for _, m := range ms {
			for _, stmt := range m.Statements {
				out, err := c.Statement(stmt, m.Version)
				if err != nil {
					t.Fatalf("%d shard(s), migration %04d_%s: %v", c.Shards, m.Version, m.Name, err)
				}
				if strings.HasPrefix(stmt, "INSERT ") {
					if len(out) != 1 || out[0] != stmt {
						t.Errorf("an INSERT changed: %q", out)
					}
					continue
				}
				for _, o := range out {
					// on several shards a table replicated to every server alters itself (Statement)
					if !strings.Contains(o, " ON CLUSTER ioc") && !(c.Shards > 1 && strings.HasPrefix(o, "ALTER TABLE ") && !c.split(strings.Fields(o)[2])) {
						t.Errorf("migration %04d: not ON CLUSTER: %.80q", m.Version, o)
					}
					if strings.Contains(o, "MergeTree") && !strings.Contains(o, "ENGINE = Replicated") {
						t.Errorf("migration %04d: an engine that does not replicate: %.200q", m.Version, o)
					}
					if strings.Contains(o, "ENGINE = Distributed") {
						distributed[strings.Fields(o)[5]] = true
					}
					if strings.HasPrefix(o, "CREATE MATERIALIZED VIEW") && c.Shards > 1 && !strings.Contains(o, "TO city.readings_1") &&
						!strings.Contains(o, "_local") {
						t.Errorf("migration %04d: a view over the Distributed tables: %.200q", m.Version, o)
					}
				}
			}
		}
		for table := range shardKeys {
			if c.Shards > 1 && !distributed[table] {
				t.Errorf("%d shards: %s has no Distributed table", c.Shards, table)
			}
		}
		if c.Shards == 1 && len(distributed) > 0 {
			t.Errorf("one shard: Distributed tables %v", distributed)
		}
	}
}

func TestClusterStatement(t *testing.T) {
	one := Cluster{Name: "ioc", Database: "city", Shards: 1}
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
		got, err := one.Statement(tc.in, 2)
		if err != nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q:\n got %q, %v\nwant %q", tc.in, got, err, tc.want)
		}
		if node, err := (Cluster{Database: "city"}).Statement(tc.in, 2); err != nil || len(node) != 1 || node[0] != tc.in {
			t.Errorf("one node changed %q to %q, %v", tc.in, node, err)
		}
	}
	for _, bad := range []string{"OPTIMIZE TABLE readings FINAL", "TRUNCATE TABLE readings", "SELECT 1"} {
		if _, err := one.Statement(bad, 2); err == nil || !strings.Contains(err.Error(), "a cluster cannot run") {
			t.Errorf("%q on a cluster: %v, want refused", bad, err)
		}
	}
}

// On several shards a split table is its locals and a Distributed table over them, in every
// statement that creates, alters, renames or drops it; the other tables replicate to every
// server of every shard.
func TestShardedStatement(t *testing.T) {
	c := Cluster{Name: "ioc", Database: "city", Shards: 2}
	dist := func(t, key string) string {
		return "CREATE TABLE IF NOT EXISTS " + t + " ON CLUSTER ioc AS city." + t + "_local ENGINE = Distributed(ioc, city, " + t + "_local, " + key + ")"
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"CREATE TABLE IF NOT EXISTS readings (a UInt8) ENGINE = ReplacingMergeTree(ingest_time) ORDER BY a", []string{
			"CREATE TABLE IF NOT EXISTS readings_local ON CLUSTER ioc (a UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/city/readings_local_2', '{replica}', ingest_time) ORDER BY a",
			dist("readings", "cityHash64(sensor_id)")}},
		{"CREATE TABLE IF NOT EXISTS audit_log (a UInt8) ENGINE = ReplacingMergeTree ORDER BY a", []string{
			"CREATE TABLE IF NOT EXISTS audit_log ON CLUSTER ioc (a UInt8) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/city/audit_log_2', '{replica}') ORDER BY a"}},
		{"CREATE MATERIALIZED VIEW IF NOT EXISTS v TO district_1h AS\nSELECT a FROM readings\nANY INNER JOIN (SELECT id FROM sensors FINAL) USING a", []string{
			"CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER ioc TO city.district_1h_local AS\nSELECT a FROM city.readings_local\nANY INNER JOIN (SELECT id FROM city.sensors FINAL) USING a"}},
		{"CREATE VIEW IF NOT EXISTS v AS SELECT a FROM readings", []string{"CREATE VIEW IF NOT EXISTS v ON CLUSTER ioc AS SELECT a FROM city.readings"}},
		{"ALTER TABLE camera_events ADD COLUMN x UInt8", []string{
			"ALTER TABLE camera_events_local ON CLUSTER ioc ADD COLUMN x UInt8", "DROP TABLE IF EXISTS camera_events ON CLUSTER ioc", dist("camera_events", "cityHash64(camera_id)")}},
		{"ALTER TABLE alert_events ADD COLUMN x UInt8", []string{"ALTER TABLE alert_events ADD COLUMN x UInt8"}},
		{"RENAME TABLE readings TO readings_v1, readings_v2 TO readings, a TO b", []string{
			"RENAME TABLE a TO b ON CLUSTER ioc",
			"RENAME TABLE readings_local TO readings_v1_local, readings_v2_local TO readings_local ON CLUSTER ioc",
			"DROP TABLE IF EXISTS readings ON CLUSTER ioc", "DROP TABLE IF EXISTS readings_v2 ON CLUSTER ioc",
			dist("readings_v1", "cityHash64(sensor_id)"), dist("readings", "cityHash64(sensor_id)")}},
		{"DROP TABLE camera_status_v1", []string{"DROP TABLE camera_status_v1 ON CLUSTER ioc", "DROP TABLE camera_status_v1_local ON CLUSTER ioc"}},
		{"INSERT INTO readings_v2 SELECT * FROM readings", []string{"INSERT INTO readings_v2 SELECT * FROM readings"}},
	} {
		got, err := c.Statement(tc.in, 2)
		if err != nil || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%q:\n got %q, %v\nwant %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := c.Statement("RENAME TABLE readings TO old_readings", 2); err == nil || !strings.Contains(err.Error(), "split across shards") {
		t.Errorf("a split table renamed to a name that is not split: %v", err)
	}
	if c.local("readings") != "readings_local" || c.local("alert_events") != "alert_events" || (Cluster{Name: "ioc", Shards: 1}).local("readings") != "readings" {
		t.Error("Local names the wrong table")
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
	s, _ := startStore(t, first, config.Default().Analytics, nil)
	s.keep(t, ingest.Delivery{Readings: []ingest.Reading{reading(1), reading(2)}})
	second := testenv.Conn(t, config.ClickHouse{Addr: cl.Replicas[1], Database: cfg.Database, Username: "default"})
	if err := second.Exec(ctx, "SYSTEM SYNC REPLICA readings_1h"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := second.QueryRow(ctx, "SELECT sum(n) FROM readings_1h FINAL WHERE source != ''").Scan(&n); err != nil || n != 2 {
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
