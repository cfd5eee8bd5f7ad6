package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

type analyticsOptions struct {
	ClickHouse string
	Database   string
	Sensors    int
	Days       int
	Runs       int
	Regenerate bool
}

// The generated province: sensors s-0000 … in four kinds of equal share, ten districts.
var (
	benchStart = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	districts  = []string{"TP Lào Cai", "Bát Xát", "Mường Khương", "Si Ma Cai", "Bắc Hà", "Bảo Thắng", "Bảo Yên", "Sa Pa", "Văn Bàn", "Châu Thành"}
	kinds      = []struct{ kind, metric, unit string }{
		{"river_gauge", "water_level", "m"}, {"rain_gauge", "rainfall", "mm"},
		{"traffic_counter", "avg_speed", "km/h"}, {"salinity", "salinity", "‰"},
	}
)

// benchAnalytics generates the history with ClickHouse's own INSERT … SELECT (through the
// rollups' views, as live ingest would fill them), then times each representative query
// through the rollups (ours, analytics.Querier) and, as the reference in the same run, the
// same answer computed from the raw table; both answers must agree.
func benchAnalytics(ctx context.Context, o analyticsOptions) error {
	ch := config.Default().ClickHouse
	ch.Addr, ch.Database = o.ClickHouse, o.Database
	ch.QueryTimeout = 10 * time.Minute
	if _, err := analytics.Migrate(ctx, ch); err != nil {
		return err
	}
	conn, err := analytics.Open(ctx, ch)
	if err != nil {
		return err
	}
	defer conn.Close()
	want := uint64(o.Sensors) * uint64(o.Days) * 1440
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM readings").Scan(&have); err != nil {
		return err
	}
	if have != want || o.Regenerate {
		if err := generate(ctx, conn, o); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(os.Stderr, "analytics: reusing the %d readings of database %s (-regenerate to make them again)\n", have, o.Database)
	}
	if err := reportSize(ctx, conn, o.Database); err != nil {
		return err
	}

	a := config.Default().Analytics
	a.Queries.MaxPoints, a.Queries.Timeout = 10_000, time.Minute
	q := analytics.NewQuerier(conn, a)
	end := benchStart.AddDate(0, 0, o.Days)
	river := "s-0007" // a river gauge
	cases := []queryCase{
		trendCase("analytics-trend-1d", q, conn, analytics.TrendRequest{Sensors: []string{river}, Metric: "water_level", From: end.Add(-24 * time.Hour), To: end, MaxPoints: 1440}),
		trendCase("analytics-trend-30d", q, conn, analytics.TrendRequest{Sensors: []string{river}, Metric: "water_level", From: end.AddDate(0, 0, -30), To: end, MaxPoints: 720}),
		trendCase("analytics-trend-1y-hourly", q, conn, analytics.TrendRequest{Sensors: []string{river}, Metric: "water_level", From: end.AddDate(-1, 0, 0), To: end, MaxPoints: 9000}),
		districtCase(q, conn, end.AddDate(0, 0, -30), end),
		topCase(q, conn, end),
	}
	for _, c := range cases {
		line, err := runQueryCase(ctx, c, o.Runs)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Println(line)
	}
	return nil
}

