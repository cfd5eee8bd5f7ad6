package provincesim

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// BuiltinScenarios is the built-in scenario file (YAML); deploy/sim documents the format.
//
//go:embed scenarios.yaml
var BuiltinScenarios []byte

// Scenario is a scripted story played on a province: what happens when, and the alerts it
// must raise.
type Scenario struct {
	Name        string `yaml:"name"`
	Province    string `yaml:"province"`
	Title       Text   `yaml:"title"`
	Description Text   `yaml:"description"`
	// Start is the simulated time the scenario begins (it fixes the season).
	Start time.Time `yaml:"start"`
	// Duration is how long it runs, recovery included.
	Duration time.Duration `yaml:"duration"`
	// Speed is the time-acceleration factor it is played at unless the caller says otherwise.
	Speed float64 `yaml:"speed"`
	// Interval is every sensor's reporting interval (simulated time) while it plays.
	Interval time.Duration `yaml:"interval"`
	Events   []Event       `yaml:"events"`
	// Expect lists every alert the scenario raises: no other may fire.
	Expect []Expectation `yaml:"expect"`
	// Incidents lists every incident its alerts open with the built-in incident file: no
	// other may open.
	Incidents []IncidentExpectation `yaml:"incidents"`
}

// IncidentExpectation is an incident a scenario must open: the correlation and key that
// open it, its highest severity, and how many of the scenario's rule and subject pairs its
// alerts are.
type IncidentExpectation struct {
	Correlation string `yaml:"correlation"`
	Key         string `yaml:"key"`
	Severity    string `yaml:"severity"`
	Alerts      int    `yaml:"alerts"`
}

// Event is one thing that happens during a scenario, from At for For, rising and falling over
// Ramp. Exactly one of its kinds is set.
type Event struct {
	At   time.Duration `yaml:"at"`
	For  time.Duration `yaml:"for"`
	Ramp time.Duration `yaml:"ramp"`

	Rain     *RainEvent     `yaml:"rain"`
	Salinity *SalinityEvent `yaml:"salinity"`
	Traffic  *TrafficEvent  `yaml:"traffic"`
	Outage   *OutageEvent   `yaml:"outage"`
	Camera   *CameraEvent   `yaml:"camera"`
	Fire     *FireEvent     `yaml:"fire"`

	start time.Time
}

// RainEvent is rain over districts, Peak mm/h at its height.
type RainEvent struct {
	Districts []string `yaml:"districts"`
	Peak      float64  `yaml:"peak"`
}

func (r *RainEvent) covers(district string) bool { return slices.Contains(r.Districts, district) }

// SalinityEvent is saltwater pushing inland: Rise is added to the dry-season weight (1 is the
// height of an ordinary dry season) in districts (all when empty).
type SalinityEvent struct {
	Districts []string `yaml:"districts"`
	Rise      float64  `yaml:"rise"`
}

func (r *SalinityEvent) covers(district string) bool {
	return len(r.Districts) == 0 || slices.Contains(r.Districts, district)
}

// TrafficEvent is a jam at a traffic counter: speed falls to Speed km/h.
type TrafficEvent struct {
	Sensor string  `yaml:"sensor"`
	Speed  float64 `yaml:"speed"`
}

// OutageEvent silences a LoRaWAN gateway's devices, or listed sensors.
type OutageEvent struct {
	Gateway string   `yaml:"gateway"`
	Sensors []string `yaml:"sensors"`
}

func (o *OutageEvent) silences(s *simSensor) bool {
	return (o.Gateway != "" && s.Gateway == o.Gateway) || slices.Contains(o.Sensors, s.ID)
}

// CameraEvent puts a fault on a camera: refuse (offline), hang or stall.
type CameraEvent struct {
	ID    string `yaml:"id"`
	Fault string `yaml:"fault"`
}

// FireEvent sets off a fire alarm panel.
type FireEvent struct {
	Sensor string `yaml:"sensor"`
}

// Expectation is an alert a scenario must raise: the rule, its subject (sensor, camera or
// district), the units it must reach, the highest severity it reaches, and whether it must
// be resolved by the end.
type Expectation struct {
	Rule     string   `yaml:"rule"`
	Subject  string   `yaml:"subject"`
	Units    []string `yaml:"units"`
	Severity string   `yaml:"severity"`
	Resolved *bool    `yaml:"resolved"`
}

// MustResolve tells whether the alert must be resolved by the scenario's end (the default).
func (x Expectation) MustResolve() bool { return x.Resolved == nil || *x.Resolved }

// shape is how strongly the event holds at t: 0 outside it, 1 at its height, ramping in and
// out over Ramp.
func (e *Event) shape(t time.Time) float64 {
	if e.start.IsZero() {
		return 0
	}
	in, out := t.Sub(e.start), e.start.Add(e.For).Sub(t)
	if in < 0 || out < 0 {
		return 0
	}
	if e.Ramp <= 0 {
		return 1
	}
	return min(1, in.Hours()/e.Ramp.Hours(), out.Hours()/e.Ramp.Hours())
}

// End is the simulated time the event ends, once the scenario is playing.
func (e *Event) End() time.Time { return e.start.Add(e.For) }

// Begin is the simulated time the event starts, once the scenario is playing.
func (e *Event) Begin() time.Time { return e.start }

