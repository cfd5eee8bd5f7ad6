package ingest

import (
	"fmt"
	"strconv"
	"strings"
)

// unit is one known unit: its dimension and how to take a value to the dimension's base unit
// (base = value*scale + offset).
type unit struct {
	dim           string
	scale, offset float64
}

// units lists the units ingest converts between, by every spelling devices use. The SenML
// symbols (RFC 8428 §12.1, RFC 8798) come first in each group; the others are what vendors'
// devices send. Salinity in ‰ (ppt, PSU, g/kg) is treated as g/L, as DOMAIN.md's ‰ = g/L does:
// the difference (sea water's density, about 2.5 %) is below what field probes resolve.
var units = map[string]unit{
	// length, base m
	"m": {"length", 1, 0}, "cm": {"length", 0.01, 0}, "mm": {"length", 0.001, 0},
	"km": {"length", 1000, 0}, "ft": {"length", 0.3048, 0}, "in": {"length", 0.0254, 0},
	// temperature, base °C
	"Cel": {"temperature", 1, 0}, "°C": {"temperature", 1, 0}, "C": {"temperature", 1, 0}, "degC": {"temperature", 1, 0},
	"K": {"temperature", 1, -273.15}, "°F": {"temperature", 5.0 / 9, -32 * 5.0 / 9}, "Far": {"temperature", 5.0 / 9, -32 * 5.0 / 9},
	"F": {"temperature", 5.0 / 9, -32 * 5.0 / 9}, "degF": {"temperature", 5.0 / 9, -32 * 5.0 / 9},
	// speed, base m/s
	"m/s": {"speed", 1, 0}, "km/h": {"speed", 1 / 3.6, 0}, "kmh": {"speed", 1 / 3.6, 0}, "kph": {"speed", 1 / 3.6, 0},
	"mph": {"speed", 0.44704, 0}, "kn": {"speed", 1852.0 / 3600, 0},
	// precipitation intensity, base mm/h
	"mm/h": {"intensity", 1, 0}, "mm/hr": {"intensity", 1, 0}, "in/h": {"intensity", 25.4, 0},
	// mass concentration, base g/L (‰ of salinity counts as g/L, see above)
	"g/L": {"concentration", 1, 0}, "g/l": {"concentration", 1, 0}, "mg/L": {"concentration", 0.001, 0},
	"mg/l": {"concentration", 0.001, 0}, "ppm": {"concentration", 0.001, 0}, "‰": {"concentration", 1, 0},
	"ppt": {"concentration", 1, 0}, "PSU": {"concentration", 1, 0}, "psu": {"concentration", 1, 0}, "g/kg": {"concentration", 1, 0},
	"%": {"percent", 1, 0}, "%RH": {"percent", 1, 0}, "%EL": {"percent", 1, 0},
	// electrical conductivity, base S/m
	"S/m": {"conductivity", 1, 0}, "mS/cm": {"conductivity", 0.1, 0}, "µS/cm": {"conductivity", 1e-4, 0},
	"uS/cm": {"conductivity", 1e-4, 0}, "μS/cm": {"conductivity", 1e-4, 0}, // micro sign and Greek mu
	// pressure, base Pa
	"Pa": {"pressure", 1, 0}, "hPa": {"pressure", 100, 0}, "kPa": {"pressure", 1000, 0},
	"mbar": {"pressure", 100, 0}, "bar": {"pressure", 1e5, 0},
	// volume flow, base m³/s
	"m3/s": {"flow", 1, 0}, "m³/s": {"flow", 1, 0}, "l/s": {"flow", 0.001, 0}, "L/s": {"flow", 0.001, 0},
	// air concentration, base µg/m³
	"µg/m³": {"air", 1, 0}, "ug/m3": {"air", 1, 0}, "µg/m3": {"air", 1, 0}, "mg/m3": {"air", 1000, 0},
	// angle, base degree
	"°": {"angle", 1, 0}, "deg": {"angle", 1, 0}, "rad": {"angle", 57.29577951308232, 0},
	// the rest have one unit each
	"count": {"count", 1, 0}, "pH": {"ph", 1, 0}, "NTU": {"turbidity", 1, 0}, "FNU": {"turbidity", 1, 0},
	"AQI": {"aqi", 1, 0}, "dBm": {"power", 1, 0}, "dB": {"ratio", 1, 0}, "/": {"state", 1, 0},
}

// convert takes v from unit from to unit to, both known units of one dimension.
func convert(v float64, from, to string) (float64, error) {
	f, ok := units[from]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", from)
	}
	t := units[to]
	if f.dim != t.dim {
		return 0, fmt.Errorf("unit %q measures %s, not %s", from, f.dim, t.dim)
	}
	if from == to || f == t {
		return v, nil
	}
	out := (v*f.scale + f.offset - t.offset) / t.scale
	// 12 significant digits: more than any probe resolves, and 812 cm reads 8.12 m, not
	// 8.120000000000001 m.
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(out, 'g', 12, 64), 64)
	return rounded, nil
}

// MetricDef is what ingest knows of a metric: its canonical unit (every stored value is in it)
// and the physical range outside which a value is a broken sensor, not a measurement.
type MetricDef struct {
	Name string
	Unit string
	Min  float64
	Max  float64
	// Text marks a metric whose values are words (SenML vs), stored in the text column.
	Text bool
	// Link marks a radio link-quality metric that any sensor may report, listed or not.
	Link bool
	// MaxStep is the largest change per minute a station can plausibly see; a faster one
	// marks the reading suspect (0: not checked).
	MaxStep float64
}

// Metrics are the known metrics. Ranges are physical bounds with room to spare, from the
// records of each quantity: a value outside is a fault, and the alert rules judge the rest.
var Metrics = map[string]MetricDef{}

