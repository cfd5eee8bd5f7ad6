package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics/rollup"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// Rollups keeps the rollup tables (readings_1m, readings_1h, district_1h, migration 0015)
// from what this process stores: an ingest.Observer placed after the writer, it counts each
// stored reading in memory (package rollup), and every interval writes the buckets that
// changed, each as its whole state with a higher version. An hour this process ran in before
// it started, or reopened by a late reading, is loaded first from the raw readings it stored
// (readings.stored_by), once the writer has everything delivered so far in ClickHouse: a
// process killed before it wrote its last buckets loses nothing, and counts nothing twice.
type Rollups struct {
	conn     driver.Conn
	writer   *Writer
	source   string
	cfg      config.Rollups
	log      *slog.Logger
	m        *rollupMetrics
	flushing sync.Mutex // one flush at a time
	mu       sync.Mutex // guards agg against the pipeline's deliveries
	agg      *rollup.Aggregator
	started  time.Time            // the process's start: the aggregator counts what it stored since
	pending  map[rowID]rollup.Row // under flushing: rows not written yet (an insert failed), the newest per bucket
	version  uint64               // under flushing: the last flush's
	// pendingRows is len(pending) for the gauge, which must not wait for a flush
	pendingRows atomic.Int64
	maxAge      time.Duration // ingest.max_age: no reading stored is older
}

// rowID is a bucket of a rollup: one row of a source.
type rowID struct {
	kind        rollup.Kind
	bucket      int64
	key, metric string
}

func idOf(r rollup.Row) rowID { return rowID{r.Kind, r.Bucket.Unix(), r.Key, r.Metric} }

type rollupMetrics struct {
	rows, duplicates, loads prometheus.Counter
	flushes                 *prometheus.CounterVec
	seconds                 prometheus.Histogram
}

// NewRollups builds the rollups of what writer stores for the process named source (its MQTT
// client id: unique among the running processes; the writer must store as source from its
// start, SetStoredBy, spool replays included). maxAge is ingest's horizon (no older
// reading is stored); district names a sensor's district in the current catalog ("" for
// none). Run starts them.
func NewRollups(conn driver.Conn, writer *Writer, source string, cfg config.Analytics, maxAge time.Duration, district func(sensor string) string, reg prometheus.Registerer, log *slog.Logger) (*Rollups, error) {
	if source == "" {
		return nil, errors.New("rollups: the process needs a name (mqtt.client_id)")
	}
	fast := map[string]bool{}
	for _, m := range cfg.Rollups.FastMetrics {
		fast[m] = cfg.MinuteRollup
	}
	r := &Rollups{conn: conn, writer: writer, source: source, cfg: cfg.Rollups, maxAge: maxAge,
		log: log.With("component", "rollups"), pending: map[rowID]rollup.Row{}}
	r.started = time.Now()
	r.agg = rollup.New(rollup.Options{Fast: func(m string) bool { return fast[m] }, District: district,
		Lateness: cfg.Rollups.Lateness, Start: r.started})
	r.m = &rollupMetrics{
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_rollup_rows_written_total",
			Help: "Rollup rows written (a bucket's state each time it changed)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_rollup_duplicates_total",
			Help: "Readings not counted again in the rollups: their (sensor, metric, second) was counted already (a redelivery)."}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_rollup_hours_loaded_total",
			Help: "Hours loaded from the raw readings this process stored (at start, and reopened by late readings)."}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_rollup_flushes_total",
			Help: "Rollup flushes, by result (ok, error: the rows are written at the next)."}, []string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ioc_rollup_flush_seconds",
			Help: "Time a rollup flush takes: loading hours and writing rows.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
	}
	r.m.flushes.WithLabelValues("ok")
	r.m.flushes.WithLabelValues("error")
	hours := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_rollup_hours_open",
		Help: "Hours the rollups hold in memory."}, func() float64 { r.mu.Lock(); defer r.mu.Unlock(); return float64(r.agg.Hours()) })
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_rollup_rows_pending",
		Help: "Rollup rows waiting to be written again (the last insert failed)."}, func() float64 { return float64(r.pendingRows.Load()) })
	reg.MustRegister(r.m.rows, r.m.duplicates, r.m.loads, r.m.flushes, r.m.seconds, hours, pending)
	return r, nil
}

// ObserveReadings counts stored readings (text readings are not aggregated). It implements
// ingest.Observer.
func (r *Rollups) ObserveReadings(_ context.Context, readings []ingest.Reading, _ []streams.CameraEvent) error {
	dup := 0
	r.mu.Lock()
	for i := range readings {
		rd := &readings[i]
		if rd.Text == "" && !r.agg.Add(rd.Sensor, rd.Metric, rd.Time, rd.Value) {
			dup++
		}
	}
	r.mu.Unlock()
	if dup > 0 {
		r.m.duplicates.Add(float64(dup))
	}
	return nil
}

// Relocate tells the rollups that the sensor catalog changed (a reload): each sensor's
// readings are counted in its district of the new catalog from then on.
func (r *Rollups) Relocate() {
	r.mu.Lock()
	r.agg.Relocate()
	r.mu.Unlock()
}

