package analytics

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/internal/config"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered step of the schema.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Migrations returns the schema's steps in order, read from migrations/NNNN_name.sql.
func Migrations() ([]Migration, error) {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || v == 0 {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: uint32(v), Name: name, Statements: splitStatements(string(body))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].Version)
		}
	}
	return out, nil
}

// splitStatements cuts a file into statements at semicolons that end a line; -- comments go.
func splitStatements(sql string) []string {
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		lines = append(lines, l)
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// LatestVersion is the schema version this build brings.
func LatestVersion() uint32 {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// ddlSettings lets Debian's ClickHouse 18.16 create LowCardinality columns (newer servers
// accept the setting and ignore it), and has a migration's INSERT ... SELECT into a table split
// across shards done on every shard before the next statement renames it.
var ddlSettings = clickhouse.Settings{"allow_experimental_low_cardinality_type": 1, "insert_distributed_sync": 1}

// Migrate creates the database if missing and applies the migrations it has not had yet, in
// order, recording each in schema_migrations. Applying it twice changes nothing. It returns
// the schema version now in place.
func Migrate(ctx context.Context, cfg config.ClickHouse) (uint32, error) {
	admin, err := open(ctx, cfg, "default")
	if err != nil {
		return 0, err
	}
	cluster, err := ClusterOf(cfg).Describe(ctx, admin)
	if err == nil {
		err = checkLayout(ctx, admin, cluster)
	}
	if err == nil {
		err = admin.Exec(ctx, mustStatement(cluster, "CREATE DATABASE IF NOT EXISTS "+cfg.Database)) // validated identifier
		if err != nil {
			err = fmt.Errorf("create database %s: %w", cfg.Database, err)
		}
	}
	admin.Close()
	if err != nil {
		return 0, err
	}
	conn, err := Open(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return migrateTo(ctx, conn, cluster, math.MaxUint32)
}

// ClusterOf is the migrations' target that cfg names (Describe tells its shards).
func ClusterOf(cfg config.ClickHouse) Cluster {
	return Cluster{Name: cfg.Cluster, Database: cfg.Database}
}

// mustStatement rewrites one of this package's own statements, which every target runs as
// one statement.
func mustStatement(c Cluster, stmt string) string {
	out, err := c.Statement(stmt, 0)
	if err != nil || len(out) != 1 {
		panic(fmt.Sprintf("%q on a cluster: %v, %d statements", stmt, err, len(out)))
	}
	return out[0]
}

// migrateTo applies the pending migrations numbered up to last.
func migrateTo(ctx context.Context, conn driver.Conn, cluster Cluster, last uint32) (uint32, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	if err := conn.Exec(ctx, mustStatement(cluster, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
) ENGINE = MergeTree ORDER BY version`)); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := SchemaVersion(ctx, conn)
	if err != nil {
		return 0, err
	}
	ddl := clickhouse.Context(ctx, clickhouse.WithSettings(ddlSettings))
	for _, m := range ms {
		if m.Version <= current || m.Version > last {
			continue
		}
		for i, stmt := range m.Statements {
			stmts, err := cluster.Statement(stmt, m.Version)
			if err != nil {
				return current, fmt.Errorf("migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
			}
			for _, stmt := range stmts {
				if err := conn.Exec(ddl, stmt); err != nil {
					return current, fmt.Errorf("migration %04d_%s, statement %d: %w%s", m.Version, m.Name, i+1, err, clusterHint(cluster, stmt, err))
				}
			}
		}
		if err := recordMigration(ctx, conn, m); err != nil {
			return current, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		current = m.Version
	}
	return current, nil
}

// clusterHint says why a cluster's ALTER may not finish: it waits for every replica to apply
// it ("" for another statement or error).
func clusterHint(c Cluster, stmt string, err error) string {
	if c.Name == "" || !strings.HasPrefix(stmt, "ALTER TABLE") || !(errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "timeout")) {
		return ""
	}
	return " (an ALTER on a cluster waits for every replica to apply it: check that each replica runs; " +
		"ClickHouse 18.16 was seen to need a restart of its replicas after its ZooKeeper came back from an outage, docs/OPERATIONS.md)"
}

// recordMigration inserts m into schema_migrations through a batch: clickhouse-go's
// Exec("INSERT ... VALUES ...") never returns against ClickHouse 18.16.
func recordMigration(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := b.Append(m.Version, m.Name, time.Now().UTC()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// SchemaVersion is the highest migration applied to the connection's database (0 for none).
func SchemaVersion(ctx context.Context, conn driver.Conn) (uint32, error) {
	var v uint32
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
