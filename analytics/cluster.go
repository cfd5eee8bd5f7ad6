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
//
// A cluster of several shards splits the tables that grow with the province (shardKeys) across
// them: each becomes <table>_local, replicated within its shard, and <table>, a Distributed
// table over the shards' locals that every query and insert uses unchanged. A row's shard is
// picked by its series (sensor or camera), so that the (sensor, metric, second) key and FINAL
// deduplicate within one shard. Views write and read the locals (each shard rolls up its own
// readings; queries merge the shards' partial aggregates). The small tables (alerts, catalogs,
// keys, audit) are replicated to every server of every shard under /clickhouse/tables/all/:
// every server reads them locally, in joins too. Replica names must then be unique across the
// cluster. ioc does not reshard: the number of shards is fixed when the schema is created.

// Cluster is a migration's target: one node (Name empty) or a named cluster.
type Cluster struct {
	Name     string // remote_servers' name of the cluster; empty for one node
	Database string
	Shards   int // the cluster's shards, as Describe found them; more than one splits shardKeys' tables
}

// shardKeys are the tables a cluster of several shards splits across them, with the
// expression that picks a row's shard (the names of a table's earlier versions too, which the
// migrations create and rename).
var shardKeys = map[string]string{
	"readings": "cityHash64(sensor_id)", "readings_v1": "cityHash64(sensor_id)", "readings_v2": "cityHash64(sensor_id)",
	"readings_1m": "cityHash64(sensor_id)", "readings_1h": "cityHash64(sensor_id)", "district_1h": "cityHash64(district)",
	"readings_1m_0004": "cityHash64(sensor_id)", "readings_1h_0004": "cityHash64(sensor_id)", "district_1h_0004": "cityHash64(district)",
	"camera_status": "cityHash64(camera_id)", "camera_status_v1": "cityHash64(camera_id)", "camera_status_v2": "cityHash64(camera_id)",
	"camera_events": "cityHash64(camera_id)", "dead_letters": "rand()",
}

// localSuffix names a split table's part on each shard: readings_local under readings.
const localSuffix = "_local"

func (c Cluster) sharded() bool { return c.Name != "" && c.Shards > 1 }

// split tells whether table is split across the cluster's shards.
func (c Cluster) split(table string) bool { return c.sharded() && shardKeys[table] != "" }

// local is the table that holds table's rows on the server itself: table_local for a table
// split across shards, table otherwise.
func (c Cluster) local(table string) string {
	if c.split(table) {
		return table + localSuffix
	}
	return table
}

// onCluster is " ON CLUSTER <name>" for a statement on a split table's locals (every shard
// must run it), "" otherwise: a replicated table replicates its own partition drops.
func (c Cluster) onCluster(table string) string {
	if c.split(table) {
		return " ON CLUSTER " + c.Name
	}
	return ""
}

