package analytics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/analytics/sketch"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// Querier answers the dashboard's and the analysts' questions about history. Every query is
// parameterised (values are bound, never spliced into SQL) and bounded: range, points, series,
// rows, and a time limit that the server enforces too.
type Querier struct {
	conn driver.Conn
	lim  config.Queries
	fast map[string]bool // the metrics with a minute rollup

	mu       sync.Mutex
	known    map[string]bool // the catalog's sensors, as mirrored in ClickHouse
	loadedAt time.Time
}

// NewQuerier builds a querier on conn with the configured limits and rollups.
func NewQuerier(conn driver.Conn, cfg config.Analytics) *Querier {
	fast := map[string]bool{}
	for _, m := range cfg.Rollups.FastMetrics {
		fast[m] = cfg.MinuteRollup
	}
	return &Querier{conn: conn, lim: cfg.Queries, fast: fast}
}

// everySource names the rollups' last sorting key column in their queries: each source's
// rows of a bucket are merged, and ClickHouse 18.16 reads a Distributed table with FINAL only
// when the query names every column of the sorting key. No source is empty.
const everySource = "source != ''"

// knownFor is how long the querier trusts its copy of the sensor list before reading it again
// (a sensor it does not know makes it read the list at once).
const knownFor = 30 * time.Second

// QueryError is a request the querier refuses, with a stable code for API answers.
type QueryError struct {
	Code string
	Msg  string
}

func (e *QueryError) Error() string { return e.Code + ": " + e.Msg }

