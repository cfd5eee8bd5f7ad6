package analytics

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/analytics/rollup"
	"github.com/haidang-ioc/ioc/analytics/sketch"
)

// backfillSQL rebuilds one month of each rollup from the deduplicated raw readings: every
// bucket's state per source (the process that stored the readings; "unattributed" for
// readings stored before migration 0015), with the version bound first, then the range.
// Readings of the minute rollup are those of the metrics bound last (the fast ones).
var backfillSQL = map[string]string{
	"readings_1h": sensorBackfill("readings_1h", 3600, ""),
	"readings_1m": sensorBackfill("readings_1m", 60, " AND metric IN ?"),
	"district_1h": `INSERT INTO district_1h (bucket, district, metric, source, version, sensors, n, sum_v, min_v, max_v)
SELECT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS b, if(d = '', '` + rollup.UnknownDistrict + `', d) AS dist, metric,
       if(stored_by = '', 'unattributed', toString(stored_by)) AS src, ?,
       groupUniqArray(toString(sensor_id)), count(), sum(value), min(value), max(value)
FROM readings FINAL
ANY LEFT JOIN (SELECT id AS sensor_id, district AS d FROM sensors FINAL WHERE deleted = 0) USING sensor_id
WHERE ts >= ? AND ts < ? AND text = '' AND metric != ''
GROUP BY b, dist, metric, src`,
}

func sensorBackfill(table string, step int, where string) string {
	return `INSERT INTO ` + table + ` (bucket, sensor_id, metric, source, version, n, sum_v, min_v, max_v, last_v, last_ts, sketch_keys, sketch_counts)
SELECT toDateTime(intDiv(toUInt32(ts), ` + strconv.Itoa(step) + `) * ` + strconv.Itoa(step) + `, 'UTC') AS b, sensor_id, metric,
       if(stored_by = '', 'unattributed', toString(stored_by)) AS src, ?, count(), sum(value), min(value), max(value), argMax(value, ts), max(ts),
       tupleElement(sumMap([` + sketch.KeySQL("value") + `], [toUInt64(1)]), 1), tupleElement(sumMap([` + sketch.KeySQL("value") + `], [toUInt64(1)]), 2)
FROM readings FINAL
WHERE ts >= ? AND ts < ? AND text = ''` + where + `
GROUP BY b, sensor_id, metric, src`
}

// Backfill rebuilds the rollups of every month from from's to to's (both included; zero times
// take the first and last months the raw readings hold) from the deduplicated raw readings:
// for rollups created after the data, or to undo what a failure left. Each month's rollup
// partitions are dropped and refilled; the minute rollup with the readings of fast (none:
// that table is left as it is). A running ioc process writes its open hours again at its
// next flush (with a higher version, from what it counted), so a backfill of the current
// month while ingest runs only loses what a process reloads anyway. report is told each month
// done.
func Backfill(ctx context.Context, conn driver.Conn, cluster Cluster, fast []string, from, to time.Time, report func(month string, took time.Duration)) error {
	cluster, err := cluster.Describe(ctx, conn)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	months, err := partitions(ctx, conn, cluster, "readings")
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	tables := []string{"readings_1h", "district_1h"}
	if len(fast) > 0 {
		tables = append(tables, "readings_1m")
	}
	lo, hi := "000000", "999999"
	if !from.IsZero() {
		lo = from.UTC().Format("200601")
	}
	if !to.IsZero() {
		hi = to.UTC().Format("200601")
	}
	// through a split table's Distributed table, on every shard before the next month
	fill := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
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
			if err := conn.Exec(ctx, dropPartition(cluster, table, month)); err != nil {
				return fmt.Errorf("backfill %s: clear %s: %w", month, table, err)
			}
			// a day at a time: a month of minute buckets of one group each did not fit in
			// ClickHouse's memory limit (9.3 GiB for 400 sensors)
			for day := begin; day.Before(end); day = day.AddDate(0, 0, 1) {
				args := []any{uint64(time.Now().UnixNano()), day, day.AddDate(0, 0, 1)} // months end at midnight
				if table == "readings_1m" {
					args = append(args, StringSet(fast))
				}
				if err := conn.Exec(fill, cluster.qualify(backfillSQL[table]), args...); err != nil {
					return fmt.Errorf("backfill %s: fill %s for %s: %w", month, table, day.Format(time.DateOnly), err)
				}
			}
		}
		report(month, time.Since(start))
	}
	return nil
}
