package ingest

import (
	"math"
	"strings"
	"testing"
	"time"
)

const testCatalog = `
sensors:
  - id: lc-hong-laocai
    name: Trạm thủy văn Lào Cai
    kind: river_gauge
    metrics: [{name: water_level, unit: cm}]
    location: {lat: 22.5015, lon: 103.9662}
    district: TP Lào Cai
    owner_unit: flood_control
    alarm_levels: {i: 80.0, ii: 82.0, iii: 83.5}
  - id: bt-salt-an-thuan
    name: Trạm đo mặn An Thuận
    kind: salinity
    metrics: [{name: salinity}, {name: conductivity}, {name: temperature}]
    location: {lat: 9.9800, lon: 106.6000}
    district: Ba Tri
    owner_unit: flood_control
  - id: dn-traffic-1
    name: Nút giao Hàm Nghi
    kind: traffic_counter
    metrics: [{name: avg_speed}, {name: occupancy, min: 0, max: 80}]
    location: {lat: 16.06, lon: 108.21}
    district: Hải Châu
    owner_unit: traffic_police
  - id: fire-panel-1
    name: Tủ báo cháy chợ Cốc Lếu
    kind: fire_alarm
    metrics: [{name: alarm}, {name: status}]
    location: {lat: 22.50, lon: 103.97}
    district: TP Lào Cai
    owner_unit: fire_police
`

func TestNormalizer(t *testing.T) {
	cat, err := ParseCatalog([]byte(testCatalog), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := NewNormalizer(cat, NewUnitConverter(map[string]string{"ppt ": "‰", "deg C": "Cel"}), false)
	tests := []struct {
		name      string
		in        Reading
		wantValue float64
		wantUnit  string
		reason    Reason
	}{
		{"cm to m", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 8142, Unit: "cm"}, 81.42, "m", ""},
		{"no unit: the catalog's unit of the sensor", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 8142}, 81.42, "m", ""},
		{"mm to m", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 81420, Unit: "mm"}, 81.42, "m", ""},
		{"PSU is ‰", Reading{Sensor: "bt-salt-an-thuan", Metric: "salinity", Value: 4.2, Unit: "PSU"}, 4.2, "‰", ""},
		{"g/L is ‰", Reading{Sensor: "bt-salt-an-thuan", Metric: "salinity", Value: 1.5, Unit: "g/L"}, 1.5, "‰", ""},
		{"mg/L to ‰", Reading{Sensor: "bt-salt-an-thuan", Metric: "salinity", Value: 1500, Unit: "mg/L"}, 1.5, "‰", ""},
		{"an alias with a trailing space", Reading{Sensor: "bt-salt-an-thuan", Metric: "salinity", Value: 3, Unit: "ppt "}, 3, "‰", ""},
		{"mS/cm to µS/cm", Reading{Sensor: "bt-salt-an-thuan", Metric: "conductivity", Value: 7.5, Unit: "mS/cm"}, 7500, "µS/cm", ""},
		{"°F to °C", Reading{Sensor: "bt-salt-an-thuan", Metric: "temperature", Value: 86, Unit: "°F"}, 30, "°C", ""},
		{"SenML Cel", Reading{Sensor: "bt-salt-an-thuan", Metric: "temperature", Value: 29.5, Unit: "Cel"}, 29.5, "°C", ""},
		{"K to °C", Reading{Sensor: "bt-salt-an-thuan", Metric: "temperature", Value: 300.15, Unit: "K"}, 27, "°C", ""},
		{"configured alias", Reading{Sensor: "bt-salt-an-thuan", Metric: "temperature", Value: 28, Unit: "deg C"}, 28, "°C", ""},
		{"m/s to km/h", Reading{Sensor: "dn-traffic-1", Metric: "avg_speed", Value: 10, Unit: "m/s"}, 36, "km/h", ""},
		{"km/h stays", Reading{Sensor: "dn-traffic-1", Metric: "avg_speed", Value: 42, Unit: "km/h"}, 42, "km/h", ""},
		{"link metrics need no catalog entry", Reading{Sensor: "lc-hong-laocai", Metric: "rssi", Value: -97, Unit: "dBm"}, -97, "dBm", ""},
		{"a text metric", Reading{Sensor: "fire-panel-1", Metric: "status", Text: "Bình thường"}, 0, "", ""},
		{"an unknown sensor", Reading{Sensor: "nobody", Metric: "water_level", Value: 1}, 0, "", ReasonUnknownSensor},
		{"an unknown metric", Reading{Sensor: "lc-hong-laocai", Metric: "water_levle", Value: 1}, 0, "", ReasonUnknownMetric},
		{"a metric the sensor does not list", Reading{Sensor: "lc-hong-laocai", Metric: "salinity", Value: 1}, 0, "", ReasonUnknownMetric},
		{"an unknown unit", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 1, Unit: "furlong"}, 0, "", ReasonUnknownUnit},
		{"a unit of another quantity", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 1, Unit: "Cel"}, 0, "", ReasonWrongUnit},
		{"outside the physical range", Reading{Sensor: "lc-hong-laocai", Metric: "water_level", Value: 9999, Unit: "m"}, 0, "", ReasonOutOfRange},
		{"outside the physical range once converted", Reading{Sensor: "bt-salt-an-thuan", Metric: "temperature", Value: 250, Unit: "°F"}, 0, "", ReasonOutOfRange},
		{"negative speed", Reading{Sensor: "dn-traffic-1", Metric: "avg_speed", Value: -3}, 0, "", ReasonOutOfRange},
		{"outside the sensor's own range", Reading{Sensor: "dn-traffic-1", Metric: "occupancy", Value: 90}, 0, "", ReasonOutOfRange},
		{"an alarm of 2", Reading{Sensor: "fire-panel-1", Metric: "alarm", Value: 2}, 0, "", ReasonOutOfRange},
		{"text for a number", Reading{Sensor: "fire-panel-1", Metric: "alarm", Text: "on"}, 0, "", ReasonWrongType},
		{"a number for text", Reading{Sensor: "fire-panel-1", Metric: "status", Value: 1}, 0, "", ReasonWrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in
			rej := n.Check(&r, time.Time{})
			if tt.reason != "" {
				if rej == nil || rej.Reason != tt.reason || rej.Detail == "" {
					t.Fatalf("rejection %+v, want reason %s", rej, tt.reason)
				}
				return
			}
			if rej != nil {
				t.Fatalf("rejected: %s: %s", rej.Reason, rej.Detail)
			}
			if math.Abs(r.Value-tt.wantValue) > 1e-9 || r.Unit != tt.wantUnit {
				t.Fatalf("got %v %q, want %v %q", r.Value, r.Unit, tt.wantValue, tt.wantUnit)
			}
		})
	}
}

