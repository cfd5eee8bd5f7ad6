package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Every table is partitioned by toYYYYMM of its time column: a partition is a month, and it
// goes once the whole month is older than the table's retention.

// Retention drops the partitions that config says are too old, on a schedule.
type Retention struct {
	conn    driver.Conn
	cluster Cluster
	cfg     config.Retention
	log     *slog.Logger
	dropped *prometheus.CounterVec
	runs    *prometheus.CounterVec
}

// NewRetention builds the retention job of conn's database on cluster (ClusterOf).
func NewRetention(conn driver.Conn, cluster Cluster, cfg config.Retention, reg prometheus.Registerer, log *slog.Logger) *Retention {
	r := &Retention{conn: conn, cluster: cluster, cfg: cfg, log: log.With("component", "retention"),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_retention_partitions_dropped_total", Help: "Monthly partitions dropped by retention, by table.",
		}, []string{"table"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_retention_runs_total", Help: "Retention runs, by result (ok, error).",
		}, []string{"result"}),
	}
	r.runs.WithLabelValues("ok")
	r.runs.WithLabelValues("error")
	reg.MustRegister(r.dropped, r.runs)
	return r
}

// tables are the tables under retention, with their settings.
func (r *Retention) tables() []struct {
	name string
	keep time.Duration
} {
	c := r.cfg
	return []struct {
		name string
		keep time.Duration
	}{
		{"readings", c.Readings}, {"readings_1m", c.Readings1m}, {"readings_1h", c.Readings1h}, {"district_1h", c.District1h},
		{"dead_letters", c.DeadLetters}, {"camera_status", c.CameraStatus}, {"camera_events", c.CameraEvents},
		{"ngsild_notifications", c.NGSILDNotifications},
	}
}

// Run enforces retention at once and then every interval, until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.Enforce(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Error("retention run failed; the next run tries again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Enforce drops, in every table with a retention, the monthly partitions that end before now
// minus the retention. It returns the partitions dropped, as table/YYYYMM.
func (r *Retention) Enforce(ctx context.Context, now time.Time) ([]string, error) {
	var dropped []string
	cluster, err := r.cluster.Describe(ctx, r.conn)
	if err != nil {
		r.runs.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("retention: %w", err)
	}
	for _, t := range r.tables() {
		if t.keep <= 0 {
			continue
		}
		cutoff := now.Add(-t.keep)
		parts, err := partitions(ctx, r.conn, cluster, t.name)
		if err != nil {
			r.runs.WithLabelValues("error").Inc()
			return dropped, err
		}
		for _, month := range parts {
			end, err := monthEnd(month)
			if err != nil {
				r.log.Warn("a partition that is not a month is left alone", "table", t.name, "partition", month)
				continue
			}
			if end.After(cutoff) {
				continue
			}
			if err := r.conn.Exec(ctx, dropPartition(cluster, t.name, month)); err != nil {
				r.runs.WithLabelValues("error").Inc()
				return dropped, fmt.Errorf("retention: drop %s partition %s: %w", t.name, month, err)
			}
			r.dropped.WithLabelValues(t.name).Inc()
			r.log.Info("retention dropped a month", "table", t.name, "month", month, "keep", t.keep, "cutoff", cutoff.UTC().Format(time.RFC3339))
			dropped = append(dropped, t.name+"/"+month)
		}
	}
	r.runs.WithLabelValues("ok").Inc()
	return dropped, nil
}

// dropPartition is the statement that drops a month of one of our tables (month is six digits
// read from system.parts: nothing from a user reaches this SQL), on every shard when the table
// is split across them.
func dropPartition(c Cluster, table, month string) string {
	return fmt.Sprintf("ALTER TABLE %s%s DROP PARTITION %s", c.local(table), c.onCluster(table), month)
}

// partitions lists the active partitions of a table of the connection's database, on every
// shard when the table is split across them.
func partitions(ctx context.Context, conn driver.Conn, c Cluster, table string) ([]string, error) {
	parts, db := "system.parts", "currentDatabase()"
	if c.split(table) { // the cluster and the database are validated identifiers
		parts, db = "cluster('"+c.Name+"', system, parts)", "'"+c.Database+"'"
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = "+db+" AND table = ? AND active ORDER BY partition", c.local(table))
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// monthEnd is the first instant after the month a YYYYMM partition holds.
func monthEnd(partition string) (time.Time, error) {
	if len(partition) != 6 {
		return time.Time{}, fmt.Errorf("partition %q is not YYYYMM", partition)
	}
	n, err := strconv.Atoi(partition)
	if err != nil || n%100 < 1 || n%100 > 12 {
		return time.Time{}, fmt.Errorf("partition %q is not YYYYMM", partition)
	}
	return time.Date(n/100, time.Month(n%100), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0), nil
}
