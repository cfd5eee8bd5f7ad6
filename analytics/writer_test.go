package analytics

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

var t0 = time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)

func writerConfig() config.Writer {
	w := config.Default().Writer
	w.FlushInterval = 20 * time.Millisecond
	w.MaxRetryInterval = 200 * time.Millisecond
	w.ShutdownTimeout = 2 * time.Second
	return w
}

// startWriter runs a writer on a fresh database until the test ends.
func startWriter(t *testing.T, cfg config.ClickHouse, migrate bool) (*Writer, driver.Conn, *prometheus.Registry) {
	return startWriterWith(t, cfg, migrate, nil, writerConfig())
}

// startWriterWith runs a writer with spool (nil for none) and wc until the test ends.
func startWriterWith(t *testing.T, cfg config.ClickHouse, migrate bool, spool *Spool, wc config.Writer) (*Writer, driver.Conn, *prometheus.Registry) {
	t.Helper()
	ctx := context.Background()
	if migrate {
		if _, err := Migrate(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	conn, _, err := Connect(cfg) // as ioc serve connects: to every address, with the cluster's settings
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	reg := prometheus.NewRegistry()
	w := NewWriter(conn, spool, wc, 10*time.Second, reg, slog.New(slog.DiscardHandler))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	return w, conn, reg
}

// store is a writer with the rollups of what it stores, as ioc serve runs them.
type store struct {
	*Writer
	rollups *Rollups
}

// startStore runs a writer on a fresh database of cfg (migrated) with rollups configured as a
// says and the districts of cat (nil for none), until the test ends.
func startStore(t *testing.T, cfg config.ClickHouse, a config.Analytics, cat *ingest.Catalog) (*store, driver.Conn) {
	t.Helper()
	w, conn, _ := startWriter(t, cfg, true)
	w.SetStoredBy("test")
	district := func(sensor string) string {
		if cat == nil {
			return ""
		}
		if s := cat.Lookup(sensor); s != nil {
			return s.District
		}
		return ""
	}
	r, err := NewRollups(conn, w, "test", a, config.Default().Ingest.MaxAge, district, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &store{Writer: w, rollups: r}, conn
}

// keep stores d and counts its readings in the rollups, then writes both.
func (s *store) keep(t *testing.T, d ingest.Delivery) {
	t.Helper()
	ctx := context.Background()
	if err := s.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.rollups.ObserveReadings(ctx, d.Readings, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.rollups.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func reading(i int) ingest.Reading {
	return ingest.Reading{
		Time: t0.Add(time.Duration(i) * time.Second), Sensor: "lc-hong-laocai", Metric: "water_level",
		Value: 80 + float64(i)/100, Unit: "m", Quality: ingest.QualityGood, Received: t0.Add(time.Hour),
		Topic: "province/lao-cai/river_gauge/lc-hong-laocai",
	}
}

func countReadings(t *testing.T, conn driver.Conn) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM readings").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriterStoresExactRowsAndAcksAfter(t *testing.T) {
	ctx := context.Background()
	w, conn, _ := startWriter(t, testenv.ClickHouseConfig(t), true)

	var acks atomic.Int32
	const messages, perMessage = 40, 25
	for m := 0; m < messages; m++ {
		d := ingest.Delivery{Ack: func() { acks.Add(1) }}
		for i := 0; i < perMessage; i++ {
			d.Readings = append(d.Readings, reading(m*perMessage+i))
		}
		if m%10 == 0 {
			d.DeadLetters = []ingest.DeadLetter{{Time: t0, Source: "mqtt", Topic: "t/x", Reason: ingest.ReasonMalformedJSON,
				Detail: "invalid JSON", Payload: []byte(`{"se`), PayloadSize: 900}}
		}
		if err := w.Deliver(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := acks.Load(); got != messages {
		t.Fatalf("acks = %d, want %d once stored", got, messages)
	}

	rows, err := conn.Query(ctx, "SELECT ts, sensor_id, metric, value, unit, quality, ingest_time, topic FROM readings ORDER BY ts")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var got ingest.Reading
		var q string
		if err := rows.Scan(&got.Time, &got.Sensor, &got.Metric, &got.Value, &got.Unit, &q, &got.Received, &got.Topic); err != nil {
			t.Fatal(err)
		}
		got.Quality = ingest.Quality(q)
		want := reading(n)
		if !got.Time.Equal(want.Time) || got.Sensor != want.Sensor || got.Metric != want.Metric || got.Value != want.Value ||
			got.Unit != want.Unit || got.Quality != want.Quality || !got.Received.Equal(want.Received) || got.Topic != want.Topic {
			t.Fatalf("row %d = %+v, want %+v", n, got, want)
		}
		n++
	}
	if n != messages*perMessage {
		t.Fatalf("stored %d readings, want %d", n, messages*perMessage)
	}
	var dead uint64
	var reason, payload string
	var size uint32
	if err := conn.QueryRow(ctx, "SELECT count(), any(reason), any(payload), any(payload_size) FROM dead_letters").Scan(&dead, &reason, &payload, &size); err != nil {
		t.Fatal(err)
	}
	if dead != 4 || reason != "malformed_json" || payload != `{"se` || size != 900 {
		t.Fatalf("dead letters: %d %s %q %d", dead, reason, payload, size)
	}
}

// While ClickHouse refuses a batch (here: its table does not exist yet) nothing is
// acknowledged; once it accepts, the batch is stored once and acknowledged once.
func TestWriterRetriesAndAcksOnlyOnceStored(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	w, conn, reg := startWriter(t, cfg, false)

	var acks atomic.Int32
	d := ingest.Delivery{Readings: []ingest.Reading{reading(1), reading(2)}, Ack: func() { acks.Add(1) }}
	if err := w.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	failures := func() float64 { return testutil.ToFloat64(w.m.batches.WithLabelValues("readings", "error")) }
	for deadline := time.Now().Add(20 * time.Second); failures() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer never tried to store the batch")
		}
	}
	if acks.Load() != 0 {
		t.Fatal("acknowledged a message whose readings are not stored")
	}
	if _, err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countReadings(t, conn); n != 2 || acks.Load() != 1 {
		t.Fatalf("rows = %d, acks = %d; want 2 rows stored once and 1 ack", countReadings(t, conn), acks.Load())
	}
	if got := testutil.ToFloat64(w.m.rows.WithLabelValues("readings")); got != 2 {
		t.Fatalf("ioc_writer_rows_written_total = %v", got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// At shutdown the writer stores what is queued before it returns.
func TestWriterStoresQueueOnShutdown(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	if _, err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	conn := testenv.Conn(t, cfg)
	wc := writerConfig()
	wc.FlushInterval = time.Hour // only shutdown flushes
	w := NewWriter(conn, nil, wc, 10*time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	var acks atomic.Int32
	for i := 0; i < 100; i++ {
		if err := w.Deliver(ctx, ingest.Delivery{Readings: []ingest.Reading{reading(i)}, Ack: func() { acks.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	stop() // shut down at once: everything queued must still be stored
	if err := w.Run(wctx); err != nil {
		t.Fatal(err)
	}
	if n := countReadings(t, conn); n != 100 || acks.Load() != 100 {
		t.Fatalf("rows = %d, acks = %d, want 100 and 100", n, acks.Load())
	}
}

// waitFor polls cond until it holds, failing after 30 s with what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

// While ClickHouse refuses (here: the tables do not exist yet), batches go to the spool and
// are acknowledged; later batches follow them there; once ClickHouse takes inserts again the
// spool is replayed, every reading stored once, and new batches go straight in again.
func TestWriterSpoolsWhileClickHouseRefusesThenReplays(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	wc := writerConfig()
	wc.Spool.After = 300 * time.Millisecond
	spool := openTestSpool(t, t.TempDir(), 64<<20)
	w, conn, reg := startWriterWith(t, cfg, false, spool, wc)

	var acks atomic.Int32
	deliver := func(from, to int) {
		for m := from; m < to; m++ {
			d := ingest.Delivery{Ack: func() { acks.Add(1) }}
			for i := 0; i < 50; i++ {
				d.Readings = append(d.Readings, reading(m*50+i))
			}
			d.DeadLetters = []ingest.DeadLetter{{Time: t0, Source: "mqtt", Topic: "t", Reason: ingest.ReasonNonFinite, Detail: "NaN", Payload: []byte("NaN"), PayloadSize: 3}}
			if err := w.Deliver(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	deliver(0, 10)
	waitFor(t, "10 messages acknowledged from the spool", func() bool { return acks.Load() == 10 })
	if spool.Pending() == 0 {
		t.Fatal("acknowledged, but nothing in the spool")
	}
	if _, err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	deliver(10, 15) // the spool still holds older batches: these queue behind them
	waitFor(t, "the spool replayed", func() bool { return spool.Pending() == 0 && countReadings(t, conn) == 750 })
	deliver(15, 20)
	// acknowledgements come once a batch's readings and dead letters are both stored
	waitFor(t, "1000 readings stored, 20 messages acknowledged", func() bool { return countReadings(t, conn) == 1000 && acks.Load() == 20 })
	var distinct, dead uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(ts) FROM readings").Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM dead_letters").Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if distinct != 1000 || dead != 20 || acks.Load() != 20 {
		t.Fatalf("%d distinct readings (want 1000), %d dead letters (want 20), %d acks (want 20)", distinct, dead, acks.Load())
	}
	if n := counterValue(t, reg, "ioc_writer_rows_spooled_total"); n < 510 {
		t.Errorf("rows spooled %v, want at least 510", n)
	}
}

// With the spool forced, every batch goes through it and still lands in ClickHouse once.
func TestWriterForcedSpool(t *testing.T) {
	ctx := context.Background()
	wc := writerConfig()
	wc.Spool.Force = true
	spool := openTestSpool(t, t.TempDir(), 64<<20)
	w, conn, reg := startWriterWith(t, testenv.ClickHouseConfig(t), true, spool, wc)
	var acks atomic.Int32
	for i := 0; i < 300; i++ {
		if err := w.Deliver(ctx, ingest.Delivery{Readings: []ingest.Reading{reading(i)}, Ack: func() { acks.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	// the counter moves just after the insert that makes the rows visible
	waitFor(t, "300 readings through the spool", func() bool {
		return countReadings(t, conn) == 300 && acks.Load() == 300 && counterValue(t, reg, "ioc_writer_rows_replayed_total") == 300
	})
	if n := countReadings(t, conn); n != 300 {
		t.Errorf("%d readings stored, want 300", n)
	}
}

// A batch that ClickHouse does not take within spool.after (here: it cannot, the bound is a
// nanosecond) is spooled, counted by reason, and logged: the first at once, then at most every
// spoolLogEvery; the spool then replays it.
func TestWriterLogsBatchesSpooledOnTimeout(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.ClickHouseConfig(t)
	if _, err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	conn := testenv.Conn(t, cfg)
	wc := writerConfig()
	wc.Spool.After = time.Nanosecond
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg := prometheus.NewRegistry()
	spool := openTestSpool(t, t.TempDir(), 64<<20)
	w := NewWriter(conn, spool, wc, 10*time.Second, reg, log)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- w.Run(wctx) }()
	defer func() { stop(); <-done }()
	for m := range 3 {
		if err := w.Deliver(ctx, ingest.Delivery{Readings: []ingest.Reading{reading(m)}}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil { // one batch each
			t.Fatal(err)
		}
		// replayed, and its place in the spool committed, before the next, which would otherwise
		// queue behind it (reason behind)
		waitFor(t, "the spooled reading replayed", func() bool { return countReadings(t, conn) == uint64(m+1) && spool.Pending() == 0 })
	}
	if got := testutil.ToFloat64(w.m.spooled.WithLabelValues(spoolClickHouse)); got != 3 {
		t.Errorf("ioc_writer_batches_spooled_total{reason=clickhouse} = %g, want 3", got)
	}
	if n := strings.Count(logs.String(), "did not take a batch within writer.spool.after"); n != 1 {
		t.Errorf("%d log lines for 3 batches spooled within a second, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("the log line does not say why:\n%s", logs.String())
	}
}