// With accept_unknown_sensors, a stranger's reading is kept and flagged.
func TestNormalizerAcceptsUnknownSensorsFlagged(t *testing.T) {
	cat, err := ParseCatalog([]byte(testCatalog), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := Reading{Sensor: "new-gauge", Metric: "water_level", Value: 812, Unit: "cm"}
	if rej := NewNormalizer(cat, NewUnitConverter(nil), true).Check(&r, time.Time{}); rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	if r.Quality != QualityUnknownSensor || r.Value != 8.12 || r.Unit != "m" {
		t.Fatalf("got %+v", r)
	}
}

func TestParseCatalogNamesEveryProblem(t *testing.T) {
	bad := strings.NewReplacer(
		"kind: salinity", "kind: tide_gauge",
		"{lat: 16.06, lon: 108.21}", "{lat: 108.21, lon: 16.06}",
		"alarm_levels: {i: 80.0, ii: 82.0, iii: 83.5}", "alarm_levels: {i: 82.0, ii: 80.0, iii: 83.5}",
		"owner_unit: fire_police", "owner_unit: firemen",
		"{name: avg_speed}", "{name: avg_speed, unit: Cel}",
		"{name: temperature}", "{name: temprature}",
	).Replace(testCatalog) + `
  - id: lc-hong-laocai
    name: ""
    kind: rain_gauge
    metrics: [{name: rainfall, min: 0}]
    location: {lat: 22.3, lon: 103.8}
    district: Sa Pa
    owner_unit: flood_control
    profile: dragino
districts:
  - name: Sa Pa
    geocodes: {dvhc: ""}
    polygon: [[22.4, 103.8], [22.4, 103.9], [22.3, 103.9], [22.3, 103.8]]
  - name: Sa Pa
    polygon: [[22.4, 103.8], [22.4, 103.9], [22.4, 103.8]]
  - name: Bát Xát
    polygon: [[22.4, 103.8], [103.9, 22.4], [22.3, 103.9], [22.4, 103.8]]
`
	_, err := ParseCatalog([]byte(bad), nil)
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`sensors[1].kind: unknown kind "tide_gauge"`,
		`sensors[1].metrics[2].name: unknown metric "temprature"`,
		`sensors[2].location: lat 108.21, lon 16.06 is not a position (lat and lon swapped?)`,
		`sensors[2].metrics[0].unit: unit "Cel" measures temperature, not speed`,
		`sensors[0].alarm_levels: want i < ii < iii`,
		`sensors[3].owner_unit: unknown unit "firemen"`,
		`sensors[4].id: "lc-hong-laocai" is also sensors[0]`,
		`sensors[4].name: empty`,
		`sensors[4].metrics[0]: give both min and max`,
		`sensors[4].profile: no profile "dragino"`,
		`districts[0].geocodes: empty name or value`,
		`districts[0].polygon: not closed`,
		`districts[1].name: "Sa Pa" is listed twice (also districts[0])`,
		`districts[1].polygon: want at least 4 [lat, lon] points`,
		`districts[2].polygon[1]: lat 103.9, lon 22.4 is not a position (lat and lon swapped?)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if _, err := ParseCatalog([]byte("sensors:\n  - id: x\n    colour: red\n"), nil); err == nil || !strings.Contains(err.Error(), "sensors[0].colour: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := ParseCatalog([]byte("sensors:\n  - id: x\n    kind: river_gauge\n    metrics: [{name: water_level}]\n    location: {lat: 22, lon: 104}\n    district: d\n    owner_unit: ioc\n    name: n\n"), nil); err == nil || !strings.Contains(err.Error(), "sensors[0].alarm_levels: missing") {
		t.Errorf("river gauge without alarm levels: %v", err)
	}
}