func refuse(code, format string, args ...any) error {
	return &QueryError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Codes of refused queries.
const (
	CodeBadRange      = "bad_range"
	CodeRangeTooLarge = "range_too_large"
	CodeBadPoints     = "bad_points"
	CodeTooMany       = "too_many_series"
	CodeUnknownSensor = "unknown_sensor"
	CodeUnknownMetric = "unknown_metric"
	CodeBadParam      = "bad_parameter"
)

// Resolution is where a trend's points come from.
type Resolution string

// Resolutions of a trend.
const (
	ResolutionAuto Resolution = ""
	ResolutionRaw  Resolution = "raw"
	Resolution1m   Resolution = "1m"
	Resolution1h   Resolution = "1h"
)

// TrendRequest asks for one metric of one or more sensors over [From, To).
type TrendRequest struct {
	Sensors  []string
	Metric   string
	From, To time.Time
	// MaxPoints bounds the points of each series; 0 takes the configured default.
	MaxPoints int
	// Resolution forces a source; auto picks the coarsest that still gives MaxPoints.
	Resolution Resolution
}

// Point is one bucket of a series. Missing marks a bucket without readings (a gap, filled in
// Go); its values are NaN.
type Point struct {
	T                             time.Time
	Count                         uint64
	Min, Max, Avg, Sum, Last, P95 float64
	Missing                       bool
}

// Series is one sensor's points.
type Series struct {
	Sensor, Metric, Unit string
	Resolution           Resolution
	Step                 time.Duration
	Points               []Point
}

// Steps a trend's buckets may take: the smallest one that keeps within the point budget wins.
var steps = []time.Duration{
	time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// plan picks the source and the step of a trend: the raw table for steps under a minute, the
// minute rollup for steps under an hour (the raw table when that rollup is off), the hourly
// rollup beyond; a forced resolution only sets the source, and the step never goes under the
// source's own.
func plan(span time.Duration, maxPoints int, res Resolution, minute bool) (Resolution, time.Duration, error) {
	need := time.Duration(math.Ceil(float64(span) / float64(maxPoints)))
	step := steps[len(steps)-1]
	for _, s := range steps {
		if s >= need {
			step = s
			break
		}
	}
	if span/step > time.Duration(maxPoints) {
		return "", 0, refuse(CodeBadPoints, "%s in %d points needs buckets over a week; ask for fewer points' worth of range", span, maxPoints)
	}
	switch res {
	case ResolutionAuto:
		switch {
		case step < time.Minute:
			res = ResolutionRaw
		case step < time.Hour && minute:
			res = Resolution1m
		case step < time.Hour:
			res = ResolutionRaw // the minute rollup is off (analytics.minute_rollup)
		default:
			res = Resolution1h
		}
	case Resolution1m:
		if !minute {
			return "", 0, refuse(CodeBadParam, "resolution 1m: the minute rollup is off (analytics.minute_rollup)")
		}
		step = max(step, time.Minute)
	case Resolution1h:
		step = max(step, time.Hour)
	case ResolutionRaw:
	default:
		return "", 0, refuse(CodeBadParam, "resolution %q: want raw, 1m, 1h or empty (automatic)", res)
	}
	if span/step > time.Duration(maxPoints) {
		return "", 0, refuse(CodeBadPoints, "resolution %s over %s gives more than %d points", res, span, maxPoints)
	}
	return res, step, nil
}

// checkRange refuses reversed, empty, absurd and too large ranges.
func (q *Querier) checkRange(from, to time.Time) error {
	switch {
	case from.IsZero() || to.IsZero():
		return refuse(CodeBadRange, "give both from and to")
	case !to.After(from):
		return refuse(CodeBadRange, "from %s is not before to %s", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	case from.Year() < 1970 || to.Year() > 2105:
		return refuse(CodeBadRange, "%s to %s is outside 1970-2105, the range storage holds", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	case to.Sub(from) > q.lim.MaxRange:
		return refuse(CodeRangeTooLarge, "%s is longer than the limit of %s", to.Sub(from).Round(time.Second), q.lim.MaxRange)
	}
	return nil
}

// checkRangeMetric is checkRange and checkMetric, which most queries make together.
func (q *Querier) checkRangeMetric(from, to time.Time, metric string) (ingest.MetricDef, error) {
	if err := q.checkRange(from, to); err != nil {
		return ingest.MetricDef{}, err
	}
	return checkMetric(metric)
}

// checkMetric refuses a metric ingest does not know, or one with text values.
func checkMetric(metric string) (ingest.MetricDef, error) {
	def, ok := ingest.Metrics[metric]
	switch {
	case !ok:
		return def, refuse(CodeUnknownMetric, "unknown metric %q", metric)
	case def.Text:
		return def, refuse(CodeUnknownMetric, "metric %q holds text, which has no trend", metric)
	}
	return def, nil
}

// checkSensors refuses sensors that the catalog's mirror does not hold.
func (q *Querier) checkSensors(ctx context.Context, sensors []string) error {
	if len(sensors) == 0 {
		return refuse(CodeBadParam, "name at least one sensor")
	}
	if len(sensors) > q.lim.MaxSeries {
		return refuse(CodeTooMany, "%d sensors; at most %d in one query", len(sensors), q.lim.MaxSeries)
	}
	for reload := false; ; reload = true {
		known, fresh, err := q.schema(ctx, reload)
		if err != nil {
			return err
		}
		missing := ""
		for _, s := range sensors {
			if !known[s] {
				missing = s
				break
			}
		}
		switch {
		case missing == "":
			return nil
		case reload || fresh:
			return refuse(CodeUnknownSensor, "unknown sensor %q", missing)
		}
	}
}

// schema returns the sensor list of the catalog's mirror, read again when older than knownFor
// or when reload asks (at most once a second); fresh says it was read within the last second.
func (q *Querier) schema(ctx context.Context, reload bool) (known map[string]bool, fresh bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	age := time.Since(q.loadedAt)
	if age > knownFor || (reload && age > time.Second) {
		if err := q.load(ctx); err != nil {
			return nil, false, err
		}
		age = 0
	}
	return q.known, age < time.Second, nil
}

// load reads the sensor list of the catalog's mirror.
func (q *Querier) load(ctx context.Context) error {
	rows, err := q.conn.Query(q.ctx(ctx), "SELECT id FROM sensors FINAL WHERE deleted = 0")
	if err != nil {
		return fmt.Errorf("read the sensor list: %w", err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	q.known, q.loadedAt = known, time.Now()
	return nil
}

// exportCtx adds the server-side time limit of an export; its rows are not bounded, they stream.
func (q *Querier) exportCtx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time": int(math.Ceil(q.lim.ExportTimeout.Seconds())),
	}))
}

// StringSet binds strings as the tuple of an IN: ('a', 'b'), escaped by the driver.
func StringSet(strs []string) clickhouse.GroupSet {
	v := make([]any, len(strs))
	for i, s := range strs {
		v[i] = s
	}
	return clickhouse.GroupSet{Value: v}
}

// ctx adds the server-side limits of a query: execution time and result rows (over the limit,
// the server throws, its default overflow mode).
func (q *Querier) ctx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time": int(math.Ceil(q.lim.Timeout.Seconds())),
		"max_result_rows":    q.lim.MaxRows,
	}))
}