var (
	createRe  = regexp.MustCompile(`^(CREATE (?:TABLE|MATERIALIZED VIEW|VIEW|DATABASE)(?: IF NOT EXISTS)? )([A-Za-z_][A-Za-z0-9_]*)\b`)
	alterRe   = regexp.MustCompile(`^(ALTER TABLE )([A-Za-z_][A-Za-z0-9_]*)\b`)
	dropRe    = regexp.MustCompile(`^DROP (?:TABLE|VIEW)( IF EXISTS)? ([A-Za-z_][A-Za-z0-9_]*)$`)
	renameRe  = regexp.MustCompile(`^RENAME TABLE ([A-Za-z0-9_, ]+)$`)
	pairRe    = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*) TO ([A-Za-z_][A-Za-z0-9_]*)$`)
	engineRe  = regexp.MustCompile(`\bENGINE = ((?:Replacing|Aggregating|Summing|Collapsing)?MergeTree)\b(\(([^)]*)\))?`)
	readsFrom = regexp.MustCompile(`\b(FROM|JOIN|TO)\s+([A-Za-z_][A-Za-z0-9_]*)\b(\s*\.)?`)
)

// Statement rewrites one migration statement (migration version) for the cluster: one
// statement, or several for a split table (its locals, then its Distributed table). For one
// node it is the statement unchanged.
func (c Cluster) Statement(stmt string, version uint32) ([]string, error) {
	if c.Name == "" {
		return []string{stmt}, nil
	}
	onCluster := " ON CLUSTER " + c.Name
	if strings.HasPrefix(stmt, "INSERT INTO ") {
		return []string{stmt}, nil // through the Distributed tables, synchronously (insertSettings)
	}
	if m := dropRe.FindStringSubmatch(stmt); m != nil {
		if c.split(m[2]) {
			return []string{stmt + onCluster, "DROP TABLE" + m[1] + " " + m[2] + localSuffix + onCluster}, nil
		}
		return []string{stmt + onCluster}, nil
	}
	if m := renameRe.FindStringSubmatch(stmt); m != nil {
		return c.rename(m[1])
	}
	if m := alterRe.FindStringSubmatch(stmt); m != nil {
		table := m[2]
		if c.sharded() && !c.split(table) {
			// Replicated to every server of every shard: the ALTER replicates itself. (ON
			// CLUSTER runs it once per shard, and the second finds it done: "column with this
			// name already exists".)
			return []string{stmt}, nil
		}
		out := []string{alterRe.ReplaceAllString(stmt, "${1}"+c.local(table)+onCluster)}
		if c.split(table) { // the Distributed table takes the local's new structure
			out = append(out, "DROP TABLE IF EXISTS "+table+onCluster, c.distributed(table))
		}
		return out, nil
	}
	m := createRe.FindStringSubmatch(stmt)
	if m == nil {
		return nil, fmt.Errorf("a statement a cluster cannot run (CREATE, ALTER TABLE, DROP, RENAME or INSERT ... SELECT only): %.60q", stmt)
	}
	table := m[2]
	if strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW ") || strings.HasPrefix(stmt, "CREATE VIEW ") {
		materialized := strings.HasPrefix(stmt, "CREATE MATERIALIZED VIEW ")
		out := createRe.ReplaceAllString(stmt, "${1}${2}"+onCluster)
		return []string{renameTables(out, func(table string) string {
			if materialized { // a view inserted into on each shard: its own shard's rows
				table = c.local(table)
			}
			return c.Database + "." + table
		})}, nil
	}
	local := c.local(table)
	out := createRe.ReplaceAllString(stmt, "${1}"+local+onCluster)
	path := "{shard}"
	if c.sharded() && !c.split(table) {
		path = "all" // one replica set over every server of every shard
	}
	out = engineRe.ReplaceAllStringFunc(out, func(engine string) string {
		e := engineRe.FindStringSubmatch(engine)
		args := fmt.Sprintf("'/clickhouse/tables/%s/%s/%s_%d', '{replica}'", path, c.Database, local, version)
		if strings.TrimSpace(e[3]) != "" {
			args += ", " + e[3]
		}
		return "ENGINE = Replicated" + e[1] + "(" + args + ")"
	})
	if c.split(table) {
		return []string{out, c.distributed(table)}, nil
	}
	return []string{out}, nil
}

// qualify names, in a query of the Distributed tables, the tables every server holds whole
// with their database: each shard runs the query's joins itself, in its default database.
func (c Cluster) qualify(query string) string {
	if !c.sharded() {
		return query
	}
	return renameTables(query, func(table string) string {
		if c.split(table) {
			return "" // its Distributed table, which the initiator reads
		}
		return c.Database + "." + table
	})
}

// renameTables names anew each table a statement reads or writes (after FROM, JOIN, TO) that
// it does not name with its database: to returns the new name, or "" to leave it.
func renameTables(query string, to func(table string) string) string {
	return readsFrom.ReplaceAllStringFunc(query, func(s string) string {
		r := readsFrom.FindStringSubmatch(s)
		if r[3] != "" { // already database.table
			return s
		}
		if name := to(r[2]); name != "" {
			return r[1] + " " + name
		}
		return s
	})
}

// distributed creates table's Distributed table over its shards' locals.
func (c Cluster) distributed(table string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)",
		table, c.Name, c.Database, table+localSuffix, c.Name, c.Database, table+localSuffix, shardKeys[table])
}

// rename renames a RENAME's tables: a split table's locals, then its Distributed tables
// dropped under the old names and created under the new ones (a Distributed table names its
// locals, so it cannot follow them).
func (c Cluster) rename(pairs string) ([]string, error) {
	onCluster := " ON CLUSTER " + c.Name
	var plain, locals, drops, creates []string
	for _, p := range strings.Split(pairs, ",") {
		m := pairRe.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			return nil, fmt.Errorf("a RENAME a cluster cannot run: %q", p)
		}
		from, to := m[1], m[2]
		if c.split(from) != c.split(to) {
			return nil, fmt.Errorf("RENAME %s TO %s: one is split across shards and the other not (shardKeys)", from, to)
		}
		if !c.split(from) {
			plain = append(plain, from+" TO "+to)
			continue
		}
		locals = append(locals, from+localSuffix+" TO "+to+localSuffix)
		drops = append(drops, "DROP TABLE IF EXISTS "+from+onCluster)
		creates = append(creates, c.distributed(to))
	}
	var out []string
	for _, list := range [][]string{plain, locals} {
		if len(list) > 0 {
			out = append(out, "RENAME TABLE "+strings.Join(list, ", ")+onCluster)
		}
	}
	return append(append(out, drops...), creates...), nil
}

// Describe checks that the server connected to knows c's cluster and has the {shard} and
// {replica} macros the Replicated tables need, and returns c with the cluster's number of
// shards. Its errors say clearly what is missing. One node (no Name) is returned as it is.
func (c Cluster) Describe(ctx context.Context, conn driver.Conn) (Cluster, error) {
	if c.Name == "" {
		return c, nil
	}
	var names []string
	rows, err := conn.Query(ctx, "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster")
	if err != nil {
		return c, fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return c, fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("clickhouse.cluster: read system.clusters: %w", err)
	}
	if !slices.Contains(names, c.Name) {
		return c, fmt.Errorf("clickhouse.cluster: the server has no cluster named %q in its remote_servers (it has: %s)", c.Name, strings.Join(names, ", "))
	}
	var shards uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?", c.Name).Scan(&shards); err != nil {
		return c, fmt.Errorf("clickhouse.cluster: read cluster %s: %w", c.Name, err)
	}
	var macros uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.macros WHERE macro IN ('shard', 'replica')").Scan(&macros); err != nil {
		return c, fmt.Errorf("clickhouse.cluster: read system.macros: %w", err)
	}
	if macros != 2 {
		return c, fmt.Errorf("clickhouse.cluster: the server lacks the {shard} and {replica} macros its Replicated tables need (<macros> in its config)")
	}
	c.Shards = int(shards)
	return c, nil
}

// checkLayout refuses to migrate a database whose tables were created for another number of
// shards than the cluster has now: ioc does not reshard (docs/OPERATIONS.md).
func checkLayout(ctx context.Context, conn driver.Conn, c Cluster) error {
	var engine string
	rows, err := conn.Query(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = 'readings'", c.Database)
	if err != nil {
		return fmt.Errorf("read the schema's layout: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err() // a new database
	}
	if err := rows.Scan(&engine); err != nil {
		return fmt.Errorf("read the schema's layout: %w", err)
	}
	switch distributed := engine == "Distributed"; {
	case distributed && c.Name == "":
		return fmt.Errorf("clickhouse.cluster: database %s was created split across the shards of a cluster: name that cluster", c.Database)
	case distributed && !c.sharded():
		return fmt.Errorf("clickhouse.cluster: database %s was created split across shards, and cluster %q now has %d shard(s): ioc does not reshard (docs/OPERATIONS.md)", c.Database, c.Name, c.Shards)
	case !distributed && c.sharded():
		return fmt.Errorf("clickhouse.cluster: database %s was created on one shard, and cluster %q has %d shards: ioc does not reshard; keep a cluster of one shard for it, or migrate the data with ClickHouse's own tools (docs/OPERATIONS.md)", c.Database, c.Name, c.Shards)
	}
	return nil
}
