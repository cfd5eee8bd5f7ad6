package analytics

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A cluster's schema is the same migrations, rewritten statement by statement when
// clickhouse.cluster names a cluster of the server's remote_servers: each DDL statement runs
// ON CLUSTER (ClickHouse's distributed DDL queue in ZooKeeper or Keeper), each MergeTree-family
// engine becomes its Replicated twin under /clickhouse/tables/{shard}/<database>/<table>_<n>
// (n = the migration that created it, so a table name used again later never meets the old
// one's replicas), and the tables a view reads and writes are named with their database (the
// replicas run distributed DDL in their default database otherwise). An INSERT ... SELECT runs
// on one replica: the replicated table copies what it wrote to the others. A statement of
// another kind is an error, so that a migration written for one node only fails its test
// instead of a province's upgrade.

// Cluster is a migration's target: one node (Name empty) or a named cluster.
type Cluster struct {
	Name     string // remote_servers' name of the cluster; empty for one node
	Database string
}

var (
	createRe  = regexp.MustCompile(`^(CREATE (?:TABLE|MATERIALIZED VIEW|VIEW|DATABASE)(?: IF NOT EXISTS)? )([A-Za-z_][A-Za-z0-9_]*)\b`)
	alterRe   = regexp.MustCompile(`^(ALTER TABLE )([A-Za-z_][A-Za-z0-9_]*)\b`)
	dropRe    = regexp.MustCompile(`^DROP (?:TABLE|VIEW)(?: IF EXISTS)? [A-Za-z_][A-Za-z0-9_]*$`)
	renameRe  = regexp.MustCompile(`^RENAME TABLE [A-Za-z0-9_, ]+$`)
	engineRe  = regexp.MustCompile(`\bENGINE = ((?:Replacing|Aggregating|Summing|Collapsing)?MergeTree)\b(\(([^)]*)\))?`)
	readsFrom = regexp.MustCompile(`\b(FROM|JOIN|TO)\s+([A-Za-z_][A-Za-z0-9_]*)\b(\s*\.)?`)
)

// Statement rewrites one migration statement (migration version) for the cluster; for one node
// it is the statement unchanged.
func (c Cluster) Statement(stmt string, version uint32) (string, error) {
	if c.Name == "" {
		return stmt, nil
	}
	onCluster := " ON CLUSTER " + c.Name
	switch {
	case strings.HasPrefix(stmt, "INSERT INTO "):
		return stmt, nil
	case dropRe.MatchString(stmt), renameRe.MatchString(stmt):
		return stmt + onCluster, nil
	case alterRe.MatchString(stmt):
		return alterRe.ReplaceAllString(stmt, "${1}${2}"+onCluster), nil
	}
	m := createRe.FindStringSubmatch(stmt)
	if m == nil {
		return "", fmt.Errorf("a statement a cluster cannot run (CREATE, ALTER TABLE, DROP, RENAME or INSERT ... SELECT only): %.60q", stmt)
	}
	table := m[2]
	out := createRe.ReplaceAllString(stmt, "${1}${2}"+onCluster)
	out = engineRe.ReplaceAllStringFunc(out, func(engine string) string {
		e := engineRe.FindStringSubmatch(engine)
		args := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s_%d', '{replica}'", c.Database, table, version)
		if strings.TrimSpace(e[3]) != "" {
			args += ", " + e[3]
		}
		return "ENGINE = Replicated" + e[1] + "(" + args + ")"
	})
	if strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW ") || strings.HasPrefix(stmt, "CREATE VIEW ") {
		out = readsFrom.ReplaceAllStringFunc(out, func(s string) string {
			r := readsFrom.FindStringSubmatch(s)
			if r[3] != "" { // already database.table
				return s
			}
			return r[1] + " " + c.Database + "." + r[2]
		})
	}
	return out, nil
}

// CheckCluster tells whether the server connected to knows c's cluster, of one shard, and has
// the {shard} and {replica} macros the Replicated tables need. It returns a clear error naming
// what is missing.
func CheckCluster(ctx context.Context, conn driver.Conn, c Cluster) error {
	if c.Name == "" {
		return nil
	}
	var names []string
	rows, err := conn.Query(ctx, "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster")
	if err != nil {
		return fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
	}
	if !slices.Contains(names, c.Name) {
		return fmt.Errorf("clickhouse.cluster: the server has no cluster named %q in its remote_servers (it has: %s)", c.Name, strings.Join(names, ", "))
	}
	var shards uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?", c.Name).Scan(&shards); err != nil {
		return fmt.Errorf("clickhouse.cluster: read cluster %s: %w", c.Name, err)
	}
	if shards != 1 {
		return fmt.Errorf("clickhouse.cluster: cluster %q has %d shards; ioc's schema is one shard of replicas (docs/OPERATIONS.md)", c.Name, shards)
	}
	var macros uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.macros WHERE macro IN ('shard', 'replica')").Scan(&macros); err != nil {
		return fmt.Errorf("clickhouse.cluster: read system.macros: %w", err)
	}
	if macros != 2 {
		return fmt.Errorf("clickhouse.cluster: the server lacks the {shard} and {replica} macros its Replicated tables need (<macros> in its config)")
	}
	return nil
}
