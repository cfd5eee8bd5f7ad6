package ingest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// Kinds are the sensor kinds a catalog entry can name, with their Vietnamese names.
var Kinds = map[string]string{
	"river_gauge":     "Trạm thủy văn",
	"rain_gauge":      "Trạm đo mưa",
	"traffic_counter": "Bộ đếm giao thông",
	"water_quality":   "Đầu đo chất lượng nước sạch",
	"wastewater":      "Đầu đo nước thải",
	"lake_level":      "Đầu đo mực nước hồ",
	"salinity":        "Trạm đo mặn",
	"weather":         "Trạm khí tượng",
	"fire_alarm":      "Tủ báo cháy",
	"landslide":       "Trạm cảnh báo sạt lở",
	"air_quality":     "Trạm quan trắc không khí",
}

// Catalog is the province's list of sensors, loaded from YAML:
//
//	sensors:
//	  - id: lc-hong-laocai
//	    name: Trạm thủy văn Lào Cai (sông Hồng)
//	    kind: river_gauge
//	    metrics: [{name: water_level, unit: m}]
//	    location: {lat: 22.5013, lon: 103.9653}
//	    district: TP Lào Cai
//	    commune: Phường Cốc Lếu
//	    owner_unit: flood_control
//	    alarm_levels: {i: 80.0, ii: 81.5, iii: 83.0}
//	districts:
//	  - name: TP Lào Cai
//	    geocodes: {dvhc: "080"}
//	    polygon: [[22.56, 103.90], [22.56, 104.02], [22.40, 104.02], [22.40, 103.90], [22.56, 103.90]]
type Catalog struct {
	Sensors []Sensor `yaml:"sensors"`
	// Districts describe the districts' areas for public warnings (CAP) and maps; a district
	// a sensor names need not be listed.
	Districts []District `yaml:"districts"`
	// Outlines names a GeoJSON file of the province's district and commune outlines
	// (ReadOutlines), relative to the catalog file: its districts' polygons take the place of
	// the polygons listed here. Empty: the districts' polygons as listed.
	Outlines string `yaml:"outlines"`
	// Communes are the outlines of the communes the map draws (from Outlines, or listed).
	Communes []Commune `yaml:"communes"`

	byID       map[string]*Sensor
	byDistrict map[string]*District
}

// District is the area of one district.
type District struct {
	Name string `yaml:"name"`
	// Geocodes name the district in coding schemes (e.g. dvhc: the administrative unit code
	// of Quyết định 124/2004/QĐ-TTg), published as CAP geocodes.
	Geocodes map[string]string `yaml:"geocodes"`
	// Polygon outlines the district as WGS 84 [lat, lon] pairs, first and last equal.
	Polygon [][2]float64 `yaml:"polygon"`
	// Parts are the other parts of a district in several pieces (islands), from an outlines
	// file; public warnings carry Polygon, the map draws them all.
	Parts [][][2]float64 `yaml:"-"`
}

// Sensor is one catalog entry.
type Sensor struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Kind     string   `yaml:"kind"`
	Metrics  []Metric `yaml:"metrics"`
	Location Location `yaml:"location"`
	District string   `yaml:"district"`
	Commune  string   `yaml:"commune"`
	// Basin is the river basin (lưu vực) the sensor drains to, such as "sông Hồng": incidents
	// gather a flood's alerts by it across districts. Empty when it does not matter.
	Basin string `yaml:"basin"`
	// OwnerUnit is the unit responsible for the sensor (one of config.Units).
	OwnerUnit string `yaml:"owner_unit"`
	// AlarmLevels are a river gauge's flood alarm levels (báo động I, II, III), in metres
	// above the datum, as set for the station by Quyết định 05/2020/QĐ-TTg.
	AlarmLevels *AlarmLevels `yaml:"alarm_levels"`
	// Profile names the ingest.profiles entry that maps this device's LoRaWAN payload.
	Profile string `yaml:"profile"`
	// Interval is how often the sensor reports; absence alerts use it.
	Interval time.Duration `yaml:"interval"`
	// Tidal marks a gauge on a tidal river (the Mekong delta): its level swings with the tide
	// twice a day, and rate rules look past the tide there (their `tidal` setting).
	Tidal bool `yaml:"tidal"`
	// Neighbors are the gauges upstream and downstream on the same river: a rise here that
	// none of them shows is suspect (plausibility).
	Neighbors []string `yaml:"neighbors"`
}

// Metric is one quantity a sensor reports.
type Metric struct {
	Name string `yaml:"name"`
	// Unit is the unit the device sends when its payload names none; empty means canonical.
	Unit string `yaml:"unit"`
	// Min and Max narrow the metric's physical range for this sensor (both or neither).
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
}

// Location is a WGS 84 position.
type Location = geo.Location