// Trend returns one series per sensor, with gaps filled.
func (q *Querier) Trend(ctx context.Context, req TrendRequest) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	p, err := q.prepare(ctx, &req)
	if err != nil {
		return nil, err
	}
	out := make([]Series, len(req.Sensors))
	index := map[string]int{}
	for i, s := range req.Sensors {
		out[i] = Series{Sensor: s, Metric: req.Metric, Unit: p.unit, Resolution: p.res, Step: p.step}
		index[s] = i
	}
	err = q.scanTrend(ctx, req, p, func(sensor string, pt Point) error {
		i := index[sensor]
		out[i].Points = fillTo(out[i].Points, p.first(req.From), pt.T, p.step)
		out[i].Points = append(out[i].Points, pt)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Points = fillTo(out[i].Points, p.first(req.From), req.To, p.step)
	}
	return out, nil
}

// trendPlan is a checked trend request's source, step and unit.
type trendPlan struct {
	res  Resolution
	step time.Duration
	unit string
}

// first is the first bucket of a range, aligned as the SQL aligns buckets: on multiples of the
// step since the Unix epoch (time.Truncate counts from year 1, which differs for weeks).
func (p trendPlan) first(from time.Time) time.Time {
	secs := int64(p.step / time.Second)
	return time.Unix(from.Unix()/secs*secs, 0).UTC()
}

func (q *Querier) prepare(ctx context.Context, req *TrendRequest) (trendPlan, error) {
	if req.MaxPoints == 0 {
		req.MaxPoints = q.lim.DefaultPoints
	}
	if req.MaxPoints < 1 || req.MaxPoints > q.lim.MaxPoints {
		return trendPlan{}, refuse(CodeBadPoints, "%d points: want 1 to %d", req.MaxPoints, q.lim.MaxPoints)
	}
	def, err := q.checkRangeMetric(req.From, req.To, req.Metric)
	if err != nil {
		return trendPlan{}, err
	}
	if err := q.checkSensors(ctx, req.Sensors); err != nil {
		return trendPlan{}, err
	}
	res, step, err := plan(req.To.Sub(req.From), req.MaxPoints, req.Resolution, q.fast[req.Metric])
	if err != nil {
		return trendPlan{}, err
	}
	return trendPlan{res: res, step: step, unit: def.Unit}, nil
}