// ObserveCameras implements ingest.Observer: cameras have no rollups.
func (r *Rollups) ObserveCameras(context.Context, []streams.CameraStatus, []streams.CameraEvent) error {
	return nil
}

// Run writes the changed buckets every interval until ctx ends, and once more then, within
// shutdown. Its first flushes also reopen, once ClickHouse answers, the hours the previous run
// of this process stored readings in after its last flush (it may have died before writing
// them).
func (r *Rollups) Run(ctx context.Context, shutdown time.Duration) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	reopened := false
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdown)
			defer cancel()
			if err := r.flush(last, false); err != nil {
				r.log.Error("the last rollup flush failed: the next start rebuilds these hours from the raw readings", "err", err)
			}
			return nil
		case <-t.C:
			if !reopened {
				if err := r.reopen(ctx); err != nil {
					if ctx.Err() == nil {
						r.log.Warn("rollups: the hours of the previous run are not reopened yet; trying again", "err", err)
					}
					continue
				}
				reopened = true
			}
			// a flush under way finishes even when the stop comes meanwhile (the last one
			// then writes only what is left), within a bound of its own
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Interval+time.Minute)
			err := r.Flush(fctx)
			cancel()
			if err != nil {
				r.log.Warn("rollup flush failed; the next tries again", "err", err)
			}
		}
	}
}

// writeRows bounds the rows of one rollup insert.
const writeRows = 100_000

// reopenMargin is how long before its last flush this process may have received a reading it
// had not counted yet (the writer's queue holds it back while full).
const reopenMargin = 10 * time.Minute

// reopen marks, once the writer has stored what its spool held, the hours this process (its
// previous run) stored readings in after its last flush, to be loaded and written again.
func (r *Rollups) reopen(ctx context.Context) error {
	wait, cancel := context.WithTimeout(ctx, r.cfg.Interval)
	defer cancel()
	if err := r.writer.Stored(wait); err != nil {
		return err
	}
	var last uint64
	if err := r.conn.QueryRow(ctx, "SELECT max(version) FROM readings_1h WHERE source = ?", r.source).Scan(&last); err != nil {
		return fmt.Errorf("rollups: the last flush of %s: %w", r.source, err)
	}
	since := time.Unix(0, int64(last)).Add(-reopenMargin).UTC()
	rows, err := r.conn.Query(ctx, `SELECT DISTINCT toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') FROM readings
WHERE stored_by = ? AND ingest_time >= ? AND ts >= ?`, r.source, since, time.Now().Add(-r.maxAge).UTC())
	if err != nil {
		return fmt.Errorf("rollups: the hours stored since %s: %w", since.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var hours []time.Time
	for rows.Next() {
		var h time.Time
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("rollups: the hours stored since %s: %w", since.Format(time.RFC3339), err)
		}
		hours = append(hours, h)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rollups: the hours stored since %s: %w", since.Format(time.RFC3339), err)
	}
	r.mu.Lock()
	r.agg.Reopen(hours)
	r.mu.Unlock()
	if len(hours) > 0 {
		r.log.Info("rollups: hours of the previous run to write again", "hours", len(hours), "since", since.Format(time.RFC3339))
	}
	return nil
}

// Flush loads the hours waiting to be loaded (once the writer has stored what it holds), and
// writes every bucket that changed since the last flush.
func (r *Rollups) Flush(ctx context.Context) error {
	return r.flush(ctx, true)
}

func (r *Rollups) flush(ctx context.Context, load bool) error {
	start := time.Now()
	err := r.flushOnce(ctx, load)
	r.m.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		r.m.flushes.WithLabelValues("error").Inc()
		return err
	}
	r.m.flushes.WithLabelValues("ok").Inc()
	return nil
}

func (r *Rollups) flushOnce(ctx context.Context, load bool) error {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	hours := r.agg.ToLoad()
	r.mu.Unlock()
	var loadErr error
	if load && len(hours) > 0 {
		loadErr = r.load(ctx, hours)
	}
	r.mu.Lock()
	rows := r.agg.Flush(time.Now())
	r.mu.Unlock()
	if len(r.pending) > 0 { // the last write failed: its rows go with these, the newest per bucket
		for _, row := range rows {
			r.pending[idOf(row)] = row
		}
		rows = rows[:0]
		for _, row := range r.pending {
			rows = append(rows, row)
		}
	}
	clear(r.pending)
	// in inserts of at most writeRows rows: a failed one leaves only the rest pending
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), writeRows)]
		r.version = max(r.version+1, uint64(time.Now().UnixNano()))
		if err := r.write(ctx, chunk, r.version); err != nil {
			for _, row := range rows {
				r.pending[idOf(row)] = row
			}
			r.pendingRows.Store(int64(len(r.pending)))
			return errors.Join(loadErr, err)
		}
		r.m.rows.Add(float64(len(chunk)))
		rows = rows[len(chunk):]
	}
	r.pendingRows.Store(0)
	return loadErr
}