func init() {
	for _, m := range []MetricDef{
		// river gauges: level above the national datum; highland stations sit over 1,000 m
		{Name: "water_level", Unit: "m", Min: -20, Max: 3000, MaxStep: 0.5},
		{Name: "discharge", Unit: "m³/s", Min: 0, Max: 200000},
		// rain: a reading is the rain of its interval (the world's 24 h record is 1,825 mm)
		{Name: "rainfall", Unit: "mm", Min: 0, Max: 2000},
		{Name: "rain_intensity", Unit: "mm/h", Min: 0, Max: 1000},
		// traffic
		{Name: "vehicle_count", Unit: "count", Min: 0, Max: 100000},
		{Name: "motorbike_count", Unit: "count", Min: 0, Max: 100000},
		{Name: "car_count", Unit: "count", Min: 0, Max: 100000},
		{Name: "bus_count", Unit: "count", Min: 0, Max: 100000},
		{Name: "truck_count", Unit: "count", Min: 0, Max: 100000},
		{Name: "avg_speed", Unit: "km/h", Min: 0, Max: 250},
		{Name: "occupancy", Unit: "%", Min: 0, Max: 100},
		// water quality (QCVN 01-1:2018/BYT names these for drinking water)
		{Name: "ph", Unit: "pH", Min: 0, Max: 14, MaxStep: 1},
		{Name: "turbidity", Unit: "NTU", Min: 0, Max: 10000},
		{Name: "free_chlorine", Unit: "mg/L", Min: 0, Max: 100},
		{Name: "conductivity", Unit: "µS/cm", Min: 0, Max: 200000},
		{Name: "temperature", Unit: "°C", Min: -10, Max: 100, MaxStep: 3},
		{Name: "cod", Unit: "mg/L", Min: 0, Max: 100000},
		{Name: "bod5", Unit: "mg/L", Min: 0, Max: 100000},
		{Name: "tss", Unit: "mg/L", Min: 0, Max: 100000},
		{Name: "nh4", Unit: "mg/L", Min: 0, Max: 10000},
		{Name: "do", Unit: "mg/L", Min: 0, Max: 50},
		// salinity stations (sea water is about 35 ‰)
		{Name: "salinity", Unit: "‰", Min: 0, Max: 60, MaxStep: 3},
		// weather (Fansipan's summit station sits near 700 hPa)
		{Name: "air_temperature", Unit: "°C", Min: -40, Max: 65, MaxStep: 3},
		{Name: "humidity", Unit: "%", Min: 0, Max: 100},
		{Name: "wind_speed", Unit: "m/s", Min: 0, Max: 120},
		{Name: "wind_gust", Unit: "m/s", Min: 0, Max: 150},
		{Name: "pressure", Unit: "hPa", Min: 500, Max: 1100, MaxStep: 5},
		// fire alarm panels: states, 0 or 1
		{Name: "alarm", Unit: "/", Min: 0, Max: 1},
		{Name: "fault", Unit: "/", Min: 0, Max: 1},
		{Name: "status", Unit: "", Text: true},
		// landslide stations
		{Name: "soil_moisture", Unit: "%", Min: 0, Max: 100},
		{Name: "tilt", Unit: "°", Min: -90, Max: 90},
		{Name: "crack_width", Unit: "mm", Min: 0, Max: 10000},
		{Name: "pore_pressure", Unit: "kPa", Min: -100, Max: 10000},
		// air quality
		{Name: "pm25", Unit: "µg/m³", Min: 0, Max: 5000},
		{Name: "pm10", Unit: "µg/m³", Min: 0, Max: 10000},
		{Name: "aqi", Unit: "AQI", Min: 0, Max: 1000},
		// LoRaWAN link quality of the best gateway
		{Name: "rssi", Unit: "dBm", Min: -200, Max: 30, Link: true},
		{Name: "snr", Unit: "dB", Min: -50, Max: 50, Link: true},
		{Name: "battery", Unit: "%", Min: 0, Max: 100, Link: true},
	} {
		Metrics[m.Name] = m
	}
}

// UnitConverter brings a value in a device's unit to its metric's canonical unit, after
// resolving configured aliases ("deg C" -> Cel).
type UnitConverter struct {
	aliases map[string]string
}

// NewUnitConverter builds a converter with the configured aliases (CheckConfig checks them).
func NewUnitConverter(aliases map[string]string) *UnitConverter {
	return &UnitConverter{aliases: aliases}
}

// Canonical converts v, sent in unit from, to metric m's canonical unit. An empty from means
// the value is already canonical.
func (c *UnitConverter) Canonical(v float64, from string, m MetricDef) (float64, *Rejection) {
	if from == "" || from == m.Unit {
		return v, nil
	}
	if to, ok := c.aliases[from]; ok {
		from = to
	} else if to, ok := c.aliases[strings.TrimSpace(from)]; ok {
		from = to
	}
	if _, ok := units[from]; !ok {
		return 0, &Rejection{Reason: ReasonUnknownUnit, Detail: fmt.Sprintf("unit %q is not known; map it in ingest.unit_aliases", from)}
	}
	out, err := convert(v, from, m.Unit)
	if err != nil {
		return 0, &Rejection{Reason: ReasonWrongUnit, Detail: fmt.Sprintf("%v: metric %s is in %s", err, m.Name, m.Unit)}
	}
	return out, nil
}

// knownUnits lists a few unit spellings for an error message.
func knownUnits() string {
	return "m, cm, mm, Cel, °C, °F, m/s, km/h, mm/h, g/L, mg/L, ‰, ppt, PSU, %, µS/cm, mS/cm, hPa, kPa, m3/s, µg/m³, °, count, pH, NTU, dBm, dB"
}
