package ingest

import (
	"strings"
	"testing"
	"time"
)

const riverCatalog = `
sensors:
  - {id: up, name: Thượng lưu, kind: river_gauge, metrics: [{name: water_level, unit: m}], location: {lat: 22.6, lon: 103.8}, district: Bát Xát, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}}
  - {id: mid, name: Giữa, kind: river_gauge, metrics: [{name: water_level, unit: m}], location: {lat: 22.5, lon: 103.9}, district: TP Lào Cai, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}, neighbors: [up, down]}
  - {id: down, name: Hạ lưu, kind: river_gauge, metrics: [{name: water_level, unit: m}], location: {lat: 22.3, lon: 104.1}, district: Bảo Thắng, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}}
`

type judged struct {
	p    *Plausibility
	whys map[string]int
}

func newJudged(t *testing.T) *judged {
	t.Helper()
	cat, err := ParseCatalog([]byte(riverCatalog), nil)
	if err != nil {
		t.Fatal(err)
	}
	j := &judged{p: NewPlausibility(func() *Catalog { return cat }), whys: map[string]int{}}
	j.p.OnSuspect = func(why string) { j.whys[why]++ }
	return j
}

func (j *judged) level(sensor string, at time.Time, v float64) (Quality, string) {
	r := Reading{Time: at, Sensor: sensor, Metric: "water_level", Value: v, Unit: "m", Quality: QualityGood}
	why := j.p.Judge(&r)
	return r.Quality, why
}

var t0 = time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)

// A river rising 5 m in a minute is suspect; one rising 2 m over an hour is not; three readings
// that agree at a new level become the new normal (a gauge reset).
func TestPlausibleSteps(t *testing.T) {
	j := newJudged(t)
	for i := range 60 { // 2 m over an hour, a reading a minute
		if q, why := j.level("up", t0.Add(time.Duration(i)*time.Minute), 80+float64(i)/30); q != QualityGood {
			t.Fatalf("minute %d: %s (%s): a steady rise is plausible", i, q, why)
		}
	}
	last := 80 + 59.0/30
	if q, why := j.level("up", t0.Add(60*time.Minute), last+5); q != QualitySuspect || why != SuspectStep {
		t.Errorf("5 m in a minute: %s %q, want suspect step", q, why)
	}
	if q, _ := j.level("up", t0.Add(61*time.Minute), last+0.1); q != QualityGood {
		t.Errorf("back to the river's level after the spike: %s; the spike must not become the reference", q)
	}
	// A gauge re-zeroed 10 m lower: three agreeing readings, then accepted.
	var got []Quality
	for i := range 4 {
		q, _ := j.level("up", t0.Add(time.Duration(62+i)*time.Minute), last-10+float64(i)*0.01)
		got = append(got, q)
	}
	if got[0] != QualitySuspect || got[1] != QualitySuspect || got[2] != QualityGood || got[3] != QualityGood {
		t.Errorf("a new level: %v, want suspect twice then good", got)
	}
	if j.whys[SuspectStep] != 3 {
		t.Errorf("counted %v, want 3 steps", j.whys)
	}
	// Readings hours apart may change more: the step scales with the time between them.
	if q, _ := j.level("down", t0, 80); q != QualityGood {
		t.Fatal(q)
	}
	if q, why := j.level("down", t0.Add(3*time.Hour), 84); q != QualityGood {
		t.Errorf("4 m over three hours: %s %s", q, why)
	}
}

// After a day of readings, a value twice its range beyond it is suspect.
func TestPlausibleHistory(t *testing.T) {
	j := newJudged(t)
	at := t0
	for i := range historyWarmup { // hourly readings between 79.0 and 79.5 m
		at = t0.Add(time.Duration(i) * time.Hour)
		j.level("down", at, 79+float64(i%6)/10)
	}
	if q, why := j.level("down", at.Add(5*time.Hour), 95); q != QualitySuspect || why != SuspectHistory {
		t.Errorf("95 m at a station of 79-79.5 m: %s %q, want suspect history", q, why)
	}
	if q, _ := j.level("down", at.Add(6*time.Hour), 79.9); q != QualityGood {
		t.Errorf("79.9 m: %s", q)
	}
}

// A gauge rising 2 m in an hour while both neighbours stay flat is suspect; with the neighbour
// upstream rising too, it is a flood.
func TestPlausibleNeighbours(t *testing.T) {
	for _, upstreamRises := range []bool{false, true} {
		j := newJudged(t)
		var q Quality
		var why string
		for i := range 70 {
			at := t0.Add(time.Duration(i) * time.Minute)
			up := 80.0
			if upstreamRises && i > 5 {
				up = 80 + float64(i-5)/30
			}
			j.level("up", at, up)
			j.level("down", at, 80)
			mid := 80.0
			if i > 5 {
				mid = 80 + float64(i-5)/30 // 0.033 m/min: under the step limit
			}
			if q, why = j.level("mid", at, mid); q == QualitySuspect {
				break
			}
		}
		switch {
		case !upstreamRises && (q != QualitySuspect || why != SuspectNeighbors):
			t.Errorf("flat neighbours: %s %q, want suspect neighbors", q, why)
		case upstreamRises && q != QualityGood:
			t.Errorf("upstream rising too: %s %q, want good", q, why)
		}
	}
}

// Metrics without a step limit and readings already marked are left alone.
func TestPlausibleLeavesOthers(t *testing.T) {
	j := newJudged(t)
	r := Reading{Time: t0, Sensor: "x", Metric: "rainfall", Value: 500, Quality: QualityGood}
	j.p.Judge(&r)
	r2 := Reading{Time: t0, Sensor: "x", Metric: "water_level", Value: 1, Quality: QualityUnknownSensor}
	j.p.Judge(&r2)
	if r.Quality != QualityGood || r2.Quality != QualityUnknownSensor || len(j.p.series) != 0 {
		t.Errorf("%s %s %d", r.Quality, r2.Quality, len(j.p.series))
	}
}

// Neighbours must be gauges of the catalog, other than the sensor itself.
func TestNeighboursAreChecked(t *testing.T) {
	bad := `
sensors:
  - {id: a, name: A, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 22.5, lon: 103.9}, district: D, owner_unit: flood_control, alarm_levels: {i: 1, ii: 2, iii: 3}, neighbors: [ghost, a, r]}
  - {id: r, name: R, kind: rain_gauge, metrics: [{name: rainfall}], location: {lat: 22.5, lon: 103.9}, district: D, owner_unit: flood_control}
`
	_, err := ParseCatalog([]byte(bad), nil)
	for _, want := range []string{`sensors[0].neighbors[0]: no sensor "ghost"`, "sensors[0].neighbors[1]: a gauge is not its own neighbour", "sensors[0].neighbors[2]: neighbours are gauges"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
}
