package alerts

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

const testSensors = `
sensors:
  - {id: gauge-a, name: Trạm A, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 22.5, lon: 103.9},
     district: TP Lào Cai, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}, interval: 1m}
  - {id: gauge-b, name: Trạm B, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 22.5, lon: 103.9},
     district: Bát Xát, owner_unit: flood_control, alarm_levels: {i: 80, ii: 82, iii: 83.5}, interval: 1m}
  - {id: rain-a, name: Mưa A, kind: rain_gauge, metrics: [{name: rainfall}], location: {lat: 22.5, lon: 103.9},
     district: TP Lào Cai, owner_unit: flood_control, interval: 1m}
  - {id: salt-a, name: Mặn A, kind: salinity, metrics: [{name: salinity}], location: {lat: 10.2, lon: 106.3},
     district: Ba Tri, owner_unit: flood_control, interval: 1m}
  - {id: road-a, name: Nút A, kind: traffic_counter, metrics: [{name: avg_speed}], location: {lat: 22.5, lon: 103.9},
     district: TP Lào Cai, owner_unit: traffic_police, interval: 1m}
`

const testCameras = `
cameras:
  - {id: cam-a, name: Cam A, url: "rtsp://127.0.0.1:1/a", location: {lat: 22.5, lon: 103.9}, district: TP Lào Cai,
     purpose: security, owner_unit: police}
  - {id: cam-t, name: Cam T, url: "rtsp://127.0.0.1:1/t", location: {lat: 22.5, lon: 103.9}, district: TP Lào Cai,
     purpose: traffic, owner_unit: traffic_police}
`

// testRoute sends everything to ioc, floods to flood_control (escalating to police after 15m),
// traffic to traffic_police, security to police.
const testRoute = `
route:
  units: [ioc]
  routes:
    - match: {category: [naturalDisaster, weather]}
      units: [flood_control]
      escalate: [{after: 15m, units: [police]}]
    - match: {category: [traffic]}
      units: [traffic_police]
    - match: {category: [security]}
      units: [police]
`

// t0 is 10:00 in Hà Nội time.
var t0 = time.Date(2026, 8, 3, 3, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	c   *core
	now time.Time
}

