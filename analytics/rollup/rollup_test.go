package rollup

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/analytics/sketch"
)

var h0 = time.Date(2026, 8, 3, 10, 0, 0, 0, time.UTC)

func testAggregator(start time.Time) *Aggregator {
	return New(Options{
		Fast:     func(m string) bool { return m == "water_level" },
		District: func(s string) string { return map[string]string{"a": "Sa Pa", "b": "Sa Pa", "c": "Bát Xát"}[s] },
		Lateness: 10 * time.Minute,
		Start:    start,
	})
}

func byKind(rows []Row, kind Kind, key string) []Row {
	var out []Row
	for _, r := range rows {
		if r.Kind == kind && r.Key == key {
			out = append(out, r)
		}
	}
	return out
}

// An hour counts each (sensor, metric, second) once; a fast metric gets minute rows, every
// metric its district's hour; a flush hands out only what changed since the last one.
func TestAggregates(t *testing.T) {
	a := testAggregator(h0.Add(-time.Hour))
	for i := range 120 {
		at := h0.Add(time.Duration(i) * 30 * time.Second)
		if !a.Add("a", "water_level", at, float64(i)) {
			t.Fatalf("reading %d not counted", i)
		}
	}
	if a.Add("a", "water_level", h0.Add(30*time.Second), 99) {
		t.Error("a reading of a second already counted was counted again")
	}
	for _, sec := range []time.Duration{3599 * time.Second, 3599*time.Second + 999*time.Millisecond} { // the hour's last second, once
		if counted := a.Add("c", "rainfall", h0.Add(sec), 1); counted != (sec == 3599*time.Second) {
			t.Errorf("second %s counted %t", sec, counted)
		}
	}
	a.Add("b", "water_level", h0.Add(5*time.Minute), -3)
	a.Add("b", "rain_rate", h0.Add(5*time.Minute), 2)
	rows := a.Flush(h0.Add(time.Hour))
	hourA := byKind(rows, SensorHour, "a")
	if len(hourA) != 1 {
		t.Fatalf("hour rows of a: %+v", hourA)
	}
	r := hourA[0]
	if r.Count != 120 || r.Sum != 7140 || r.Min != 0 || r.Max != 119 || r.Last != 119 || !r.LastTime.Equal(h0.Add(3570*time.Second)) || !r.Bucket.Equal(h0) {
		t.Errorf("hour of a: %+v", r)
	}
	if p95 := sketch.Quantile(r.SketchKeys, r.SketchCounts, 0.95); math.Abs(p95-113) > 113*sketch.Accuracy {
		t.Errorf("p95 %g, want 113 within the accuracy", p95)
	}
	if m := byKind(rows, SensorMinute, "a"); len(m) != 60 || m[0].Count != 2 {
		t.Errorf("minute rows of a: %d", len(m))
	}
	if m := byKind(rows, SensorMinute, "b"); len(m) != 1 || m[0].Metric != "water_level" {
		t.Errorf("minute rows of b: %+v (rain_rate is not fast)", m)
	}
	d := byKind(rows, DistrictHour, "Sa Pa")
	if len(d) != 2 {
		t.Fatalf("district rows: %+v", d)
	}
	for _, r := range d {
		if r.Metric == "water_level" && (r.Count != 121 || len(r.Sensors) != 2 || r.Sensors[0] != "a" || r.Min != -3) {
			t.Errorf("Sa Pa's water level: %+v", r)
		}
	}
	if again := a.Flush(h0.Add(time.Hour)); len(again) != 0 {
		t.Errorf("a flush with nothing new: %d rows", len(again))
	}
	a.Add("c", "water_level", h0.Add(59*time.Minute), 1)
	if rows := a.Flush(h0.Add(time.Hour)); len(rows) != 3 { // c's water level: hour, minute, district
		t.Errorf("after one reading: %d rows", len(rows))
	}
}

// An hour the process ran in before its start, and an hour it forgot that a late reading
// reopens, flush nothing until loaded; loading counts the stored readings once with what was
// counted meanwhile.
func TestLoadBeforeFlush(t *testing.T) {
	start := h0.Add(20 * time.Minute)
	a := testAggregator(start)
	a.Reopen([]time.Time{start.Add(-70 * time.Minute), start.Add(-10 * time.Minute)})
	a.Add("a", "water_level", h0.Add(21*time.Minute), 5)
	if rows := a.Flush(start); len(rows) != 0 {
		t.Fatalf("an hour not loaded flushed %d rows", len(rows))
	}
	if got := a.ToLoad(); len(got) != 2 || !got[0].Equal(h0.Add(-time.Hour)) || !got[1].Equal(h0) {
		t.Fatalf("to load: %v", got)
	}
	a.Load(h0, []Point{{"a", "water_level", h0.Add(time.Minute), 1}, {"a", "water_level", h0.Add(21 * time.Minute), 5}})
	a.Load(h0.Add(-time.Hour), nil)
	rows := byKind(a.Flush(start), SensorHour, "a")
	if len(rows) != 1 || rows[0].Count != 2 || rows[0].Sum != 6 {
		t.Fatalf("loaded hour: %+v", rows)
	}
	// The hour is forgotten once it ended more than Lateness ago; a late reading reopens it,
	// to be loaded again.
	a.Flush(h0.Add(71 * time.Minute))
	if a.Hours() != 0 {
		t.Fatalf("%d hours in memory", a.Hours())
	}
	a.Add("a", "water_level", h0.Add(30*time.Minute), 7)
	if rows := a.Flush(h0.Add(72 * time.Minute)); len(rows) != 0 || len(a.ToLoad()) != 1 {
		t.Fatalf("a reopened hour flushed %d rows before it was loaded", len(rows))
	}
	a.Load(h0, []Point{{"a", "water_level", h0.Add(time.Minute), 1}, {"a", "water_level", h0.Add(21 * time.Minute), 5}})
	rows = byKind(a.Flush(h0.Add(72*time.Minute)), SensorHour, "a")
	if len(rows) != 1 || rows[0].Count != 3 || rows[0].Sum != 13 || rows[0].Last != 7 {
		t.Fatalf("reopened hour: %+v", rows)
	}
}