// generate fills the database with o.Days days of one reading a minute from o.Sensors sensors.
func generate(ctx context.Context, conn driver.Conn, o analyticsOptions) error {
	for _, t := range []string{"readings", "readings_1m", "readings_1h", "district_1h"} {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+t); err != nil {
			return fmt.Errorf("empty %s: %w", t, err)
		}
	}
	if err := syncBenchSensors(ctx, conn, o.Sensors); err != nil {
		return err
	}
	n := o.Sensors * 1440
	start := time.Now()
	// Shapes, by kind (sensor index / (sensors/4)): river levels with a daily swing and a slow
	// rise; rain in showers; traffic speed falling at the rush hours (07-09 and 17-19 in
	// Vietnam); salinity following a 12.42 h tide. Noise from cityHash64, so every run is the same.
	q := fmt.Sprintf(`INSERT INTO readings (ts, sensor_id, metric, value, text, unit, quality, ingest_time, topic)
SELECT toDateTime(? + intDiv(number, %[1]d) * 60, 'UTC') AS t,
       concat('s-', substring(toString(10000 + number %% %[1]d), 2)) AS sensor,
       arrayElement(['water_level', 'rainfall', 'avg_speed', 'salinity'], intDiv(number %% %[1]d, %[2]d) + 1) AS metric,
       multiIf(
         metric = 'water_level', 78 + (number %% %[1]d %% 50) / 10 + 1.5 * sin(toUInt32(t) / 43200 * pi()) + (toUInt32(t) - ?) / 2592000 + (cityHash64(number, ?) %% 100) / 1000,
         metric = 'rainfall', if(cityHash64(number, ?) %% 100 < 4, (cityHash64(number, 1, ?) %% 300) / 10, 0),
         metric = 'avg_speed', 42 - if(toHour(t + 25200) IN (7, 8, 17, 18), 25, 0) + (cityHash64(number, ?) %% 80) / 10,
         2 + 2 * sin(toUInt32(t) / 22356 * pi()) + (cityHash64(number, ?) %% 50) / 100) AS value,
       '', arrayElement(['m', 'mm', 'km/h', '‰'], intDiv(number %% %[1]d, %[2]d) + 1), 'good', t, 'bench'
FROM numbers(%[3]d)`, o.Sensors, o.Sensors/4, n)
	for d := range o.Days {
		day := benchStart.AddDate(0, 0, d)
		salt := d
		if err := conn.Exec(ctx, q, uint32(day.Unix()), uint32(benchStart.Unix()), salt, salt, salt, salt, salt); err != nil {
			return fmt.Errorf("generate day %d: %w", d+1, err)
		}
		if (d+1)%5 == 0 || d+1 == o.Days {
			done := (d + 1) * n
			fmt.Fprintf(os.Stderr, "analytics: %d of %d days generated (%d readings, %.0f readings/s)\n", d+1, o.Days, done, float64(done)/time.Since(start).Seconds())
		}
	}
	fmt.Fprintf(os.Stderr, "analytics: %d readings generated in %s\n", o.Days*n, time.Since(start).Round(time.Second))
	start = time.Now()
	a := config.Default().Analytics
	if err := analytics.Backfill(ctx, conn, analytics.Cluster{}, a.Rollups.FastMetrics, time.Time{}, time.Time{}, func(string, time.Duration) {}); err != nil {
		return fmt.Errorf("fill the rollups: %w", err)
	}
	fmt.Fprintf(os.Stderr, "analytics: rollups filled from them in %s (ioc migrate --backfill)\n", time.Since(start).Round(time.Second))
	return nil
}

// syncBenchSensors mirrors a catalog of the generated sensors, so that districts and alarm
// levels join as in production.
func syncBenchSensors(ctx context.Context, conn driver.Conn, sensors int) error {
	var b strings.Builder
	b.WriteString("sensors:\n")
	for i := range sensors {
		k := kinds[i/(sensors/4)]
		fmt.Fprintf(&b, "  - {id: s-%04d, name: Cảm biến %d, kind: %s, metrics: [{name: %s}], location: {lat: %.4f, lon: %.4f}, district: %s, owner_unit: flood_control",
			i, i, k.kind, k.metric, 22.0+float64(i%100)/200, 103.5+float64(i/100)/40, districts[i%len(districts)])
		if k.kind == "river_gauge" {
			base := 78 + float64(i%50)/10
			fmt.Fprintf(&b, ", alarm_levels: {i: %.1f, ii: %.1f, iii: %.1f}", base+1, base+2, base+3)
		}
		b.WriteString("}\n")
	}
	cat, err := ingest.ParseCatalog([]byte(b.String()), nil)
	if err != nil {
		return fmt.Errorf("bench catalog: %w", err)
	}
	return analytics.SyncSensors(ctx, conn, cat)
}