// trendSQL is the query of a trend from its source, bucketed by a step bound as a parameter:
// each bucket's count, min, max, mean, sum, last value and p95 sketch (package sketch: the
// same estimator from every source).
func trendSQL(res Resolution) string {
	if res == ResolutionRaw {
		return `SELECT sensor_id, toDateTime(intDiv(toUInt32(ts), ?) * ?, 'UTC') AS t,
       count(), min(value), max(value), avg(value), sum(value), argMax(value, ts),
       tupleElement(sumMap([` + sketch.KeySQL("value") + `], [toUInt64(1)]), 1), tupleElement(sumMap([` + sketch.KeySQL("value") + `], [toUInt64(1)]), 2)
FROM readings FINAL
WHERE sensor_id IN ? AND metric = ? AND ts >= ? AND ts < ? AND text = ''
GROUP BY sensor_id, t ORDER BY sensor_id, t`
	}
	table := "readings_1m"
	if res == Resolution1h {
		table = "readings_1h"
	}
	return `SELECT sensor_id, toDateTime(intDiv(toUInt32(bucket), ?) * ?, 'UTC') AS t,
       sum(n), min(min_v), max(max_v), sum(sum_v) / sum(n), sum(sum_v), argMax(last_v, last_ts),
       tupleElement(sumMap(sketch_keys, sketch_counts), 1), tupleElement(sumMap(sketch_keys, sketch_counts), 2)
FROM ` + table + ` FINAL
WHERE sensor_id IN ? AND metric = ? AND bucket >= ? AND bucket < ? AND ` + everySource + `
GROUP BY sensor_id, t ORDER BY sensor_id, t`
}