// AlarmLevels are the three flood alarm levels of a hydrological station, in metres.
type AlarmLevels struct {
	I   float64 `yaml:"i"`
	II  float64 `yaml:"ii"`
	III float64 `yaml:"iii"`
}

// Level is the báo động level a water level v stands at: 1, 2 or 3, 0 below I. Reaching a
// level is being at it (v == I is báo động I). It is the one place this rule lives: the map,
// the live hub and the alert engine all ask it.
func (a *AlarmLevels) Level(v float64) int {
	switch {
	case a == nil || math.IsNaN(v):
		return 0
	case v >= a.III:
		return 3
	case v >= a.II:
		return 2
	case v >= a.I:
		return 1
	}
	return 0
}

// SilentAfter is how long a sensor may stay quiet before it counts as silent: three of its
// reporting intervals (0 when the catalog gives no interval). The map's staleness and the
// absence rules both ask it.
func (s *Sensor) SilentAfter() time.Duration { return 3 * s.Interval }

// Lookup returns the sensor with id, or nil.
func (c *Catalog) Lookup(id string) *Sensor { return c.byID[id] }

// District returns the district named name, or nil.
func (c *Catalog) District(name string) *District { return c.byDistrict[name] }

// Len is the number of sensors.
func (c *Catalog) Len() int { return len(c.Sensors) }

// metric returns the sensor's entry for name, or nil.
func (s *Sensor) metric(name string) *Metric {
	for i := range s.Metrics {
		if s.Metrics[i].Name == name {
			return &s.Metrics[i]
		}
	}
	return nil
}

// LoadCatalog reads and validates the catalog file at path, and the outlines file it names.
func LoadCatalog(path string, profiles map[string]config.Profile) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sensor catalog: %w", err)
	}
	c, err := parseCatalog(data, profiles, func(name string) ([]District, []Commune, error) {
		return readOutlinesFile(filepath.Dir(path), name)
	})
	if err != nil {
		return nil, fmt.Errorf("sensor catalog %s:\n%w", path, err)
	}
	return c, nil
}

// ParseCatalog decodes a catalog strictly and validates it; the error lists every problem with
// its path (sensors[3].alarm_levels.ii: ...). profiles are the configured device profiles a
// sensor may name. A catalog read this way has no file beside it: one naming an outlines file
// is refused (LoadCatalog reads both).
func ParseCatalog(data []byte, profiles map[string]config.Profile) (*Catalog, error) {
	return parseCatalog(data, profiles, nil)
}

func parseCatalog(data []byte, profiles map[string]config.Profile, outlines func(name string) ([]District, []Commune, error)) (*Catalog, error) {
	c := &Catalog{}
	if probs := config.DecodeStrict(data, c); len(probs) > 0 {
		return nil, probs
	}
	if c.Outlines != "" {
		if outlines == nil {
			return nil, config.Problems{{Path: "outlines", Msg: "names a file, but this catalog was not read from a file: load it from its file (ingest.catalog)"}}
		}
		ds, cs, err := outlines(c.Outlines)
		if err != nil {
			return nil, err
		}
		c.applyOutlines(ds, cs)
	}
	c.byID = make(map[string]*Sensor, len(c.Sensors))
	for i := range c.Sensors {
		c.byID[c.Sensors[i].ID] = &c.Sensors[i]
	}
	c.byDistrict = make(map[string]*District, len(c.Districts))
	for i := range c.Districts {
		c.byDistrict[c.Districts[i].Name] = &c.Districts[i]
	}
	if probs := c.validate(profiles); len(probs) > 0 { // after the indexes: neighbours are looked up
		return nil, probs
	}
	return c, nil
}