func reportSize(ctx context.Context, conn driver.Conn, database string) error {
	rows, err := conn.Query(ctx, `SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes)
FROM system.parts WHERE database = ? AND active AND table IN ('readings', 'readings_1m', 'readings_1h', 'district_1h')
GROUP BY table ORDER BY table`, database)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var n, packed, raw uint64
		if err := rows.Scan(&table, &n, &packed, &raw); err != nil {
			return err
		}
		fmt.Printf("SIZE table=%s rows=%d on_disk_mib=%.1f uncompressed_mib=%.1f compression=%.1f\n",
			table, n, float64(packed)/(1<<20), float64(raw)/(1<<20), float64(raw)/math.Max(float64(packed), 1))
	}
	return rows.Err()
}

// queryCase is one question asked both ways; each run returns its answer as comparable rows.
type queryCase struct {
	name      string
	ours, raw func(context.Context) ([]answerRow, error)
}

// answerRow is one row of an answer: a key (sensor or district, and time) and its figures.
type answerRow struct {
	key    string
	count  uint64
	values []float64
}

func runQueryCase(ctx context.Context, c queryCase, runs int) (string, error) {
	var ourTimes, rawTimes []float64
	var ourAns, rawAns []answerRow
	for i := range runs + 1 { // the first run of each side warms caches and is not timed
		t0 := time.Now()
		a, err := c.ours(ctx)
		if err != nil {
			return "", fmt.Errorf("through the rollups: %w", err)
		}
		d := time.Since(t0)
		t1 := time.Now()
		b, err := c.raw(ctx)
		if err != nil {
			return "", fmt.Errorf("from the raw table: %w", err)
		}
		if i > 0 {
			ourTimes, rawTimes = append(ourTimes, ms(d)), append(rawTimes, ms(time.Since(t1)))
		}
		ourAns, rawAns = a, b
	}
	if err := agree(ourAns, rawAns); err != nil {
		return "", fmt.Errorf("the answers differ: %w", err)
	}
	op50, op95, op99 := percentile(ourTimes, 50), percentile(ourTimes, 95), percentile(ourTimes, 99)
	rp50, rp95 := percentile(rawTimes, 50), percentile(rawTimes, 95)
	return fmt.Sprintf("RESULT bench=%s value=%.1f unit=ms_p95 ratio=%.4f reference=%.1f p50=%.1f p95=%.1f p99=%.1f raw_p50=%.1f raw_p95=%.1f speedup=%.1f rows=%d runs=%d",
		c.name, op95, op95/rp95, rp95, op50, op95, op99, rp50, rp95, rp95/op95, len(ourAns), runs), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// agree compares two answers row by row: same keys and counts, values within a relative 1e-6.
func agree(a, b []answerRow) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d rows against %d", len(a), len(b))
	}
	for i := range a {
		if a[i].key != b[i].key || a[i].count != b[i].count || len(a[i].values) != len(b[i].values) {
			return fmt.Errorf("row %d: %s (%d) against %s (%d)", i, a[i].key, a[i].count, b[i].key, b[i].count)
		}
		for j := range a[i].values {
			x, y := a[i].values[j], b[i].values[j]
			if math.Abs(x-y) > 1e-6*math.Max(1, math.Abs(y)) {
				return fmt.Errorf("row %d (%s) value %d: %g against %g", i, a[i].key, j, x, y)
			}
		}
	}
	return nil
}

// trendCase asks for a trend through the querier, and the same buckets from the raw table.
func trendCase(name string, q *analytics.Querier, conn driver.Conn, req analytics.TrendRequest) queryCase {
	var step time.Duration // the querier's choice, which the raw query then uses too
	return queryCase{
		name: name,
		ours: func(ctx context.Context) ([]answerRow, error) {
			series, err := q.Trend(ctx, req)
			if err != nil {
				return nil, err
			}
			var out []answerRow
			for _, s := range series {
				step = s.Step
				for _, p := range s.Points {
					if !p.Missing {
						out = append(out, answerRow{key: s.Sensor + " " + p.T.Format(time.RFC3339), count: p.Count, values: []float64{p.Min, p.Max, p.Avg, p.Last}})
					}
				}
			}
			return out, nil
		},
		raw: func(ctx context.Context) ([]answerRow, error) {
			secs := uint32(step / time.Second)
			return scanAnswer(conn.Query(ctx, `SELECT toString(sensor_id), toDateTime(intDiv(toUInt32(ts), ?) * ?, 'UTC') AS t,
       count(), min(value), max(value), avg(value), argMax(value, ts)
FROM readings WHERE sensor_id IN ? AND metric = ? AND ts >= ? AND ts < ?
GROUP BY sensor_id, t ORDER BY sensor_id, t`, secs, secs, analytics.StringSet(req.Sensors), req.Metric, req.From, req.To))
		},
	}
}