// scanTrend runs a planned trend and hands each bucket, in sensor then time order, to emit.
func (q *Querier) scanTrend(ctx context.Context, req TrendRequest, p trendPlan, emit func(string, Point) error) error {
	secs := uint32(p.step / time.Second)
	rows, err := q.conn.Query(q.ctx(ctx), trendSQL(p.res), secs, secs, StringSet(req.Sensors), req.Metric, req.From.UTC(), req.To.UTC())
	if err != nil {
		return queryFailed(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var sensor string
		var pt Point
		var keys []int32
		var counts []uint64
		if err := rows.Scan(&sensor, &pt.T, &pt.Count, &pt.Min, &pt.Max, &pt.Avg, &pt.Sum, &pt.Last, &keys, &counts); err != nil {
			return err
		}
		// within the sketch's accuracy, and never outside the bucket's own extremes
		pt.T, pt.P95 = pt.T.UTC(), min(max(sketch.Quantile(keys, counts, 0.95), pt.Min), pt.Max)
		if err := emit(sensor, pt); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return queryFailed(ctx, err)
	}
	return nil
}

// collect reads every row of a query's answer with scan; err is the query's own error.
func collect[T any](ctx context.Context, rows driver.Rows, err error, scan func(driver.Rows, *T) error) ([]T, error) {
	if err != nil {
		return nil, queryFailed(ctx, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, queryFailed(ctx, err)
	}
	return out, nil
}

// queryFailed says a query ran out of time as such.
func queryFailed(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("query took longer than its time limit: %w", err)
	}
	return fmt.Errorf("query: %w", err)
}

// fillTo appends Missing points for every bucket from the one after pts' last (or first)
// up to, but not including, until.
func fillTo(pts []Point, first, until time.Time, step time.Duration) []Point {
	next := first
	if len(pts) > 0 {
		next = pts[len(pts)-1].T.Add(step)
	}
	nan := math.NaN()
	for ; next.Before(until); next = next.Add(step) {
		pts = append(pts, Point{T: next, Missing: true, Min: nan, Max: nan, Avg: nan, Sum: nan, Last: nan, P95: nan})
	}
	return pts
}

// Compare returns the trend of req and the trend of the same span offset earlier (this week
// against the same week last year: offset 52 weeks keeps weekdays aligned), the earlier one's
// points moved forward by offset so that both share their time axis.
func (q *Querier) Compare(ctx context.Context, req TrendRequest, offset time.Duration) (now, before []Series, err error) {
	if offset <= 0 {
		return nil, nil, refuse(CodeBadParam, "offset %s: want a positive duration", offset)
	}
	if now, err = q.Trend(ctx, req); err != nil {
		return nil, nil, err
	}
	earlier := req
	earlier.From, earlier.To = req.From.Add(-offset), req.To.Add(-offset)
	if before, err = q.Trend(ctx, earlier); err != nil {
		return nil, nil, err
	}
	for i := range before {
		for j := range before[i].Points {
			before[i].Points[j].T = before[i].Points[j].T.Add(offset)
		}
	}
	return now, before, nil
}

// DistrictPoint is one district's aggregate of one metric over one bucket.
type DistrictPoint struct {
	District           string
	T                  time.Time
	Sensors            uint64
	Count              uint64
	Min, Max, Avg, Sum float64
}

// Districts returns every district's aggregates of metric over [from, to) in buckets of step
// (whole hours): a heatmap of district by hour.
func (q *Querier) Districts(ctx context.Context, metric string, from, to time.Time, step time.Duration) ([]DistrictPoint, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if _, err := q.checkRangeMetric(from, to, metric); err != nil {
		return nil, err
	}
	if step < time.Hour || step%time.Hour != 0 {
		return nil, refuse(CodeBadParam, "step %s: want whole hours", step)
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT district, toDateTime(intDiv(toUInt32(bucket), ?) * ?, 'UTC') AS t,
       uniqExactArray(sensor_hashes), sum(n), min(min_v), max(max_v), sum(sum_v) / sum(n), sum(sum_v)
FROM district_1h FINAL
WHERE metric = ? AND bucket >= ? AND bucket < ? AND `+everySource+`
GROUP BY district, t ORDER BY district, t`, uint32(step/time.Second), uint32(step/time.Second), metric, from.UTC(), to.UTC())
	return collect(ctx, rows, err, func(rows driver.Rows, v *DistrictPoint) error {
		if err := rows.Scan(&v.District, &v.T, &v.Sensors, &v.Count, &v.Min, &v.Max, &v.Avg, &v.Sum); err != nil {
			return err
		}
		v.T = v.T.UTC()
		return nil
	})
}

// Ranked is one sensor's place in a top-N list.
type Ranked struct {
	Sensor, Name, District string
	Value                  float64
	// Alarm is the sensor's báo động I level, for TopAboveAlarm; Value is then the level's
	// distance above it (negative below).
	Alarm float64
}

// Top returns the n sensors with the highest (or, with lowest, the lowest) average of metric
// over [from, to): the most congested road segments are the lowest average speeds.
func (q *Querier) Top(ctx context.Context, metric string, from, to time.Time, n int, lowest bool) ([]Ranked, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if _, err := q.checkRangeMetric(from, to, metric); err != nil {
		return nil, err
	}
	if n < 1 || n > q.lim.MaxSeries {
		return nil, refuse(CodeBadParam, "top %d: want 1 to %d", n, q.lim.MaxSeries)
	}
	order := "DESC"
	if lowest {
		order = "ASC"
	}
	// the hourly rollup for whole hours over six hours, the minute rollup of a fast metric for
	// whole minutes, the raw readings otherwise
	rollupMeans := func(table string) string {
		return `SELECT toString(sensor_id) AS sensor_id, sum(sum_v) / sum(n) AS v FROM ` + table + ` FINAL
    WHERE metric = ? AND bucket >= ? AND bucket < ? AND ` + everySource + ` GROUP BY sensor_id`
	}
	var means string
	switch {
	case to.Sub(from) >= 6*time.Hour && from.Truncate(time.Hour) == from && to.Truncate(time.Hour) == to:
		means = rollupMeans("readings_1h")
	case q.fast[metric] && from.Truncate(time.Minute) == from && to.Truncate(time.Minute) == to:
		means = rollupMeans("readings_1m")
	default:
		means = `SELECT toString(sensor_id) AS sensor_id, avg(value) AS v FROM readings FINAL
    WHERE metric = ? AND ts >= ? AND ts < ? AND text = '' AND sensor_id != '' GROUP BY sensor_id`
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT r.sensor_id, s.name, s.district, r.v FROM (
    `+means+`) AS r
ANY LEFT JOIN (SELECT id AS sensor_id, name, district FROM sensors FINAL WHERE deleted = 0) AS s USING sensor_id
ORDER BY r.v `+order+`, r.sensor_id LIMIT ?`, metric, from.UTC(), to.UTC(), n)
	return collect(ctx, rows, err, func(rows driver.Rows, v *Ranked) error {
		return rows.Scan(&v.Sensor, &v.Name, &v.District, &v.Value)
	})
}

// TopAboveAlarm returns the n river gauges whose latest water level (within the last window
// before now) stands highest relative to their báo động I level.
func (q *Querier) TopAboveAlarm(ctx context.Context, now time.Time, window time.Duration, n int) ([]Ranked, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if n < 1 || n > q.lim.MaxSeries {
		return nil, refuse(CodeBadParam, "top %d: want 1 to %d", n, q.lim.MaxSeries)
	}
	if window <= 0 || window > 7*24*time.Hour {
		return nil, refuse(CodeBadParam, "window %s: want up to a week", window)
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT r.sensor_id, s.name, s.district, r.last - s.alarm, s.alarm FROM (`+lastValuesSQL(window)+`) AS r
ANY INNER JOIN (SELECT id AS sensor_id, name, district, assumeNotNull(alarm_i) AS alarm FROM sensors FINAL
    WHERE deleted = 0 AND alarm_i IS NOT NULL) AS s USING sensor_id
ORDER BY r.last - s.alarm DESC, r.sensor_id LIMIT ?`, now.Add(-window).UTC(), now.UTC(), "water_level", "water_level", n)
	return collect(ctx, rows, err, func(rows driver.Rows, v *Ranked) error {
		return rows.Scan(&v.Sensor, &v.Name, &v.District, &v.Value, &v.Alarm)
	})
}

// Latest is a sensor's last value of a metric, and when it was measured (to the second for
// windows up to six hours, read from the raw readings; to the minute beyond, from the rollup).
type Latest struct {
	Sensor, Metric string
	Value          float64
	At             time.Time
}

// lastValuesSQL selects (sensor_id, metric, last, at) over [?, ?) for the metric bound twice
// after them (” for all): from the raw readings for a window up to six hours, where reading
// the few rows of each sensor is quick, from the hourly rollup beyond, which keeps each
// bucket's last value with the time it was measured.
func lastValuesSQL(window time.Duration) string {
	if window <= 6*time.Hour {
		return `SELECT toString(sensor_id) AS sensor_id, toString(metric) AS metric, argMax(value, ts) AS last, max(ts) AS at
    FROM readings WHERE ts >= ? AND ts < ? AND text = '' AND (? = '' OR metric = ?) GROUP BY sensor_id, metric`
	}
	return `WITH toDateTime(?, 'UTC') AS since
    SELECT toString(sensor_id) AS sensor_id, toString(metric) AS metric, argMax(last_v, last_ts) AS last, max(last_ts) AS at
    FROM readings_1h FINAL
    WHERE bucket >= toDateTime(intDiv(toUInt32(since), 3600) * 3600, 'UTC') AND bucket < ? AND (? = '' OR metric = ?) AND ` + everySource + `
    GROUP BY sensor_id, metric HAVING at >= since`
}

// LatestValues returns the last value of every sensor's metrics measured within window
// before now (every metric when metric is empty), sorted by sensor and metric.
func (q *Querier) LatestValues(ctx context.Context, now time.Time, window time.Duration, metric string) ([]Latest, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if window <= 0 || window > 7*24*time.Hour {
		return nil, refuse(CodeBadParam, "window %s: want up to a week", window)
	}
	if metric != "" {
		if _, err := checkMetric(metric); err != nil {
			return nil, err
		}
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT sensor_id, metric, last, at FROM (`+lastValuesSQL(window)+`)
ORDER BY sensor_id, metric`, now.Add(-window).UTC(), now.UTC(), metric, metric)
	return collect(ctx, rows, err, func(rows driver.Rows, v *Latest) error {
		if err := rows.Scan(&v.Sensor, &v.Metric, &v.Value, &v.At); err != nil {
			return err
		}
		v.At = v.At.UTC()
		return nil
	})
}

// LatestCameraStates returns each camera's last stored status within window before now, by
// camera id: what a dashboard shows at start, before the cameras' next status arrives.
func (q *Querier) LatestCameraStates(ctx context.Context, now time.Time, window time.Duration) ([]streams.CameraStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if window <= 0 || window > 7*24*time.Hour {
		return nil, refuse(CodeBadParam, "window %s: want up to a week", window)
	}
	// t orders a camera's statuses to the millisecond (two in one second are two rows).
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT camera_id, argMax(state, t), argMax(reason, t), argMax(detail, t), argMax(since, t),
       max(ts), argMax(codec, t), argMax(width, t), argMax(height, t), argMax(fps, t), argMax(bitrate_kbps, t),
       argMax(packets_received, t), argMax(packets_lost, t)
FROM (SELECT toString(camera_id) AS camera_id, toString(state) AS state, toString(reason) AS reason, detail, since, ts,
             toString(codec) AS codec, width, height, fps, bitrate_kbps, packets_received, packets_lost,
             toUInt64(ts) * 1000 + ms AS t
      FROM camera_status WHERE ts >= ? AND ts <= ?)
GROUP BY camera_id ORDER BY camera_id`, now.Add(-window).UTC(), now.UTC())
	return collect(ctx, rows, err, func(rows driver.Rows, v *streams.CameraStatus) error {
		var state, reason string
		var fps, bitrate float32
		var width, height uint16
		if err := rows.Scan(&v.Camera, &state, &reason, &v.Detail, &v.Since, &v.Time, &v.Codec, &width, &height, &fps, &bitrate,
			&v.PacketsReceived, &v.PacketsLost); err != nil {
			return err
		}
		v.State, v.Reason, v.Width, v.Height, v.FPS, v.BitrateKbps = streams.State(state), streams.Reason(reason), int(width), int(height), float64(fps), float64(bitrate)
		v.Since, v.Time = v.Since.UTC(), v.Time.UTC()
		return nil
	})
}

// Uptime is a camera's (or a district's cameras') share of status samples in which it was
// online, degraded and offline.
type Uptime struct {
	Camera, District       string
	Samples, Online        uint64
	Degraded, OfflineShare float64
	Share                  float64
}

// CameraUptime returns each camera's uptime over [from, to): the share of its stored statuses
// (every state change and every sample interval) that were online, degraded and offline, with
// its district from the camera catalog's mirror ("" for a camera no longer in it).
func (q *Querier) CameraUptime(ctx context.Context, from, to time.Time) ([]Uptime, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	if err := q.checkRange(from, to); err != nil {
		return nil, err
	}
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT u.camera_id, c.district, u.samples, u.online, u.degraded, u.offline FROM (
    SELECT toString(camera_id) AS camera_id, count() AS samples, countIf(state = 'online') AS online,
           countIf(state = 'degraded') / count() AS degraded, countIf(state = 'offline') / count() AS offline
    FROM camera_status WHERE ts >= ? AND ts < ? GROUP BY camera_id) AS u
ANY LEFT JOIN (SELECT id AS camera_id, district FROM cameras FINAL WHERE deleted = 0) AS c USING camera_id
ORDER BY u.camera_id`, from.UTC(), to.UTC())
	return collect(ctx, rows, err, func(rows driver.Rows, v *Uptime) error {
		if err := rows.Scan(&v.Camera, &v.District, &v.Samples, &v.Online, &v.Degraded, &v.OfflineShare); err != nil {
			return err
		}
		v.Share = float64(v.Online) / float64(v.Samples)
		return nil
	})
}

