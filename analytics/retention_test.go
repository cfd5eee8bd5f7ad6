package analytics

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics/rollup"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

func storeAt(t *testing.T, s *store, sensor string, ts ...time.Time) {
	t.Helper()
	var rs []ingest.Reading
	for _, at := range ts {
		rs = append(rs, ingest.Reading{Time: at, Sensor: sensor, Metric: "water_level", Value: 80, Unit: "m", Quality: ingest.QualityGood, Received: at, Topic: "t"})
	}
	s.keep(t, ingest.Delivery{Readings: rs})
}

// Retention drops whole months once all they hold is older than the table's retention, and
// leaves the rest, table by table.
func TestRetentionDropsWholeOldMonths(t *testing.T) {
	ctx := context.Background()
	w, conn := startStore(t, testenv.ClickHouseConfig(t), config.Default().Analytics, nil)
	may, july, aug := time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 31, 23, 0, 0, 0, time.UTC), time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC)
	storeAt(t, w, "lc-hong-laocai", may, july, aug)
	cfg := config.Default().Analytics.Retention
	cfg.Readings, cfg.Readings1m = 20*24*time.Hour, 60*24*time.Hour
	r := NewRetention(conn, Cluster{}, cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	// On 2026-08-25, 20 days back is 2026-08-05: May and July are wholly older; August is not.
	// 60 days back is 2026-06-26: only May is.
	dropped, err := r.Enforce(ctx, time.Date(2026, 8, 25, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"readings/202605", "readings/202607", "readings_1m/202605"}
	if !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	for table, months := range map[string][]string{"readings": {"202608"}, "readings_1m": {"202607", "202608"}, "readings_1h": {"202605", "202607", "202608"}} {
		got, err := partitions(ctx, conn, Cluster{}, table)
		if err != nil || !slices.Equal(got, months) {
			t.Errorf("%s keeps %v (%v), want %v", table, got, err, months)
		}
	}
	if again, err := r.Enforce(ctx, time.Date(2026, 8, 25, 0, 0, 0, 0, time.UTC)); err != nil || len(again) != 0 {
		t.Errorf("a second run dropped %v (%v)", again, err)
	}
}

// Backfill rebuilds the rollups from the raw readings once each: rows a failure left behind
// (a source's rows counting a reading twice, here written by hand) go, and rollups missing for
// old data appear.
func TestBackfillRebuildsRollups(t *testing.T) {
	ctx := context.Background()
	s, conn := startStore(t, testenv.ClickHouseConfig(t), config.Default().Analytics, nil)
	ts := time.Date(2026, 8, 3, 10, 0, 0, 0, time.UTC)
	storeAt(t, s, "lc-hong-laocai", ts, ts.Add(time.Minute))
	count := func(table string) uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT sum(n) FROM "+table+" FINAL WHERE source != ''").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	unplaced := func() uint64 { // the sensor is in no catalog: its district is unknown, never dropped
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT sum(n) FROM district_1h FINAL WHERE source != '' AND district = ?", rollup.UnknownDistrict).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count("readings_1m") != 2 || count("readings_1h") != 2 || unplaced() != 2 {
		t.Fatalf("stored: 1m counts %d, 1h %d, unknown district %d; want 2", count("readings_1m"), count("readings_1h"), unplaced())
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO readings_1h (bucket, sensor_id, metric, source, version, n, sum_v, min_v, max_v, last_v, last_ts)")
	if err == nil {
		err = b.Append(ts, "lc-hong-laocai", "water_level", "dead-process", uint64(1), uint64(5), 400.0, 80.0, 80.0, 80.0, ts)
	}
	if err == nil {
		err = b.Send()
	}
	if err != nil {
		t.Fatal(err)
	}
	var months []string
	if err := Backfill(ctx, conn, Cluster{}, []string{"water_level"}, time.Time{}, time.Time{}, func(m string, _ time.Duration) { months = append(months, m) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(months, []string{"202608"}) || count("readings_1m") != 2 || count("readings_1h") != 2 || unplaced() != 2 {
		t.Errorf("after backfill of %v: 1m counts %d, 1h counts %d, unknown district %d; want 2 each", months, count("readings_1m"), count("readings_1h"), unplaced())
	}
}