// districtCase is the heatmap of rainfall by district and hour over [from, to).
func districtCase(q *analytics.Querier, conn driver.Conn, from, to time.Time) queryCase {
	return queryCase{
		name: "analytics-district-heatmap-30d",
		ours: func(ctx context.Context) ([]answerRow, error) {
			ds, err := q.Districts(ctx, "rainfall", from, to, time.Hour)
			if err != nil {
				return nil, err
			}
			out := make([]answerRow, len(ds))
			for i, d := range ds {
				out[i] = answerRow{key: d.District + " " + d.T.Format(time.RFC3339), count: d.Count, values: []float64{d.Min, d.Max, d.Avg}}
			}
			return out, nil
		},
		raw: func(ctx context.Context) ([]answerRow, error) {
			return scanAnswer(conn.Query(ctx, `SELECT district, toDateTime(intDiv(toUInt32(ts), 3600) * 3600, 'UTC') AS t,
       count(), min(value), max(value), avg(value)
FROM readings ANY INNER JOIN (SELECT id AS sensor_id, district FROM sensors FINAL WHERE deleted = 0) USING sensor_id
WHERE metric = 'rainfall' AND ts >= ? AND ts < ?
GROUP BY district, t ORDER BY district, t`, from, to))
		},
	}
}

// topCase is the ten river gauges highest above their báo động I level in the last hour.
func topCase(q *analytics.Querier, conn driver.Conn, now time.Time) queryCase {
	return queryCase{
		name: "analytics-top10-now",
		ours: func(ctx context.Context) ([]answerRow, error) {
			top, err := q.TopAboveAlarm(ctx, now, time.Hour, 10)
			if err != nil {
				return nil, err
			}
			out := make([]answerRow, len(top))
			for i, r := range top {
				out[i] = answerRow{key: r.Sensor, values: []float64{r.Value}}
			}
			return out, nil
		},
		raw: func(ctx context.Context) ([]answerRow, error) {
			rows, err := conn.Query(ctx, `SELECT r.sensor_id, r.level - s.alarm FROM (
    SELECT toString(sensor_id) AS sensor_id, argMax(value, ts) AS level FROM readings
    WHERE metric = 'water_level' AND ts >= ? AND ts < ? GROUP BY sensor_id) AS r
ANY INNER JOIN (SELECT id AS sensor_id, assumeNotNull(alarm_i) AS alarm FROM sensors FINAL WHERE deleted = 0 AND alarm_i IS NOT NULL) AS s USING sensor_id
ORDER BY r.level - s.alarm DESC, r.sensor_id LIMIT 10`, now.Add(-time.Hour), now)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []answerRow
			for rows.Next() {
				var r answerRow
				var v float64
				if err := rows.Scan(&r.key, &v); err != nil {
					return nil, err
				}
				r.values = []float64{v}
				out = append(out, r)
			}
			return out, rows.Err()
		},
	}
}

// scanAnswer reads rows of (key, time, count, values…) into an answer.
func scanAnswer(rows driver.Rows, err error) ([]answerRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(rows.Columns()) - 3
	var out []answerRow
	for rows.Next() {
		var key string
		var t time.Time
		r := answerRow{values: make([]float64, n)}
		dest := []any{&key, &t, &r.count}
		for i := range r.values {
			dest = append(dest, &r.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r.key = key + " " + t.UTC().Format(time.RFC3339)
		out = append(out, r)
	}
	return out, rows.Err()
}
