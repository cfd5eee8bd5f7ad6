package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// rollupViews are the rollups backfill rebuilds, by table, with the view that fills each; the
// minute rollup first.
var rollupViews = []struct{ table, view string }{
	{"readings_1m", minuteView}, {"readings_1h", "readings_1h_mv"}, {"district_1h", "district_1h_mv"},
}

// backfillSelect is a rollup view's own SELECT, made to read one range of the deduplicated raw
// readings: FROM readings FINAL, ts between two bound times. Deriving it from the migration keeps
// backfill and view from drifting apart.
func backfillSelect(view string) (string, error) {
	stmt, _, err := viewStatement(view)
	if err != nil {
		return "", err
	}
	sel := stmt[strings.Index(stmt, "\nSELECT ")+1:]
	for _, r := range [][2]string{{"\nFROM readings\n", "\nFROM readings FINAL\n"}, {"\nWHERE text = ''\n", "\nWHERE ts >= ? AND ts < ? AND text = ''\n"}} {
		if strings.Count(sel, r[0]) != 1 {
			return "", fmt.Errorf("backfill: the view %s does not read as expected (%q)", view, strings.TrimSpace(r[0]))
		}
		sel = strings.Replace(sel, r[0], r[1], 1)
	}
	return sel, nil
}

// Backfill rebuilds the rollups of every month from from's to to's (both included; zero times
// take the first and last months the raw readings hold) from the deduplicated raw readings:
// for rollups created after the data, or to undo a redelivery counted twice. Each month's
// rollup partitions are dropped and refilled; readings that arrive for that month meanwhile
// are counted again by the next backfill, so run it with ingest stopped or for past months.
// report is told each month done.
func Backfill(ctx context.Context, conn driver.Conn, cluster Cluster, from, to time.Time, report func(month string, took time.Duration)) error {
	cluster, err := cluster.Describe(ctx, conn)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	months, err := partitions(ctx, conn, cluster, "readings")
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	minute, err := minuteRollupOn(ctx, conn)
	if err != nil {
		return err
	}
	rollups := rollupViews
	if !minute { // analytics.minute_rollup is off: its table is left as it is
		rollups = rollups[1:]
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
		for _, r := range rollups {
			sel, err := backfillSelect(r.view)
			if err != nil {
				return err
			}
			sel = cluster.qualify(sel)
			if err := conn.Exec(ctx, dropPartition(cluster, r.table, month)); err != nil {
				return fmt.Errorf("backfill %s: clear %s: %w", month, r.table, err)
			}
			// through a split table's Distributed table, on every shard before the next month
			fill := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
			if err := conn.Exec(fill, "INSERT INTO "+r.table+" "+sel, begin, end); err != nil {
				return fmt.Errorf("backfill %s: fill %s: %w", month, r.table, err)
			}
		}
		report(month, time.Since(start))
	}
	return nil
}