// UptimeByDistrict sums cameras' uptimes into one per district, sorted by district.
func UptimeByDistrict(cams []Uptime) []Uptime {
	by := map[string]*Uptime{}
	var order []string
	for _, c := range cams {
		d := by[c.District]
		if d == nil {
			d = &Uptime{District: c.District}
			by[c.District] = d
			order = append(order, c.District)
		}
		offline := uint64(math.Round(c.OfflineShare * float64(c.Samples)))
		degraded := uint64(math.Round(c.Degraded * float64(c.Samples)))
		d.Degraded = (d.Degraded*float64(d.Samples) + float64(degraded)) / float64(d.Samples+c.Samples)
		d.OfflineShare = (d.OfflineShare*float64(d.Samples) + float64(offline)) / float64(d.Samples+c.Samples)
		d.Samples += c.Samples
		d.Online += c.Online
		d.Share = float64(d.Online) / float64(d.Samples)
	}
	slices.Sort(order)
	out := make([]Uptime, len(order))
	for i, d := range order {
		out[i] = *by[d]
	}
	return out
}

// DeadLetterSummary is what the health page shows of the rejected payloads.
type DeadLetterSummary struct {
	// Reasons count the dead letters of each reason over the last hour and day, most first.
	Reasons []DeadLetterCount `json:"reasons"`
	// Latest are the newest dead letters, newest first, each payload cut to a few hundred
	// bytes.
	Latest []DeadLetterExample `json:"latest"`
}