// load loads each hour from the raw readings this process stored in it.
func (r *Rollups) load(ctx context.Context, hours []time.Time) error {
	wait, cancel := context.WithTimeout(ctx, r.cfg.Interval)
	defer cancel()
	if err := r.writer.Stored(wait); err != nil {
		return fmt.Errorf("rollups: load %d hour(s) once the writer has stored what it holds: %w", len(hours), err)
	}
	for _, h := range hours {
		// What this run stored in an hour it never forgot is counted in memory already: only
		// what earlier runs stored is read (received a little after the start too: another
		// machine's clock may be ahead).
		before := r.started.Add(2 * time.Second)
		r.mu.Lock()
		if r.agg.Forgotten(h) {
			before = time.Now().Add(24 * time.Hour)
		}
		r.mu.Unlock()
		points, err := r.readHour(ctx, h, before)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.agg.Load(h, points)
		r.mu.Unlock()
		r.m.loads.Inc()
		r.log.Info("rollups loaded an hour from the raw readings", "hour", h.Format(time.RFC3339), "readings", len(points))
	}
	return nil
}

// readHour reads the readings this process stored in the hour from start that it received
// before the time given. Not with FINAL: a reading stored twice comes back twice, and the
// aggregator counts its (sensor, metric, second) once.
func (r *Rollups) readHour(ctx context.Context, start, before time.Time) ([]rollup.Point, error) {
	rows, err := r.conn.Query(ctx, `SELECT toString(sensor_id), toString(metric), ts, value FROM readings
WHERE stored_by = ? AND ingest_time < ? AND ts >= ? AND ts < ? AND text = ''`, r.source, before.UTC(), start.UTC(), start.Add(time.Hour).UTC())
	if err != nil {
		return nil, fmt.Errorf("rollups: read the hour from %s: %w", start.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []rollup.Point
	for rows.Next() {
		var p rollup.Point
		if err := rows.Scan(&p.Sensor, &p.Metric, &p.Time, &p.Value); err != nil {
			return nil, fmt.Errorf("rollups: read the hour from %s: %w", start.Format(time.RFC3339), err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// write inserts rows, by table, column by column (one slice a column: appending row by row
// costs clickhouse-go a reflection per value).
func (r *Rollups) write(ctx context.Context, rows []rollup.Row, version uint64) error {
	var box boxes
	for _, kind := range []rollup.Kind{rollup.SensorHour, rollup.SensorMinute, rollup.DistrictHour} {
		var c rollupColumns
		for i := range rows {
			if rows[i].Kind == kind {
				c.add(&rows[i])
			}
		}
		if len(c.bucket) == 0 {
			continue
		}
		source, versions := make([]string, len(c.bucket)), make([]uint64, len(c.bucket))
		for i := range source {
			source[i], versions[i] = r.source, version
		}
		var stmt string
		var cols []any
		switch kind {
		case rollup.SensorHour, rollup.SensorMinute:
			table := "readings_1h"
			if kind == rollup.SensorMinute {
				table = "readings_1m"
			}
			stmt = "INSERT INTO " + table + " (bucket, sensor_id, metric, source, version, n, sum_v, min_v, max_v, last_v, last_ts, sketch_keys, sketch_counts)"
			cols = []any{c.bucket, box.column(c.key), box.column(c.metric), box.column(source), versions, c.n, c.sum, c.min, c.max,
				c.last, c.lastTS, c.sketchKeys, c.sketchCounts}
		case rollup.DistrictHour:
			stmt = "INSERT INTO district_1h (bucket, district, metric, source, version, sensors, n, sum_v, min_v, max_v)"
			cols = []any{c.bucket, c.key, box.column(c.metric), box.column(source), versions, c.sensors, c.n, c.sum, c.min, c.max}
		}
		b, err := r.conn.PrepareBatch(ctx, stmt)
		if err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
		for i, col := range cols {
			if err := b.Column(i).Append(col); err != nil {
				_ = b.Abort()
				return fmt.Errorf("rollups: column %d: %w", i, err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("rollups: write %d rows: %w", len(c.bucket), err)
		}
	}
	return nil
}

// rollupColumns holds rows of one rollup column by column.
type rollupColumns struct {
	bucket, lastTS      []time.Time
	key, metric         []string
	n                   []uint64
	sum, min, max, last []float64
	sketchKeys          [][]int32
	sketchCounts        [][]uint64
	sensors             [][]string
}

func (c *rollupColumns) add(r *rollup.Row) {
	c.bucket, c.lastTS = append(c.bucket, r.Bucket), append(c.lastTS, r.LastTime)
	c.key, c.metric = append(c.key, r.Key), append(c.metric, r.Metric)
	c.n = append(c.n, r.Count)
	c.sum, c.min, c.max, c.last = append(c.sum, r.Sum), append(c.min, r.Min), append(c.max, r.Max), append(c.last, r.Last)
	c.sketchKeys, c.sketchCounts = append(c.sketchKeys, r.SketchKeys), append(c.sketchCounts, r.SketchCounts)
	c.sensors = append(c.sensors, r.Sensors)
}