func (c *Catalog) validate(profiles map[string]config.Profile) config.Problems {
	var p config.Problems
	add := p.Add
	if len(c.Sensors) == 0 {
		add("sensors", "empty: list at least one sensor")
	}
	ids := config.NewCatalogIDs("sensors")
	for i := range c.Sensors {
		s := &c.Sensors[i]
		path := fmt.Sprintf("sensors[%d]", i)
		ids.Check(&p, i, s.ID)
		if strings.TrimSpace(s.Name) == "" {
			add(path+".name", "empty")
		}
		if _, ok := Kinds[s.Kind]; !ok {
			add(path+".kind", "unknown kind %q (known: %s)", s.Kind, config.SortedKeys(Kinds))
		}
		if _, ok := config.Units[s.OwnerUnit]; !ok {
			add(path+".owner_unit", "unknown unit %q (known: %s)", s.OwnerUnit, config.SortedKeys(config.Units))
		}
		if strings.TrimSpace(s.District) == "" {
			add(path+".district", "empty")
		}
		if msg := s.Location.Problem(); msg != "" {
			add(path+".location", "%s", msg)
		}
		if len(s.Metrics) == 0 {
			add(path+".metrics", "empty: list what the sensor measures")
		}
		names := map[string]bool{}
		for k, m := range s.Metrics {
			m.validate(add, fmt.Sprintf("%s.metrics[%d]", path, k))
			if names[m.Name] {
				add(fmt.Sprintf("%s.metrics[%d].name", path, k), "%q is listed twice", m.Name)
			}
			names[m.Name] = true
		}
		switch {
		case s.Kind == "river_gauge" && s.AlarmLevels == nil:
			add(path+".alarm_levels", "missing: a river gauge needs its báo động I, II, III levels (m)")
		case s.AlarmLevels != nil:
			a := s.AlarmLevels
			if !(a.I < a.II && a.II < a.III) {
				add(path+".alarm_levels", "want i < ii < iii, got %g, %g, %g", a.I, a.II, a.III)
			}
			if !names["water_level"] {
				add(path+".alarm_levels", "the sensor has no water_level metric to compare them with")
			}
		}
		if s.Profile != "" {
			if _, ok := profiles[s.Profile]; !ok {
				add(path+".profile", "no profile %q under ingest.profiles", s.Profile)
			}
		}
		if s.Interval < 0 {
			add(path+".interval", "negative")
		}
	}
	for i := range c.Sensors {
		s := &c.Sensors[i]
		for k, n := range s.Neighbors {
			switch nb := c.byID[n]; {
			case nb == nil:
				add(fmt.Sprintf("sensors[%d].neighbors[%d]", i, k), "no sensor %q in the catalog", n)
			case n == s.ID:
				add(fmt.Sprintf("sensors[%d].neighbors[%d]", i, k), "a gauge is not its own neighbour")
			case nb.metric("water_level") == nil || s.metric("water_level") == nil:
				add(fmt.Sprintf("sensors[%d].neighbors[%d]", i, k), "neighbours are gauges of the same river: both need water_level")
			}
		}
	}
	seen := map[string]int{}
	for i := range c.Districts {
		d := &c.Districts[i]
		path := fmt.Sprintf("districts[%d]", i)
		if strings.TrimSpace(d.Name) == "" {
			add(path+".name", "empty")
		} else if j, ok := seen[d.Name]; ok {
			add(path+".name", "%q is listed twice (also districts[%d])", d.Name, j)
		}
		seen[d.Name] = i
		for k, v := range d.Geocodes {
			if strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
				add(path+".geocodes", "empty name or value")
				break
			}
		}
		validateRing(add, path+".polygon", d.Polygon)
		for k, part := range d.Parts {
			validateRing(add, fmt.Sprintf("%s.parts[%d]", path, k), part)
		}
	}
	communes := map[string]int{}
	for i := range c.Communes {
		cm := &c.Communes[i]
		path := fmt.Sprintf("communes[%d]", i)
		key := cm.District + "/" + cm.Name
		switch j, dup := communes[key]; {
		case strings.TrimSpace(cm.Name) == "" || strings.TrimSpace(cm.District) == "":
			add(path, "want the commune's name and its district")
		case dup:
			add(path+".name", "%q of %s is listed twice (also communes[%d])", cm.Name, cm.District, j)
		case c.byDistrict[cm.District] == nil:
			add(path+".district", "no district %q among the districts", cm.District)
		}
		communes[key] = i
		if len(cm.Polygon) == 0 {
			add(path+".polygon", "empty: a commune is listed for its outline")
		}
		validateRing(add, path+".polygon", cm.Polygon)
	}
	return p
}

// validateRing checks an outline: none, or at least four points in Vietnam, closed (the first
// repeated last), as CAP requires.
func validateRing(add func(string, string, ...any), path string, pts [][2]float64) {
	if len(pts) == 0 {
		return
	}
	if len(pts) < 4 {
		add(path, "want at least 4 [lat, lon] points (a closed ring), got %d", len(pts))
		return
	}
	if pts[0] != pts[len(pts)-1] {
		add(path, "not closed: the last point must repeat the first")
	}
	for k, pt := range pts {
		if msg := (Location{Lat: pt[0], Lon: pt[1]}).Problem(); msg != "" {
			add(fmt.Sprintf("%s[%d]", path, k), "%s", msg)
		}
	}
}

func (m *Metric) validate(add func(string, string, ...any), path string) {
	def, ok := Metrics[m.Name]
	if !ok {
		add(path+".name", "unknown metric %q (known: %s)", m.Name, config.SortedKeys(Metrics))
		return
	}
	if m.Unit != "" && !def.Text {
		if _, err := convert(1, m.Unit, def.Unit); err != nil {
			add(path+".unit", "%v (metric %s is in %s)", err, m.Name, def.Unit)
		}
	}
	switch {
	case (m.Min == nil) != (m.Max == nil):
		add(path, "give both min and max, or neither")
	case m.Min != nil && !(*m.Min < *m.Max):
		add(path, "want min < max, got %g, %g", *m.Min, *m.Max)
	}
}