// An old hour stays in memory while readings keep coming for it (a device uploading a
// backlog), and goes once it had nothing new for Lateness; past maxHours, the hours written
// longest ago go first.
func TestOldHoursStayWhileActive(t *testing.T) {
	now := h0.Add(48 * time.Hour)
	a := testAggregator(h0.Add(-time.Hour))
	for i := range 3 {
		a.Add("a", "rainfall", h0.Add(time.Duration(i)*time.Minute), 1)
		a.Flush(now.Add(time.Duration(i) * 5 * time.Minute))
		if a.Hours() != 1 {
			t.Fatalf("flush %d: %d hours in memory, want the active one", i, a.Hours())
		}
	}
	a.Flush(now.Add(26 * time.Minute)) // 16 minutes without a reading
	if a.Hours() != 0 {
		t.Fatalf("%d hours in memory after Lateness without a reading", a.Hours())
	}
	b := testAggregator(h0.Add(-1000 * time.Hour))
	for i := range maxHours + 5 { // a backlog of 53 hours in one flush
		b.Add("a", "rainfall", h0.Add(time.Duration(i)*time.Hour), 1)
	}
	if rows := b.Flush(now); len(rows) != 2*(maxHours+5) || b.Hours() != maxHours {
		t.Fatalf("%d rows, %d hours in memory; want every hour written and %d kept", len(rows), b.Hours(), maxHours)
	}
}

// BenchmarkAdd counts readings shaped like the ingest benchmark's SenML packs: 2,000 gauges of
// a fast metric in 10 districts, each pack 100 readings of one gauge a second apart, values
// 80.00–89.99 m. One op is one reading; a flush every 100,000 readings.
func BenchmarkAdd(b *testing.B) {
	sensors := make([]string, 2000)
	districts := map[string]string{}
	for i := range sensors {
		sensors[i] = "s-" + string(rune('A'+i%26)) + time.Duration(i).String()
		districts[sensors[i]] = "d" + time.Duration(i%10).String()
	}
	a := New(Options{
		Fast:     func(m string) bool { return m == "water_level" },
		District: func(s string) string { return districts[s] },
		Lateness: 15 * time.Minute,
		Start:    h0,
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		pack, k := i/100, i%100
		at := h0.Add(time.Duration((pack/len(sensors))*100+k) * time.Second)
		a.Add(sensors[pack%len(sensors)], "water_level", at, 80+float64((i)%1000)/100)
		if i%100_000 == 99_999 {
			a.Flush(at)
		}
	}
}

// A sensor the catalog does not place counts in the unknown district; a sensor a catalog
// reload moves counts in its new district from then on, its earlier readings staying in the
// old one.
func TestDistrictUnknownAndMoved(t *testing.T) {
	districts := map[string]string{"a": "Sa Pa"}
	a := New(Options{District: func(s string) string { return districts[s] }, Lateness: 10 * time.Minute, Start: h0})
	a.Add("stray", "rainfall", h0, 4)
	a.Add("a", "rainfall", h0, 1)
	districts["a"] = "Bát Xát"
	a.Add("a", "rainfall", h0.Add(time.Minute), 2) // the catalog changed, nobody said so yet
	a.Relocate()
	a.Add("a", "rainfall", h0.Add(2*time.Minute), 3)
	got := map[string]string{}
	for _, r := range a.Flush(h0.Add(time.Hour)) {
		if r.Kind == DistrictHour {
			got[r.Key] = fmt.Sprintf("n=%d sum=%g sensors=%v", r.Count, r.Sum, r.Sensors)
		}
	}
	want := map[string]string{UnknownDistrict: "n=1 sum=4 sensors=[stray]", "Sa Pa": "n=2 sum=3 sensors=[a]", "Bát Xát": "n=1 sum=3 sensors=[a]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("district rows %v, want %v", got, want)
	}
}

// A reading from a clock a little ahead (within ingest.max_future_skew) lands in its own
// minute and hour, which begin after the start and need no loading.
func TestFutureReadingOwnBucket(t *testing.T) {
	now := h0.Add(59*time.Minute + 30*time.Second)
	a := testAggregator(h0)
	a.Add("a", "water_level", now.Add(2*time.Minute), 81) // 01:01:30 of the next hour
	rows := a.Flush(now)
	if len(rows) != 3 || len(a.ToLoad()) != 0 {
		t.Fatalf("rows %+v, hours to load %v", rows, a.ToLoad())
	}
	for _, r := range rows {
		want := h0.Add(time.Hour)
		if r.Kind == SensorMinute {
			want = h0.Add(time.Hour + time.Minute)
		}
		if !r.Bucket.Equal(want) || r.Count != 1 {
			t.Errorf("%v row: bucket %s count %d, want %s", r.Kind, r.Bucket, r.Count, want)
		}
	}
}
