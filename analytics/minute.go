package analytics

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The minute rollup's view makes one aggregate group per reading for sensors that report once
// a minute, and cuts the raw insert rate of ClickHouse 18.16 on two cores from 1.36 million to
// about 200,000 readings/s (docs/BENCHMARKS.md). analytics.minute_rollup turns the view off for
// provinces that do not need it: trends then read the raw table for buckets under an hour.

const minuteView = "readings_1m_mv"

// SetMinuteRollup creates the minute rollup's view (as migration 0004 defines it) or drops it.
// The readings_1m table stays either way; while the view is off it receives nothing.
func SetMinuteRollup(ctx context.Context, conn driver.Conn, cluster Cluster, on bool) error {
	cluster, err := cluster.Describe(ctx, conn)
	if err != nil {
		return err
	}
	if !on {
		if err := conn.Exec(ctx, mustStatement(cluster, "DROP TABLE IF EXISTS "+minuteView)); err != nil {
			return fmt.Errorf("turn the minute rollup off: %w", err)
		}
		return nil
	}
	stmt, version, err := viewStatement(minuteView)
	if err != nil {
		return fmt.Errorf("turn the minute rollup on: %w", err)
	}
	stmts, err := cluster.Statement(stmt, version)
	if err != nil {
		return fmt.Errorf("turn the minute rollup on: %w", err)
	}
	for _, stmt := range stmts {
		if err := conn.Exec(clickhouse.Context(ctx, clickhouse.WithSettings(ddlSettings)), stmt); err != nil {
			return fmt.Errorf("turn the minute rollup on: %w", err)
		}
	}
	return nil
}

// viewStatement is the CREATE MATERIALIZED VIEW statement of view, as the last migration that
// defines it does, and that migration's version.
func viewStatement(view string) (string, uint32, error) {
	ms, err := Migrations()
	if err != nil {
		return "", 0, err
	}
	var stmt string
	var version uint32
	for _, m := range ms {
		for _, s := range m.Statements {
			if strings.HasPrefix(s, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+view+" ") {
				stmt, version = s, m.Version
			}
		}
	}
	if stmt == "" {
		return "", 0, fmt.Errorf("no migration defines %s", view)
	}
	return stmt, version, nil
}

// minuteRollupOn tells whether the minute rollup's view exists in the connection's database.
func minuteRollupOn(ctx context.Context, conn driver.Conn) (bool, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", minuteView).Scan(&n); err != nil {
		return false, fmt.Errorf("is the minute rollup on: %w", err)
	}
	return n > 0, nil
}
