package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// rollupSelect is each rollup table's aggregate of the raw readings of one month; backfill
// runs them with FINAL, so each stored reading counts once.
var rollupSelect = map[string]string{
	"readings_1m": `SELECT toDateTime(intDiv(toUInt32(ts), 60) * 60, 'UTC') AS bucket, sensor_id, metric,
       countState(), minState(value), maxState(value), avgState(value), sumState(value), argMaxState(value, ts), quantileTDigestState(0.95)(value)
FROM readings FINAL WHERE ts >= ? AND ts < ? AND text = '' GROUP BY bucket, sensor_id, metric`,
	"readings_1h": `SELECT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS bucket, sensor_id, metric,
       countState(), minState(value), maxState(value), avgState(value), sumState(value), argMaxState(value, ts), quantileTDigestState(0.95)(value)
FROM readings FINAL WHERE ts >= ? AND ts < ? AND text = '' GROUP BY bucket, sensor_id, metric`,
	"district_1h": `SELECT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS bucket, district, metric,
       uniqState(toString(sensor_id)), countState(), minState(value), maxState(value), avgState(value), sumState(value)
FROM readings FINAL ANY INNER JOIN (SELECT id AS sensor_id, district FROM sensors FINAL WHERE deleted = 0) USING sensor_id
WHERE ts >= ? AND ts < ? AND text = '' GROUP BY bucket, district, metric`,
}

// rollupTables are the rollups backfill rebuilds; the minute rollup first.
var rollupTables = []string{"readings_1m", "readings_1h", "district_1h"}

// Backfill rebuilds the rollups of every month from from's to to's (both included; zero times
// take the first and last months the raw readings hold) from the deduplicated raw readings:
// for rollups created after the data, or to undo a redelivery counted twice. Each month's
// rollup partitions are dropped and refilled; readings that arrive for that month meanwhile
// are counted again by the next backfill, so run it with ingest stopped or for past months.
// report is told each month done.
func Backfill(ctx context.Context, conn driver.Conn, from, to time.Time, report func(month string, took time.Duration)) error {
	months, err := partitions(ctx, conn, "readings")
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	minute, err := minuteRollupOn(ctx, conn)
	if err != nil {
		return err
	}
	tables := rollupTables
	if !minute { // analytics.minute_rollup is off: its table is left as it is
		tables = tables[1:]
	}
	lo, hi := "000000", "999999"
	if !from.IsZero() {
		lo = from.UTC().Format("200601")
	}
	if !to.IsZero() {
		hi = to.UTC().Format("200601")
	}
	for _, month := range months {
		if month < lo || month > hi {
			continue
		}
		start := time.Now()
		begin, err := monthEnd(month)
		if err != nil {
			return err
		}
		begin = begin.AddDate(0, -1, 0)
		end := begin.AddDate(0, 1, 0)
		for _, table := range tables {
			// month is six digits read from system.parts; table is one of ours.
			if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", table, month)); err != nil {
				return fmt.Errorf("backfill %s: clear %s: %w", month, table, err)
			}
			insert := "INSERT INTO " + table + " " + rollupSelect[table]
			if err := conn.Exec(ctx, insert, begin, end); err != nil {
				return fmt.Errorf("backfill %s: fill %s: %w", month, table, err)
			}
		}
		report(month, time.Since(start))
	}
	return nil
}