// LoadScenarios reads a scenario file; an empty path reads the built-in one.
func LoadScenarios(path string) ([]Scenario, error) {
	raw := BuiltinScenarios
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("scenarios: %w", err)
		}
	}
	return ParseScenarios(raw)
}

// ParseScenarios reads scenarios from YAML and checks what it can without the province; each
// problem is named by its path.
func ParseScenarios(raw []byte) ([]Scenario, error) {
	var doc struct {
		Scenarios []Scenario `yaml:"scenarios"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	var probs []string
	add := func(path, format string, args ...any) { probs = append(probs, path+": "+fmt.Sprintf(format, args...)) }
	names := map[string]bool{}
	for i := range doc.Scenarios {
		sc := &doc.Scenarios[i]
		path := fmt.Sprintf("scenarios[%d]", i)
		switch {
		case sc.Name == "" || names[sc.Name]:
			add(path+".name", "empty or repeated %q", sc.Name)
		case sc.Start.IsZero():
			add(path+".start", "missing (the simulated time it begins, e.g. 2026-08-14T18:00:00+07:00)")
		case sc.Duration <= 0 || sc.Interval <= 0 || sc.Speed < 1:
			add(path, "want a positive duration and interval and a speed of at least 1")
		}
		names[sc.Name] = true
		for j, e := range sc.Events {
			ep := fmt.Sprintf("%s.events[%d]", path, j)
			kinds := 0
			for _, set := range []bool{e.Rain != nil, e.Salinity != nil, e.Traffic != nil, e.Outage != nil, e.Camera != nil, e.Fire != nil} {
				if set {
					kinds++
				}
			}
			if kinds != 1 {
				add(ep, "want exactly one of rain, salinity, traffic, outage, camera, fire; got %d", kinds)
			}
			if e.At < 0 || e.For <= 0 || e.At+e.For > sc.Duration || e.Ramp < 0 || 2*e.Ramp > e.For {
				add(ep, "want 0 ≤ at, for > 0, at+for within the scenario's %s and ramp ≤ for/2", sc.Duration)
			}
			if e.Camera != nil && !slices.Contains([]string{"refuse", "hang", "stall"}, e.Camera.Fault) {
				add(ep+".camera.fault", "want refuse, hang or stall, got %q", e.Camera.Fault)
			}
		}
		for j, x := range sc.Expect {
			if x.Rule == "" || x.Subject == "" || len(x.Units) == 0 {
				add(fmt.Sprintf("%s.expect[%d]", path, j), "want rule, subject and units")
			}
		}
		for j, x := range sc.Incidents {
			if x.Correlation == "" || x.Key == "" || x.Severity == "" || x.Alerts <= 0 {
				add(fmt.Sprintf("%s.incidents[%d]", path, j), "want correlation, key, severity and alerts (> 0)")
			}
		}
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "\n"))
	}
	return doc.Scenarios, nil
}

// Find returns the scenario called name.
func Find(scenarios []Scenario, name string) (*Scenario, error) {
	var names []string
	for i := range scenarios {
		if scenarios[i].Name == name {
			return &scenarios[i], nil
		}
		names = append(names, scenarios[i].Name)
	}
	return nil, fmt.Errorf("scenario %q: no such scenario (known: %s)", name, strings.Join(names, ", "))
}

// Play makes the province play sc from its start: every event is placed in simulated time.
// It checks that what the scenario names exists in the province.
func (p *Province) Play(sc *Scenario) error {
	if sc.Province != p.Name {
		return fmt.Errorf("scenario %s is for province %s, not %s", sc.Name, sc.Province, p.Name)
	}
	districts, sensors, gateways, cameras := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range p.sensors {
		districts[s.District], sensors[s.ID] = true, true
		if s.Gateway != "" {
			gateways[s.Gateway] = true
		}
	}
	for _, c := range p.Cameras {
		cameras[c.ID] = true
	}
	var probs []string
	check := func(path string, known map[string]bool, names ...string) {
		for _, n := range names {
			if !known[n] {
				probs = append(probs, fmt.Sprintf("%s: %q is not in province %s", path, n, p.Name))
			}
		}
	}
	events := slices.Clone(sc.Events)
	for i := range events {
		e := &events[i]
		e.start = sc.Start.Add(e.At)
		path := fmt.Sprintf("scenario %s: events[%d]", sc.Name, i)
		switch {
		case e.Rain != nil:
			check(path+".rain.districts", districts, e.Rain.Districts...)
		case e.Salinity != nil:
			check(path+".salinity.districts", districts, e.Salinity.Districts...)
		case e.Traffic != nil:
			check(path+".traffic.sensor", sensors, e.Traffic.Sensor)
		case e.Outage != nil:
			check(path+".outage.sensors", sensors, e.Outage.Sensors...)
			if e.Outage.Gateway != "" {
				check(path+".outage.gateway", gateways, e.Outage.Gateway)
			}
		case e.Camera != nil:
			check(path+".camera.id", cameras, e.Camera.ID)
		case e.Fire != nil:
			check(path+".fire.sensor", sensors, e.Fire.Sensor)
		}
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "\n"))
	}
	p.events, p.scenario = events, sc
	return nil
}

// Events are the playing scenario's events, placed in simulated time.
func (p *Province) Events() []Event { return p.events }