// rules wraps each rule body with the fields every rule needs.
func rules(bodies ...string) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i, body := range bodies {
		fmt.Fprintf(&b, "  - name: r%d\n", i)
		if !strings.Contains(body, "category:") {
			body += "\ncategory: naturalDisaster"
		}
		body += "\nsub_category: flood\ntitle: {vi: \"{{.SubjectName}} {{num .Value}}\"}"
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

func newHarness(t *testing.T, file string) *harness {
	t.Helper()
	rf, err := ParseRules([]byte(file))
	if err != nil {
		t.Fatalf("rules:\n%v\n%s", err, file)
	}
	sensors, err := ingest.ParseCatalog([]byte(testSensors), nil)
	if err != nil {
		t.Fatal(err)
	}
	cams, err := streams.ParseCameraCatalog([]byte(testCameras), config.Units, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, c: newCore(rf, sensors, cams, t0), now: t0}
}

func (h *harness) read(sensor, metric string, v float64) {
	h.c.observe([]ingest.Reading{{Time: h.now, Received: h.now, Sensor: sensor, Metric: metric, Value: v}}, h.now)
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.tick(h.now)
}

// take returns the events since the last take as "kind rule subject severity", and the
// notifications as "notify kind subject units".
func (h *harness) take() []string {
	var out []string
	for _, e := range h.c.events {
		s := fmt.Sprintf("%s %s %s %s", e.Kind, e.Alert.Rule, e.Alert.Subject, e.Alert.Severity)
		if e.Alert.AlarmLevel > 0 {
			s += fmt.Sprintf(" L%d", e.Alert.AlarmLevel)
		}
		out = append(out, s)
	}
	for _, n := range h.c.notes {
		out = append(out, fmt.Sprintf("notify %s %s %v", n.Event.Kind, n.Event.Alert.Subject, n.Units))
	}
	h.c.events, h.c.notes = nil, nil
	return out
}

func (h *harness) expect(step string, want ...string) {
	h.t.Helper()
	got := h.take()
	if !slices.Equal(got, want) {
		h.t.Errorf("%s:\n got  %q\n want %q", step, got, want)
	}
}

func TestThresholdForAndHysteresis(t *testing.T) {
	h := newHarness(t, rules(`kind: threshold
metric: salinity
threshold: 4
clear: 3.5
for: 10m
severity: high`)+testRoute)
	h.read("salt-a", "salinity", 4.2)
	h.expect("over the threshold: pending", "pending r0 salt-a high")
	h.advance(5 * time.Minute)
	h.expect("5 min: still pending")
	h.read("salt-a", "salinity", 3.8) // under the threshold, above the clear level
	h.advance(5 * time.Minute)
	h.expect("10 min: fires", "firing r0 salt-a high", "notify firing salt-a [flood_control ioc]")
	h.read("salt-a", "salinity", 3.6)
	h.expect("above the clear level: stays")
	h.read("salt-a", "salinity", 3.4)
	h.expect("below the clear level: resolves", "resolved r0 salt-a high", "notify resolved salt-a [flood_control ioc]")

	h.read("salt-a", "salinity", 4.5)
	h.advance(time.Minute)
	h.read("salt-a", "salinity", 3.0)
	h.expect("a blip shorter than for never fires", "pending r0 salt-a high", "resolved r0 salt-a high")
}

func TestThresholdBelowAndClearFor(t *testing.T) {
	h := newHarness(t, rules(`kind: window
metric: avg_speed
window: 5m
agg: avg
op: "<"
threshold: 15
clear: 20
clear_for: 2m
severity: medium
category: traffic`)+testRoute)
	for _, v := range []float64{30, 10, 5} { // averages 30, 20, 15: not yet under 15
		h.read("road-a", "avg_speed", v)
		h.now = h.now.Add(time.Minute)
	}
	h.expect("average 15 is not under 15")
	h.read("road-a", "avg_speed", 5) // average 12.5
	h.expect("jam", "firing r0 road-a medium", "notify firing road-a [ioc traffic_police]")
	h.now = h.now.Add(5 * time.Minute)
	h.read("road-a", "avg_speed", 40) // the window now holds only 40
	h.expect("cleared, clear_for running")
	h.advance(time.Minute)
	h.expect("1 min of 2")
	h.advance(time.Minute)
	h.expect("clear_for passed", "resolved r0 road-a medium", "notify resolved road-a [ioc traffic_police]")
}

func TestAlarmLevels(t *testing.T) {
	h := newHarness(t, rules(`kind: alarm_levels
metric: water_level
hysteresis: 0.1
levels:
  i: {severity: medium, risk_level: 1}
  ii: {severity: high, risk_level: 2}
  iii: {severity: critical, risk_level: 3}`)+testRoute)
	steps := []struct {
		v    float64
		want []string
	}{
		{79.9, nil},
		{80.2, []string{"firing r0 gauge-a medium L1", "notify firing gauge-a [flood_control ioc]"}},
		{82.1, []string{"updated r0 gauge-a high L2", "notify updated gauge-a [flood_control ioc]"}},
		{83.6, []string{"updated r0 gauge-a critical L3", "notify updated gauge-a [flood_control ioc]"}},
		{83.45, nil}, // within the hysteresis of III
		{83.3, []string{"updated r0 gauge-a high L2", "notify updated gauge-a [flood_control ioc]"}},
		{80.5, []string{"updated r0 gauge-a medium L1", "notify updated gauge-a [flood_control ioc]"}},
		{79.95, nil},
		{79.85, []string{"resolved r0 gauge-a medium L1", "notify resolved gauge-a [flood_control ioc]"}},
	}
	var id string
	for _, s := range steps {
		h.read("gauge-a", "water_level", s.v)
		if len(h.c.events) > 0 {
			if id == "" {
				id = h.c.events[0].Alert.ID
			}
			if got := h.c.events[0].Alert.ID; got != id {
				t.Errorf("%g m: alert %s, want the same alert %s throughout", s.v, got, id)
			}
		}
		h.expect(fmt.Sprintf("%g m", s.v), s.want...)
	}
	// the title follows the level
	h.read("gauge-b", "water_level", 82.5)
	if e := h.c.events[0]; e.Alert.Title.VI != "Trạm B 82,5" || e.Alert.RiskLevel != 2 || e.Alert.District != "Bát Xát" {
		t.Errorf("alert = %+v", e.Alert)
	}
}

// TestAlarmLevelBoundaries checks the engine at each báo động level exactly and just under
// it: reaching a level is being at it, as the map shows (ingest.AlarmLevels.Level).
func TestAlarmLevelBoundaries(t *testing.T) {
	file := rules(`kind: alarm_levels
metric: water_level
levels:
  i: {severity: medium}
  ii: {severity: high}
  iii: {severity: critical}`) + testRoute
	levels := &ingest.AlarmLevels{I: 80, II: 82, III: 83.5}
	for _, tc := range []struct {
		v    float64
		want []string
	}{
		{79.99, nil},
		{80, []string{"firing r0 gauge-a medium L1", "notify firing gauge-a [flood_control ioc]"}},
		{82, []string{"firing r0 gauge-a high L2", "notify firing gauge-a [flood_control ioc]"}},
		{81.99, []string{"firing r0 gauge-a medium L1", "notify firing gauge-a [flood_control ioc]"}},
		{83.5, []string{"firing r0 gauge-a critical L3", "notify firing gauge-a [flood_control ioc]"}},
		{83.49, []string{"firing r0 gauge-a high L2", "notify firing gauge-a [flood_control ioc]"}},
	} {
		h := newHarness(t, file)
		h.read("gauge-a", "water_level", tc.v)
		h.expect(fmt.Sprintf("%g m", tc.v), tc.want...)
		if l := levels.Level(tc.v); (l == 0) != (len(tc.want) == 0) || (l > 0 && !strings.HasSuffix(tc.want[0], fmt.Sprintf("L%d", l))) {
			t.Errorf("%g m: the map's level %d disagrees with the engine's %v", tc.v, l, tc.want)
		}
	}
}

// A tidal gauge (the catalog marks it) under a semi-diurnal spring tide of 3 m range moves
// 0.75 m an hour by itself: the rate rule looks past the tide (the rise beyond the same hour a
// lunar day earlier), so the tide alone raises nothing and a flood on top of it fires. The
// same tide judged raw fires on every flood tide.
func TestRateOnATidalGauge(t *testing.T) {
	const catalog = `
sensors:
  - {id: delta-a, name: Trạm An Thuận, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 10.04, lon: 106.57},
     district: Ba Tri, owner_unit: flood_control, alarm_levels: {i: 4, ii: 4.5, iii: 5}, interval: 10m, tidal: true}
`
	sensors, err := ingest.ParseCatalog([]byte(catalog), nil)
	if err != nil {
		t.Fatal(err)
	}
	// a spring tide: amplitude 1.5 m, period 12 h 25 min, around a mean level of 0.2 m
	tide := func(at time.Time) float64 {
		h := at.Sub(t0).Hours()
		return 0.2 + 1.5*math.Sin(2*math.Pi*h/12.42)
	}
	play := func(mode string, hours float64, flood func(h float64) float64) []string {
		file := rules("kind: rate\nmetric: water_level\nper: 1h\nthreshold: 0.5\nclear: 0.3\nseverity: high" + mode)
		h := newHarness(t, file+testRoute)
		h.c.setCatalogs(sensors, nil, h.now)
		var fired []string
		for i := 0; float64(i)*10 < hours*60; i++ {
			hrs := float64(i) / 6
			h.read("delta-a", "water_level", tide(h.now)+flood(hrs))
			for _, e := range h.take() {
				if strings.HasPrefix(e, "firing") {
					fired = append(fired, fmt.Sprintf("%.1f h: %s", hrs, e))
				}
			}
			h.advance(10 * time.Minute)
		}
		return fired
	}
	noFlood := func(float64) float64 { return 0 }
	if fired := play("", 72, noFlood); len(fired) > 0 {
		t.Errorf("three days of spring tide, de-tided: %v; want no alert", fired)
	}
	if fired := play("\ntidal: raw", 72, noFlood); len(fired) == 0 {
		t.Error("three days of spring tide judged raw raised nothing: the tide alone is not as fast as it should be here")
	}
	// a flood from hour 40: the level rises 0.8 m an hour for four hours on top of the tide
	flood := func(h float64) float64 { return 0.8 * min(max(h-40, 0), 4) }
	fired := play("", 48, flood)
	if len(fired) != 1 || !strings.Contains(fired[0], "firing r0 delta-a high") {
		t.Errorf("a flood on top of the tide: %v; want one alert", fired)
	} else if at, _ := strconv.ParseFloat(strings.Fields(fired[0])[0], 64); at < 40 || at > 42 {
		t.Errorf("the flood fired at %s, want within two hours of its start at 40 h", fired[0])
	}
	if fired := play("\ntidal: skip", 48, flood); len(fired) > 0 {
		t.Errorf("tidal: skip fired %v", fired)
	}
}

func TestRate(t *testing.T) {
	h := newHarness(t, rules(`kind: rate
metric: water_level
per: 1h
threshold: 0.5
clear: 0.3
severity: high`)+testRoute)
	level := 78.0
	for i := 0; i < 6; i++ { // 0.1 m per 10 min = 0.6 m/h, but only from 30 min of history
		h.read("gauge-a", "water_level", level)
		level += 0.1
		h.now = h.now.Add(10 * time.Minute)
	}
	if got := h.take(); len(got) != 2 || got[0] != "firing r0 gauge-a high" {
		t.Fatalf("rising 0.6 m/h: %q", got)
	}
	for i := 0; i < 7; i++ { // flat: the rate over the hour falls to 0
		h.read("gauge-a", "water_level", level)
		h.now = h.now.Add(10 * time.Minute)
	}
	got := h.take()
	if len(got) != 2 || got[0] != "resolved r0 gauge-a high" {
		t.Fatalf("flat: %q", got)
	}
}

func TestRainWindowSums(t *testing.T) {
	h := newHarness(t, rules(`kind: window
metric: rainfall
window: 1h
agg: sum
threshold: 50
clear: 30
severity: high
category: weather`, `kind: window
metric: rainfall
window: 24h
agg: sum
steps:
  - {threshold: 100, severity: high}
  - {threshold: 200, severity: critical}`)+testRoute)
	for i := 0; i < 6; i++ { // 6 × 10 mm in 50 minutes
		h.read("rain-a", "rainfall", 10)
		h.now = h.now.Add(10 * time.Minute)
	}
	h.expect("60 mm in an hour", "firing r0 rain-a high", "notify firing rain-a [flood_control ioc]")
	for i := 0; i < 6; i++ { // the next hour: 5 mm each 10 min, 1 h sum falls to 30
		h.read("rain-a", "rainfall", 5)
		h.now = h.now.Add(10 * time.Minute)
	}
	h.expect("second hour: 90 mm in 24 h", "resolved r0 rain-a high", "notify resolved rain-a [flood_control ioc]")
	for i := 0; i < 10; i++ { // the 24 h sum passes 100, then reaches 210
		h.read("rain-a", "rainfall", 12)
		h.now = h.now.Add(10 * time.Minute)
	}
	got := h.take()
	for _, want := range []string{"firing r1 rain-a high", "updated r1 rain-a critical"} {
		if !slices.Contains(got, want) {
			t.Errorf("210 mm in 24 h: %q lacks %q", got, want)
		}
	}
	// a late reading inside the window counts; one older than the window is refused
	var unevaluable []string
	h.c.uneval = func(rule, reason string) { unevaluable = append(unevaluable, rule+":"+reason) }
	h.c.observe([]ingest.Reading{{Time: h.now.Add(-25 * time.Hour), Sensor: "rain-a", Metric: "rainfall", Value: 1}}, h.now)
	if !slices.Equal(unevaluable, []string{"r0:out_of_order", "r1:out_of_order"}) {
		t.Errorf("unevaluable = %q", unevaluable)
	}
}

func TestAbsence(t *testing.T) {
	h := newHarness(t, rules(`kind: absence
select: {kinds: [river_gauge]}
severity: low
category: infrastructure`)+testRoute)
	h.advance(2 * time.Minute)
	h.read("gauge-a", "water_level", 79)
	h.advance(2 * time.Minute) // 4 min since start: gauge-b never spoke (3 × 1m interval)
	h.expect("gauge-b silent", "firing r0 gauge-b low", "notify firing gauge-b [ioc]")
	h.advance(2 * time.Minute)
	h.expect("gauge-a silent 4 min", "firing r0 gauge-a low", "notify firing gauge-a [ioc]")
	h.read("gauge-a", "water_level", 79)
	h.advance(time.Second)
	h.expect("gauge-a back", "resolved r0 gauge-a low", "notify resolved gauge-a [ioc]")
}

func TestCameraStateAndEvents(t *testing.T) {
	h := newHarness(t, rules(`kind: camera_state
states: [offline]
for: 2m
severity: medium
category: security`, `kind: camera_event
select: {purposes: [security]}
events: [intrusion]
classes: [person]
hours: "22:00-05:00"
resolve_after: 10m
severity: high
category: security`, `kind: camera_event
select: {purposes: [traffic]}
events: [line_crossing]
window: 1m
count: 3
severity: medium
category: traffic`, `kind: camera_event
events: [line_crossing]
match: "*wrong*"
severity: high
category: traffic`)+testRoute)
	status := func(cam string, s streams.State) {
		h.c.observeCameras([]streams.CameraStatus{{Time: h.now, Camera: cam, State: s}}, nil, h.now)
	}
	event := func(cam string, kind streams.EventKind, class, rule string, at time.Time) {
		h.c.observeCameras(nil, []streams.CameraEvent{{Time: at, Received: at, Camera: cam, Kind: kind, ObjectClass: class, Rule: rule, State: "true"}}, h.now)
	}
	status("cam-a", streams.StateOffline)
	h.advance(time.Minute)
	status("cam-a", streams.StateOnline)
	h.expect("offline for a minute only", "pending r0 cam-a medium", "resolved r0 cam-a medium")
	status("cam-a", streams.StateOffline)
	h.advance(2 * time.Minute)
	h.expect("offline 2 min", "pending r0 cam-a medium", "firing r0 cam-a medium", "notify firing cam-a [ioc police]")

	event("cam-a", streams.EventIntrusion, "person", "zone1", h.now) // 10:03 local: day
	h.expect("a person by day")
	night := time.Date(2026, 8, 3, 23, 30, 0, 0, Local)
	event("cam-a", streams.EventIntrusion, "vehicle", "zone1", night)
	h.expect("a vehicle at night")
	event("cam-a", streams.EventIntrusion, "person", "zone1", night)
	h.expect("a person at night", "firing r1 cam-a high", "notify firing cam-a [ioc police]")
	h.advance(11 * time.Minute)
	h.expect("no event for 10 min: resolves", "resolved r1 cam-a high", "notify resolved cam-a [ioc police]")

	for i := 0; i < 3; i++ {
		event("cam-t", streams.EventLineCrossing, "vehicle", "line1", h.now.Add(time.Duration(i)*time.Second))
	}
	h.expect("3 crossings in a minute is not over 3")
	event("cam-t", streams.EventLineCrossing, "vehicle", "line1", h.now.Add(4*time.Second))
	h.expect("the 4th", "firing r2 cam-t medium", "notify firing cam-t [ioc traffic_police]")
	event("cam-t", streams.EventLineCrossing, "vehicle", "wrong_way_lane2", h.now)
	h.expect("wrong way", "firing r3 cam-t high", "notify firing cam-t [ioc traffic_police]")
}

func TestCompositeAndInhibition(t *testing.T) {
	h := newHarness(t, rules(`kind: threshold
metric: rainfall
threshold: 20
severity: high
category: weather`, `kind: alarm_levels
metric: water_level
levels: {i: {severity: medium}, ii: {severity: high}, iii: {severity: critical}}`, `kind: composite
all: [r0, r1]
window: 1h
severity: critical`)+testRoute+`
inhibit:
  - source: {rule: [r2]}
    target: {rule: [r1]}
    equal: [district]
`)
	h.read("rain-a", "rainfall", 25)
	h.advance(time.Second)
	h.expect("rain", "firing r0 rain-a high", "notify firing rain-a [flood_control ioc]")
	h.read("gauge-b", "water_level", 81) // another district: no composite
	h.advance(time.Second)
	h.expect("river elsewhere", "firing r1 gauge-b medium L1", "notify firing gauge-b [flood_control ioc]")
	h.read("gauge-a", "water_level", 81)
	h.advance(time.Second)
	got := h.take()
	want := []string{"firing r1 gauge-a medium L1", "firing r2 TP Lào Cai critical", "notify firing gauge-a [flood_control ioc]", "notify firing TP Lào Cai [flood_control ioc]"}
	if !slices.Equal(got, want) {
		t.Fatalf("rain and river in one district:\n got  %q\n want %q", got, want)
	}
	h.read("gauge-a", "water_level", 82.5) // the gauge's upgrade is covered by the district alert
	h.expect("inhibited upgrade", "updated r1 gauge-a high L2")
	if m := h.c.alerts[fingerprint("r1", SourceSensor, "gauge-a")].Muted; !strings.HasPrefix(m, "inhibited by ") {
		t.Errorf("muted = %q", m)
	}
	h.read("gauge-b", "water_level", 82.5) // Bát Xát has no district alert
	h.expect("other district", "updated r1 gauge-b high L2", "notify updated gauge-b [flood_control ioc]")
	h.read("rain-a", "rainfall", 0)
	h.advance(time.Second)
	h.expect("rain stops", "resolved r0 rain-a high", "notify resolved rain-a [flood_control ioc]")
	h.advance(61 * time.Minute)
	got = h.take()
	if !slices.Contains(got, "resolved r2 TP Lào Cai critical") {
		t.Errorf("an hour after the rain: %q", got)
	}
}

func TestLifecycleAckEscalationSilence(t *testing.T) {
	h := newHarness(t, rules(`kind: alarm_levels
metric: water_level
levels: {i: {severity: medium}, ii: {severity: high}, iii: {severity: critical}}`)+testRoute)
	h.read("gauge-a", "water_level", 80.5)
	got := h.take()
	id := h.c.alerts[fingerprint("r0", SourceSensor, "gauge-a")].ID
	if len(got) != 2 {
		t.Fatalf("fire: %q", got)
	}
	h.advance(14 * time.Minute)
	h.expect("14 min: no escalation yet")
	h.advance(time.Minute)
	h.expect("15 min unacknowledged: escalates", "escalated r0 gauge-a medium L1", "notify escalated gauge-a [flood_control ioc police]")
	l := h.c.byID[id]
	if l.Escalation != 1 {
		t.Errorf("escalation = %d", l.Escalation)
	}
	// acknowledge; an upgrade needs a new acknowledgement
	l.State, l.AckedAt = StateAcknowledged, h.now
	h.c.emit(l, EventAcknowledged, "op1", Text{}, h.now)
	h.expect("ack", "acknowledged r0 gauge-a medium L1")
	h.read("gauge-a", "water_level", 82.1)
	h.expect("upgrade", "updated r0 gauge-a high L2", "notify updated gauge-a [flood_control ioc police]")
	if l.State != StateFiring {
		t.Errorf("after an upgrade the alert is %s, want firing again", l.State)
	}
	// a silence mutes; when it ends the alert goes out
	h.c.silences["s1"] = &Silence{ID: "s1", Matchers: Matchers{"subject": {"gauge-b"}}, StartsAt: h.now, EndsAt: h.now.Add(10 * time.Minute)}
	h.read("gauge-b", "water_level", 80.5)
	h.expect("silenced", "firing r0 gauge-b medium L1")
	h.advance(11 * time.Minute)
	got = h.take()
	if !slices.Equal(got, []string{"notify firing gauge-b [flood_control ioc]"}) {
		t.Errorf("after the silence: %q", got)
	}
	// an operator resolves while the level holds: no new alert until it worsens
	h.c.closed[l.Fingerprint] = l.Severity
	h.c.resolve(l, h.now, "op1", Text{VI: "đã xử lý"})
	h.take()
	h.read("gauge-a", "water_level", 82.2)
	h.expect("closed by hand, same level")
	h.read("gauge-a", "water_level", 83.6)
	got = h.take()
	if len(got) == 0 || got[0] != "firing r0 gauge-a critical L3" {
		t.Errorf("worse after a hand resolve: %q", got)
	}
}

// riverAlertBeforeRestart fires gauge-a's alarm_levels alert at báo động II in one engine and
// returns the rule file and the alert's latest event, as a restart would read it back.
func riverAlertBeforeRestart(t *testing.T) (string, Event) {
	file := rules(`kind: alarm_levels
metric: water_level
levels: {i: {severity: medium}, ii: {severity: high}, iii: {severity: critical}}`) + testRoute
	h := newHarness(t, file)
	h.read("gauge-a", "water_level", 82.5)
	return file, h.c.events[len(h.c.events)-1]
}

func TestRestoreDoesNotRenotify(t *testing.T) {
	file, last := riverAlertBeforeRestart(t)
	h2 := newHarness(t, file)
	h2.c.restore([]Event{last}, h2.now)
	h2.read("gauge-a", "water_level", 82.4)
	h2.expect("same level after a restart: nothing new")
	h2.read("gauge-a", "water_level", 83.6)
	h2.expect("worse after a restart: the same alert updates", "updated r0 gauge-a critical L3", "notify updated gauge-a [flood_control ioc]")
	if a := h2.c.alerts[last.Alert.Fingerprint]; a == nil || a.ID != last.Alert.ID || a.Seq != 2 {
		t.Errorf("restored alert = %+v", a)
	}
}

// An alert whose sensor or camera has left the catalog (restored at start, or after a reload)
// resolves: nothing would ever judge it again.
func TestAlertOfASubjectGoneFromTheCatalogResolves(t *testing.T) {
	file, last := riverAlertBeforeRestart(t)
	gone := last
	gone.Alert.Subject, gone.Alert.Fingerprint, gone.Alert.ID = "gauge-removed", "fp-removed", "id-removed"

	h2 := newHarness(t, file)
	h2.c.restore([]Event{last, gone}, h2.now)
	h2.expect("restored: the removed gauge's alert resolves", "resolved r0 gauge-removed high L2", "notify resolved gauge-removed [flood_control ioc]")
	if len(h2.c.alerts) != 1 || h2.c.alerts[last.Alert.Fingerprint] == nil {
		t.Fatalf("live alerts after the restore: %v; want gauge-a's only", h2.c.alerts)
	}

	sensors, err := ingest.ParseCatalog([]byte(strings.Replace(testSensors, "id: gauge-a,", "id: gauge-z,", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	h2.c.setCatalogs(sensors, h2.c.cameras, h2.now)
	h2.expect("gauge-a left the catalog on a reload", "resolved r0 gauge-a high L2", "notify resolved gauge-a [flood_control ioc]")
}

func TestRoutingTree(t *testing.T) {
	rf, err := ParseRules(DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		a    Alert
		want []string
	}{
		{Alert{Category: "naturalDisaster", Source: SourceSensor}, []string{"flood_control", "ioc"}},
		{Alert{Category: "traffic", Source: SourceSensor}, []string{"ioc", "traffic_police"}},
		{Alert{Category: "traffic", Source: SourceCamera}, []string{"ioc", "police", "traffic_police"}},
		{Alert{Category: "fireAndEmergency"}, []string{"fire_police", "ioc"}},
		{Alert{Category: "infrastructure"}, []string{"ioc"}},
	}
	for _, c := range cases {
		if got := rf.Route.route(&c.a).units; !slices.Equal(got, c.want) {
			t.Errorf("%s/%s: units %v, want %v", c.a.Category, c.a.Source, got, c.want)
		}
	}
}

func TestRuleFileProblems(t *testing.T) {
	bad := `rules:
  - name: Bad Name
    kind: threshold
    metric: salinity
    severity: huge
    category: floods
    sub_category: x
    title: {vi: "{{.Nope"}
  - name: a
    kind: alarm_levels
    metric: water_level
    category: naturalDisaster
    sub_category: flood
    title: {vi: t}
  - name: c
    kind: composite
    all: [a, missing]
    window: 1h
    severity: high
    category: naturalDisaster
    sub_category: flood
    title: {vi: t}
  - name: e
    kind: camera_event
    events: [teleport]
    hours: "25:00-01:00"
    severity: high
    category: security
    sub_category: intrusion
    title: {vi: t}
route:
  units: [mayor]
inhibit:
  - source: {rule: [a]}
    target: {colour: [red]}
`
	_, err := ParseRules([]byte(bad))
	if err == nil {
		t.Fatal("a bad rule file was accepted")
	}
	for _, want := range []string{
		"rules[0].name:", "rules[0].severity:", "rules[0].category:", "rules[0].title.vi:", "rules[0].threshold:",
		"rules[1].levels:", "rules[2].all[1]: no rule named \"missing\"", "rules[3].events[0]:", "rules[3].hours:",
		"route.units[0]: unknown unit \"mayor\"", "inhibit[0].target.colour:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if _, err := ParseRules([]byte("rules: []\nroute: {units: [ioc]}\nbogus: 1\n")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestDefaultRulesAreTheExample(t *testing.T) {
	if _, err := ParseRules(DefaultRules); err != nil {
		t.Fatalf("built-in rules: %v", err)
	}
	rf, err := LoadRules("../deploy/rules/rules.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := ParseRules(DefaultRules)
	if len(rf.Rules) != len(def.Rules) {
		t.Errorf("deploy/rules/rules.example.yaml differs from alerts/rules.default.yaml: copy one over the other")
	}
}

// An alert raised by a suspect reading is marked suspect; a plausible reading that keeps it
// clears the mark, said as an update.
func TestSuspectAlert(t *testing.T) {
	h := newHarness(t, rules(`kind: alarm_levels
metric: water_level
levels:
  i: {severity: medium, risk_level: 1}
  ii: {severity: high, risk_level: 2}
  iii: {severity: critical, risk_level: 3}`)+testRoute)
	h.c.observe([]ingest.Reading{{Time: h.now, Received: h.now, Sensor: "gauge-a", Metric: "water_level", Value: 82.5, Quality: ingest.QualitySuspect}}, h.now)
	h.expect("a suspect reading over II", "firing r0 gauge-a high L2", "notify firing gauge-a [flood_control ioc]")
	a := h.c.alerts[fingerprint("r0", SourceSensor, "gauge-a")]
	if !a.Suspect {
		t.Fatal("the alert of a suspect reading is not marked suspect")
	}
	h.advance(time.Minute)
	h.c.observe([]ingest.Reading{{Time: h.now, Received: h.now, Sensor: "gauge-a", Metric: "water_level", Value: 82.6, Quality: ingest.QualitySuspect}}, h.now)
	h.expect("another suspect reading")
	h.advance(time.Minute)
	h.c.observe([]ingest.Reading{{Time: h.now, Received: h.now, Sensor: "gauge-a", Metric: "water_level", Value: 82.7, Quality: ingest.QualityGood}}, h.now)
	h.expect("a plausible reading", "updated r0 gauge-a high L2", "notify updated gauge-a [flood_control ioc]")
	if a.Suspect {
		t.Error("still suspect after a plausible reading")
	}
	h.advance(time.Minute)
	h.c.observe([]ingest.Reading{{Time: h.now, Received: h.now, Sensor: "gauge-a", Metric: "water_level", Value: 82.8, Quality: ingest.QualitySuspect}}, h.now)
	h.expect("a suspect reading of a confirmed alert")
	if a.Suspect {
		t.Error("a confirmed alert turned suspect again")
	}
}