// DeadLetterCount is one reason's count.
type DeadLetterCount struct {
	Reason   string `json:"reason"`
	LastHour uint64 `json:"last_hour"`
	LastDay  uint64 `json:"last_day"`
}

// DeadLetterExample is one dead letter.
type DeadLetterExample struct {
	Time        time.Time `json:"time"`
	Source      string    `json:"source"`
	Topic       string    `json:"topic"`
	Reason      string    `json:"reason"`
	Detail      string    `json:"detail"`
	Payload     string    `json:"payload"`
	PayloadSize uint32    `json:"payload_size"`
}

// deadLetterExamples and deadLetterExampleBytes bound the summary's examples.
const (
	deadLetterExamples     = 20
	deadLetterExampleBytes = 300
)

// DeadLetterSummary counts the dead letters by reason over the hour and the day before now,
// and returns the newest of them.
func (q *Querier) DeadLetterSummary(ctx context.Context, now time.Time) (DeadLetterSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, q.lim.Timeout)
	defer cancel()
	hour, day := now.Add(-time.Hour).UTC(), now.Add(-24*time.Hour).UTC()
	var out DeadLetterSummary
	rows, err := q.conn.Query(q.ctx(ctx), `SELECT toString(reason) AS r, countIf(ts >= ?) AS h, count() AS d FROM dead_letters
WHERE ts >= ? AND ts <= ? GROUP BY r ORDER BY d DESC, r`, hour, day, now.UTC())
	if out.Reasons, err = collect(ctx, rows, err, func(rows driver.Rows, v *DeadLetterCount) error {
		return rows.Scan(&v.Reason, &v.LastHour, &v.LastDay)
	}); err != nil {
		return out, err
	}
	rows, err = q.conn.Query(q.ctx(ctx), `SELECT ts, toString(source), toString(topic), toString(reason), detail,
    substring(payload, 1, ?), payload_size FROM dead_letters WHERE ts >= ? AND ts <= ? ORDER BY ts DESC LIMIT ?`,
		deadLetterExampleBytes, day, now.UTC(), deadLetterExamples)
	out.Latest, err = collect(ctx, rows, err, func(rows driver.Rows, v *DeadLetterExample) error {
		if err := rows.Scan(&v.Time, &v.Source, &v.Topic, &v.Reason, &v.Detail, &v.Payload, &v.PayloadSize); err != nil {
			return err
		}
		v.Payload = strings.ToValidUTF8(v.Payload, "�") // a cut may split a character
		return nil
	})
	if out.Reasons == nil {
		out.Reasons = []DeadLetterCount{}
	}
	if out.Latest == nil {
		out.Latest = []DeadLetterExample{}
	}
	return out, err
}
