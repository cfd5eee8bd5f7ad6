package analytics

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/provincesim"
	"github.com/haidang-ioc/ioc/streams"
)

var q0 = time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)

// history stores, through the writer and so through the rollups' views: lc-hong-laocai's water
// level every minute for 3 hours from q0 (80 + minute/100), but for a gap in minutes 60-89;
// lc-hong-bat-xat's at 84 every minute, and at 70 for the hour a week earlier.
func history(t *testing.T) *Querier {
	t.Helper()
	q, _ := historyOn(t, testenv.ClickHouseConfig(t), config.Default().Analytics)
	return q
}

// laoCai is the simulated Lào Cai province's sensor catalog.
func laoCai(t *testing.T) *ingest.Catalog {
	t.Helper()
	raw, err := provincesim.Catalog("lao-cai", 2*time.Second, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := ingest.ParseCatalog(raw, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// historyOn stores history's readings in a fresh database of cfg, with the rollups configured
// as a says; it returns its querier and the store, which runs until the test ends.
func historyOn(t *testing.T, cfg config.ClickHouse, a config.Analytics) (*Querier, *store) {
	t.Helper()
	ctx := context.Background()
	cat := laoCai(t)
	s, conn := startStore(t, cfg, a, cat)
	if err := SyncSensors(ctx, conn, cat); err != nil {
		t.Fatal(err)
	}
	// Each server of a cluster joins the readings it takes with the catalog it holds: the
	// catalog reaches them by replication, a moment after it is written.
	for _, addr := range strings.Split(cfg.Addr, ",") {
		if cfg.Cluster == "" {
			break
		}
		server := testenv.Conn(t, config.ClickHouse{Addr: addr, Database: cfg.Database, Username: cfg.Username})
		if err := server.Exec(ctx, "SYSTEM SYNC REPLICA sensors"); err != nil {
			t.Fatal(err)
		}
	}
	var rs []ingest.Reading
	add := func(sensor string, ts time.Time, v float64) {
		rs = append(rs, ingest.Reading{Time: ts, Sensor: sensor, Metric: "water_level", Value: v, Unit: "m",
			Quality: ingest.QualityGood, Received: ts, Topic: "t"})
	}
	for i := 0; i < 180; i++ {
		if i < 60 || i >= 90 {
			add("lc-hong-laocai", q0.Add(time.Duration(i)*time.Minute), 80+float64(i)/100)
		}
		add("lc-hong-bat-xat", q0.Add(time.Duration(i)*time.Minute), 84)
	}
	for i := 0; i < 60; i++ {
		add("lc-hong-bat-xat", q0.Add(-7*24*time.Hour+time.Duration(i)*time.Minute), 70)
	}
	s.keep(t, ingest.Delivery{Readings: rs})
	return NewQuerier(conn, a), s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestTrendPicksItsSourceAndFillsGaps(t *testing.T) {
	q := history(t)
	ctx := context.Background()
	minutes, err := q.Trend(ctx, TrendRequest{Sensors: []string{"lc-hong-laocai"}, Metric: "water_level", From: q0, To: q0.Add(3 * time.Hour), MaxPoints: 180})
	if err != nil {
		t.Fatal(err)
	}
	s := minutes[0]
	if s.Resolution != Resolution1m || s.Step != time.Minute || s.Unit != "m" || len(s.Points) != 180 {
		t.Fatalf("series %s step %s unit %s with %d points; want 1m, 1m, m, 180", s.Resolution, s.Step, s.Unit, len(s.Points))
	}
	for i, p := range s.Points {
		gap := i >= 60 && i < 90
		if !p.T.Equal(q0.Add(time.Duration(i)*time.Minute)) || p.Missing != gap {
			t.Fatalf("point %d: %+v (gap %t)", i, p, gap)
		}
		if !gap && (p.Count != 1 || !near(p.Avg, 80+float64(i)/100) || !near(p.Last, p.Avg)) {
			t.Fatalf("point %d: %+v", i, p)
		}
		if gap && !math.IsNaN(p.Avg) {
			t.Fatalf("gap point %d has a value: %+v", i, p)
		}
	}

	hours, err := q.Trend(ctx, TrendRequest{Sensors: []string{"lc-hong-laocai", "lc-hong-bat-xat"}, Metric: "water_level", From: q0, To: q0.Add(3 * time.Hour), MaxPoints: 3})
	if err != nil {
		t.Fatal(err)
	}
	h := hours[0]
	if h.Resolution != Resolution1h || len(h.Points) != 3 || hours[1].Sensor != "lc-hong-bat-xat" {
		t.Fatalf("hourly: %s with %d points; second series %s", h.Resolution, len(h.Points), hours[1].Sensor)
	}
	// Hour 0: minutes 0-59; hour 1: minutes 90-119; hour 2: minutes 120-179.
	for i, want := range []struct {
		n           uint64
		lo, hi, avg float64
	}{{60, 80, 80.59, 80.295}, {30, 80.9, 81.19, 81.045}, {60, 81.2, 81.79, 81.495}} {
		p := h.Points[i]
		if p.Count != want.n || !near(p.Min, want.lo) || !near(p.Max, want.hi) || math.Abs(p.Avg-want.avg) > 1e-9 || !near(p.Last, want.hi) {
			t.Errorf("hour %d: %+v, want n %d min %g max %g avg %g last %g", i, p, want.n, want.lo, want.hi, want.avg, want.hi)
		}
	}

	raw, err := q.Trend(ctx, TrendRequest{Sensors: []string{"lc-hong-laocai"}, Metric: "water_level", From: q0, To: q0.Add(time.Hour), MaxPoints: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if r := raw[0]; r.Resolution != ResolutionRaw || r.Step != time.Second || len(r.Points) != 3600 || r.Points[60].Missing || !r.Points[61].Missing || !near(r.Points[60].Avg, 80.01) {
		t.Errorf("raw: %s step %s, %d points, point 60 %+v", r.Resolution, r.Step, len(r.Points), r.Points[60])
	}
}

func TestCompareAlignsTheEarlierPeriod(t *testing.T) {
	q := history(t)
	now, before, err := q.Compare(context.Background(), TrendRequest{Sensors: []string{"lc-hong-bat-xat"}, Metric: "water_level",
		From: q0, To: q0.Add(time.Hour), MaxPoints: 1}, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n, b := now[0].Points[0], before[0].Points[0]; !n.T.Equal(q0) || !b.T.Equal(q0) || n.Avg != 84 || b.Avg != 70 {
		t.Errorf("now %+v, a week before %+v", n, b)
	}
}

func TestDistrictsTopAndLatest(t *testing.T) {
	q := history(t)
	ctx := context.Background()
	ds, err := q.Districts(ctx, "water_level", q0, q0.Add(3*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 6 || ds[0].District != "Bát Xát" || ds[0].Avg != 84 || ds[3].District != "TP Lào Cai" || ds[4].Count != 30 || ds[4].Sensors != 1 {
		t.Errorf("districts: %+v", ds)
	}
	top, err := q.Top(ctx, "water_level", q0, q0.Add(3*time.Hour), 1, false)
	if err != nil || len(top) != 1 || top[0].Sensor != "lc-hong-bat-xat" || top[0].Value != 84 || top[0].District != "Bát Xát" {
		t.Errorf("top: %+v %v", top, err)
	}
	low, err := q.Top(ctx, "water_level", q0, q0.Add(3*time.Hour), 1, true)
	if err != nil || len(low) != 1 || low[0].Sensor != "lc-hong-laocai" {
		t.Errorf("lowest: %+v %v", low, err)
	}
	alarm, err := q.TopAboveAlarm(ctx, q0.Add(3*time.Hour), 3*time.Hour, 5)
	if err != nil || len(alarm) != 2 || alarm[0].Sensor != "lc-hong-laocai" || !near(alarm[0].Value, 1.79) || alarm[0].Alarm != 80 || !near(alarm[1].Value, 1) {
		t.Errorf("above alarm: %+v %v", alarm, err)
	}
	latest, err := q.LatestValues(ctx, q0.Add(3*time.Hour), 3*time.Hour, "water_level")
	if err != nil || len(latest) != 2 || latest[1].Sensor != "lc-hong-laocai" || !near(latest[1].Value, 81.79) || !latest[1].At.Equal(q0.Add(179*time.Minute)) {
		t.Errorf("latest: %+v %v", latest, err)
	}
	// Over a day the minute rollup answers, to the minute.
	day, err := q.LatestValues(ctx, q0.Add(24*time.Hour), 24*time.Hour, "")
	if err != nil || len(day) != 2 || !near(day[1].Value, 81.79) || !day[1].At.Equal(q0.Add(179*time.Minute)) {
		t.Errorf("latest over a day: %+v %v", day, err)
	}
}

func TestQueriesRefuseBadRequests(t *testing.T) {
	q := history(t)
	ctx := context.Background()
	ok := TrendRequest{Sensors: []string{"lc-hong-laocai"}, Metric: "water_level", From: q0, To: q0.Add(time.Hour)}
	cases := []struct {
		name string
		edit func(*TrendRequest)
		code string
	}{
		{"reversed range", func(r *TrendRequest) { r.From, r.To = r.To, r.From }, CodeBadRange},
		{"no range", func(r *TrendRequest) { r.From = time.Time{} }, CodeBadRange},
		{"too large", func(r *TrendRequest) { r.From = r.To.Add(-20 * 366 * 24 * time.Hour) }, CodeRangeTooLarge},
		{"before 1970", func(r *TrendRequest) { r.From = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) }, CodeBadRange},
		{"unknown sensor", func(r *TrendRequest) { r.Sensors = []string{"lc-hong-laocai", "x'; DROP TABLE readings; --"} }, CodeUnknownSensor},
		{"no sensor", func(r *TrendRequest) { r.Sensors = nil }, CodeBadParam},
		{"unknown metric", func(r *TrendRequest) { r.Metric = "flux_capacitance" }, CodeUnknownMetric},
		{"negative points", func(r *TrendRequest) { r.MaxPoints = -1 }, CodeBadPoints},
		{"absurd points", func(r *TrendRequest) { r.MaxPoints = 1 << 30 }, CodeBadPoints},
		{"raw beyond the budget", func(r *TrendRequest) { r.Resolution, r.MaxPoints, r.To = ResolutionRaw, 10, r.From.Add(time.Minute) }, ""},
		{"a month in one point", func(r *TrendRequest) { r.MaxPoints, r.To = 1, r.From.Add(30*24*time.Hour) }, CodeBadPoints},
		{"unknown resolution", func(r *TrendRequest) { r.Resolution = "5m" }, CodeBadParam},
		{"too many sensors", func(r *TrendRequest) { r.Sensors = make([]string, 51) }, CodeTooMany},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := ok
			c.edit(&req)
			_, err := q.Trend(ctx, req)
			var qe *QueryError
			switch {
			case c.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.code != "" && (!errors.As(err, &qe) || qe.Code != c.code):
				t.Fatalf("err %v, want code %s", err, c.code)
			}
		})
	}
	if _, err := q.Districts(ctx, "water_level", q0, q0.Add(time.Hour), 90*time.Minute); err == nil {
		t.Error("a district step of 90 minutes was taken")
	}
	if _, err := q.Top(ctx, "water_level", q0, q0.Add(time.Hour), 0, false); err == nil {
		t.Error("top 0 was taken")
	}
	if _, _, err := q.Compare(ctx, ok, -time.Hour); err == nil {
		t.Error("a negative offset was taken")
	}
}

func TestCameraUptime(t *testing.T) {
	ctx := context.Background()
	w, conn, _ := startWriter(t, testenv.ClickHouseConfig(t), true)
	var sts []streams.CameraStatus
	for i, state := range []streams.State{streams.StateOnline, streams.StateOnline, streams.StateOffline, streams.StateOnline} {
		sts = append(sts, streams.CameraStatus{Time: q0.Add(time.Duration(i) * time.Minute), Camera: "cam-1", State: state})
	}
	if err := w.DeliverCamera(ctx, sts, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cat, err := streams.ParseCameraCatalog([]byte(`cameras:
  - {id: cam-1, name: Cầu Cốc Lếu, url: "rtsp://u:secret@10.0.0.1/s", location: {lat: 22.5, lon: 103.97}, district: TP Lào Cai, purpose: traffic, owner_unit: traffic_police}
`), config.Units, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := SyncCameras(ctx, conn, cat, "metadata"); err != nil {
		t.Fatal(err)
	}
	up, err := NewQuerier(conn, config.Default().Analytics).CameraUptime(ctx, q0, q0.Add(time.Hour))
	if err != nil || len(up) != 1 || up[0].Share != 0.75 || up[0].OfflineShare != 0.25 || up[0].District != "TP Lào Cai" {
		t.Errorf("uptime %+v %v", up, err)
	}
	if d := UptimeByDistrict(append(up, Uptime{Camera: "cam-2", District: "TP Lào Cai", Samples: 4, Online: 4})); len(d) != 1 || d[0].Share != 7.0/8 || d[0].OfflineShare != 1.0/8 {
		t.Errorf("by district %+v", d)
	}
	// the last status of each camera, to the millisecond: the offline one at 2 min, online at 3
	last, err := NewQuerier(conn, config.Default().Analytics).LatestCameraStates(ctx, q0.Add(time.Hour), time.Hour)
	if err != nil || len(last) != 1 || last[0].Camera != "cam-1" || last[0].State != streams.StateOnline || !last[0].Time.Equal(q0.Add(3*time.Minute)) {
		t.Errorf("latest camera states %+v %v: want cam-1 online at %s", last, err, q0.Add(3*time.Minute))
	}
	if none, err := NewQuerier(conn, config.Default().Analytics).LatestCameraStates(ctx, q0.Add(2*time.Hour), 30*time.Minute); err != nil || len(none) != 0 {
		t.Errorf("latest camera states out of the window: %+v %v, want none", none, err)
	}
	var stored string
	if err := conn.QueryRow(ctx, "SELECT concat(id, name, district, purpose, owner_unit, mode) FROM cameras_current").Scan(&stored); err != nil || strings.Contains(stored, "secret") || !strings.Contains(stored, "metadata") {
		t.Errorf("cameras_current %q %v", stored, err)
	}
}

func TestExportsStreamCSV(t *testing.T) {
	q := history(t)
	ctx := context.Background()
	var b strings.Builder
	req := TrendRequest{Sensors: []string{"lc-nam-thi-coc-leu", "lc-hong-laocai"}, Metric: "water_level", From: q0, To: q0.Add(3 * time.Hour), MaxPoints: 180}
	if err := q.ExportTrend(ctx, &b, req, LangVietnamese); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "\ufeffMã cảm biến,Chỉ số,Đơn vị,Thời gian (UTC),Thời gian (giờ Việt Nam),Số mẫu") {
		t.Errorf("header: %q", b.String()[:80])
	}
	if len(recs) != 1+2*180 {
		t.Fatalf("%d rows, want a header and 180 for each sensor", len(recs))
	}
	first, gap := recs[1], recs[1+60]
	if first[0] != "lc-hong-laocai" || first[3] != "2026-08-03T00:00:00Z" || first[4] != "2026-08-03 07:00:00" || first[5] != "1" || first[8] != "80" {
		t.Errorf("first row %v", first)
	}
	if gap[5] != "0" || gap[8] != "" {
		t.Errorf("gap row %v", gap)
	}
	if recs[181][0] != "lc-nam-thi-coc-leu" || recs[360][5] != "0" {
		t.Errorf("the sensor without readings: %v ... %v", recs[181], recs[360])
	}

	b.Reset()
	if err := q.ExportReadings(ctx, &b, []string{"lc-hong-laocai"}, "water_level", q0, q0.Add(3*time.Hour), LangEnglish); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 151 || recs[0][0] != "sensor" || recs[1][5] != "80" || recs[150][5] != "81.79" {
		t.Errorf("%d rows, err %v: %v ... %v", len(recs), err, recs[0], recs[len(recs)-1])
	}
	if err := q.ExportReadings(ctx, &b, []string{"lc-hong-laocai"}, "water_level", q0, q0.Add(time.Hour), "fr"); err == nil {
		t.Error("an unknown header language was taken")
	}
}

// Buckets of a week start where the SQL starts them: multiples of seven days since the epoch.
func TestWeekBucketsAlignWithTheSQL(t *testing.T) {
	p := trendPlan{step: 7 * 24 * time.Hour}
	got := p.first(time.Date(2026, 8, 5, 13, 0, 0, 0, time.UTC))
	if got.Unix()%(7*86400) != 0 || got.After(time.Date(2026, 8, 5, 13, 0, 0, 0, time.UTC)) || got.Weekday() != time.Thursday {
		t.Errorf("week bucket starts %s (%s)", got, got.Weekday())
	}
}

// With the minute rollup off, no minute rows are written, trends under an hour read the raw
// table with the same answers, and a forced 1m resolution is refused; a metric that is not
// fast has no minute rows either.
func TestMinuteRollupSwitch(t *testing.T) {
	q := history(t)
	ctx := context.Background()
	req := TrendRequest{Sensors: []string{"lc-hong-laocai"}, Metric: "water_level", From: q0, To: q0.Add(3 * time.Hour), MaxPoints: 180}
	before, err := q.Trend(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	off := config.Default().Analytics
	off.MinuteRollup = false
	qOff, _ := historyOn(t, testenv.ClickHouseConfig(t), off)
	var minutes uint64
	if err := qOff.conn.QueryRow(ctx, "SELECT count() FROM readings_1m").Scan(&minutes); err != nil || minutes != 0 {
		t.Fatalf("with the minute rollup off, %d minute rows (%v)", minutes, err)
	}
	after, err := qOff.Trend(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if before[0].Resolution != Resolution1m || after[0].Resolution != ResolutionRaw || after[0].Step != time.Minute || len(after[0].Points) != len(before[0].Points) {
		t.Fatalf("with the minute rollup on: %s; off: %s step %s, %d points", before[0].Resolution, after[0].Resolution, after[0].Step, len(after[0].Points))
	}
	for i := range before[0].Points {
		b, a := before[0].Points[i], after[0].Points[i]
		if b.Missing != a.Missing || (!b.Missing && (b.Count != a.Count || !near(b.Avg, a.Avg) || b.P95 != a.P95)) {
			t.Fatalf("point %d: %+v through the rollup, %+v from raw", i, b, a)
		}
	}
	if _, err := qOff.Trend(ctx, TrendRequest{Sensors: req.Sensors, Metric: req.Metric, From: req.From, To: req.To, Resolution: Resolution1m}); err == nil {
		t.Error("a forced 1m resolution was taken with the minute rollup off")
	}
	notFast := config.Default().Analytics
	notFast.Rollups.FastMetrics = []string{"salinity"}
	if got, err := NewQuerier(q.conn, notFast).Trend(ctx, req); err != nil || got[0].Resolution != ResolutionRaw {
		t.Errorf("water level not fast: %v, %v", got, err)
	}
}

// The health page's summary counts dead letters by reason over the last hour and day and shows
// the newest, their payloads cut short.
func TestDeadLetterSummary(t *testing.T) {
	ctx := context.Background()
	w, conn, _ := startWriterWith(t, testenv.ClickHouseConfig(t), true, nil, writerConfig())
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	dl := func(ago time.Duration, reason ingest.Reason, payload string) ingest.DeadLetter {
		return ingest.DeadLetter{Time: now.Add(-ago), Source: "mqtt", Topic: "province/x/y/z", Reason: reason, Detail: "d",
			Payload: []byte(payload), PayloadSize: len(payload)}
	}
	big := strings.Repeat("x", 1000)
	d := ingest.Delivery{DeadLetters: []ingest.DeadLetter{
		dl(10*time.Minute, ingest.ReasonMalformedJSON, "{"), dl(20*time.Minute, ingest.ReasonMalformedJSON, "{{"),
		dl(5*time.Hour, ingest.ReasonMalformedJSON, "{{{"), dl(2*time.Hour, ingest.ReasonOutOfRange, big),
		dl(30*time.Hour, ingest.ReasonNonFinite, "NaN"), // older than a day: not counted
	}}
	if err := w.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead letters", func() bool {
		var n uint64
		_ = conn.QueryRow(ctx, "SELECT count() FROM dead_letters").Scan(&n)
		return n == 5
	})
	sum, err := NewQuerier(conn, config.Default().Analytics).DeadLetterSummary(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeadLetterCount{{"malformed_json", 2, 3}, {"out_of_range", 0, 1}}
	if !slices.Equal(sum.Reasons, want) {
		t.Errorf("reasons %+v, want %+v", sum.Reasons, want)
	}
	if len(sum.Latest) != 4 || sum.Latest[0].Payload != "{" || !sum.Latest[0].Time.Equal(now.Add(-10*time.Minute)) ||
		sum.Latest[3].Reason != "malformed_json" || sum.Latest[2].Payload != big[:300] || sum.Latest[2].PayloadSize != 1000 {
		t.Errorf("latest %+v", sum.Latest)
	}
}
