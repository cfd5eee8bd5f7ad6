package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
)

// benchCatalog makes n sensors, a quarter each river gauges (with alarm levels), rain gauges,
// salinity stations and traffic counters, over 10 districts.
func benchSensors(b *testing.B, n int) *ingest.Catalog {
	b.Helper()
	kinds := []string{
		"kind: river_gauge, metrics: [{name: water_level}], alarm_levels: {i: 85, ii: 87, iii: 89}",
		"kind: rain_gauge, metrics: [{name: rainfall}]",
		"kind: salinity, metrics: [{name: salinity}]",
		"kind: traffic_counter, metrics: [{name: avg_speed}]",
	}
	var s strings.Builder
	s.WriteString("sensors:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&s, "  - {id: s%d, name: S%d, %s, location: {lat: 21.5, lon: 105.5}, district: d%d, owner_unit: flood_control, interval: 1m}\n",
			i, i, kinds[i%4], i%10)
	}
	cat, err := ingest.ParseCatalog([]byte(s.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	return cat
}

// benchRules is the built-in rule file with its rules repeated copies times (renamed).
func benchRules(b *testing.B, copies int) *RuleFile {
	b.Helper()
	base, err := ParseRules(DefaultRules)
	if err != nil {
		b.Fatal(err)
	}
	rf := &RuleFile{Route: base.Route}
	for c := 0; c < copies; c++ {
		for _, r := range base.Rules {
			if r.Kind == "composite" {
				continue // they name the base rules
			}
			r.Name = fmt.Sprintf("%s_%d", r.Name, c)
			rf.Rules = append(rf.Rules, r)
		}
	}
	return rf
}

// BenchmarkEvaluate measures the engine core's evaluation of readings (every rule that selects
// a reading's sensor and metric, windows, hysteresis), without I/O: rules × sensors. Values stay
// below every threshold, the steady state of a province on a calm day.
// Run: go test -run '^$' -bench Evaluate ./alerts
func BenchmarkEvaluate(b *testing.B) {
	for _, copies := range []int{1, 5} {
		for _, sensors := range []int{200, 2000, 20000} {
			rf := benchRules(b, copies)
			b.Run(fmt.Sprintf("rules=%d/sensors=%d", len(rf.Rules), sensors), func(b *testing.B) {
				cat := benchSensors(b, sensors)
				c := newCore(rf, cat, nil, t0)
				metrics := []string{"water_level", "rainfall", "salinity", "avg_speed"}
				values := []float64{80, 0.5, 0.3, 40}
				ids := make([]string, sensors)
				for i := range ids {
					ids[i] = fmt.Sprintf("s%d", i)
				}
				batch := make([]ingest.Reading, 1000)
				now := t0
				b.ResetTimer()
				for done := 0; done < b.N; done += len(batch) {
					batch = batch[:min(cap(batch), b.N-done)]
					now = now.Add(time.Second)
					for k := range batch {
						s := (done + k) % sensors
						batch[k] = ingest.Reading{Time: now, Received: now, Sensor: ids[s], Metric: metrics[s%4], Value: values[s%4]}
					}
					c.observe(batch, now)
					c.events, c.notes = c.events[:0], c.notes[:0]
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
			})
		}
	}
}
