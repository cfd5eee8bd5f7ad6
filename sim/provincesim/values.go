package provincesim

import (
	"math"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
)

// value is one simulated measurement, in the unit the device sends.
type value struct {
	Metric, Unit string
	V            float64
}

// unitOf is the unit a device sends metric m in: the catalog's, else the canonical one.
func unitOf(m ingest.Metric) string {
	if m.Unit != "" {
		return m.Unit
	}
	return ingest.Metrics[m.Name].Unit
}

// round keeps d decimals, as devices report.
func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// values are what sensor s reports at t for the interval that ends at t; false when the
// scenario has it silent.
func (p *Province) values(s *simSensor, t time.Time, interval time.Duration) ([]value, bool) {
	if p.silent(s, t) {
		return nil, false
	}
	hours := interval.Hours()
	var perHour, speed float64
	if s.Kind == "traffic_counter" {
		perHour, speed = p.traffic(s, t)
	}
	count := func(share float64) float64 { return math.Round(perHour * share * hours) }
	out := make([]value, 0, len(s.Metrics))
	for _, m := range s.Metrics {
		var v float64
		switch m.Name {
		case "water_level":
			v = round(p.riverLevel(s, t), 2)
		case "rainfall":
			v = round(p.rain(s.District, t.Add(-interval/2))*hours, 2)
		case "rain_intensity":
			v = round(p.rain(s.District, t), 1)
		case "vehicle_count":
			v = count(1)
		case "motorbike_count":
			v = count(map[bool]float64{false: 0.74, true: 0.2}[s.Gate])
		case "car_count":
			v = count(map[bool]float64{false: 0.19, true: 0.25}[s.Gate])
		case "truck_count":
			v = count(map[bool]float64{false: 0.05, true: 0.55}[s.Gate])
		case "avg_speed":
			v = round(speed, 1)
		case "occupancy":
			v = round(math.Min(98, 100*(1-speed/s.FreeSpeed)+5), 1)
		case "ph":
			v = round(p.ph(s, t), 2)
		case "turbidity":
			v = round(p.turbidity(s, t), 2)
		case "free_chlorine":
			v = round(0.5+0.08*math.Sin(2*math.Pi*hourOfDay(t)/24)+0.01*noise(p.Seed, s.ID, m.Name, t), 2)
		case "conductivity":
			v = p.conductivity(s, t)
		case "temperature":
			v = round(monthWeight(p.Climate.Temperature, t)+2+0.1*noise(p.Seed, s.ID, m.Name, t), 1)
		case "cod", "bod5", "tss", "nh4":
			base := map[string]float64{"cod": 48, "bod5": 21, "tss": 32, "nh4": 3.1}[m.Name]
			v = round(base*(0.8+0.4*rushHour(t.Add(-2*time.Hour)))+0.03*base*noise(p.Seed, s.ID, m.Name, t), 1)
		case "do":
			v = round(5.2-0.8*rushHour(t)+0.1*noise(p.Seed, s.ID, m.Name, t), 2)
		case "salinity":
			v = round(p.salinity(s, t), 2)
		case "alarm":
			v = p.flag(s, t)
		case "fault":
			v = 0
		case "air_temperature":
			v = round(p.airTemperature(s, t), 1)
		case "humidity":
			v = round(p.humidity(s, t), 0)
		case "pressure":
			v = round(1011*math.Exp(-s.Base/8400)+1.5*math.Sin(2*math.Pi*(hourOfDay(t)-10)/12)+0.1*noise(p.Seed, s.ID, m.Name, t), 1)
		case "wind_speed":
			v = round(math.Max(0, 1.8+0.15*p.rain(s.District, t)+0.4*noise(p.Seed, s.ID, m.Name, t)), 1)
		default: // a metric the model does not know keeps a steady, plausible reading
			v = 1
		}
		out = append(out, value{Metric: m.Name, Unit: unitOf(m), V: v})
	}
	return out, true
}

// ph is a water probe's pH: treated water near 7.2, raw wastewater a little lower.
func (p *Province) ph(s *simSensor, t time.Time) float64 {
	base := 7.2
	if s.Kind == "wastewater" {
		base = 7.0
	}
	return base + 0.08*math.Sin(2*math.Pi*hourOfDay(t)/24) + 0.03*noise(p.Seed, s.ID, "ph", t)
}

// turbidity rises a few hours after rain reaches the intake.
func (p *Province) turbidity(s *simSensor, t time.Time) float64 {
	v := 0.45 + 0.015*p.rain(s.District, t.Add(-3*time.Hour)) + 0.04*noise(p.Seed, s.ID, "turbidity", t)
	if s.Kind == "wastewater" {
		v *= 40
	}
	return math.Max(0.05, v)
}

// conductivity follows salinity at a salinity station (mS/cm), else a fresh-water probe's
// steady value (µS/cm); the unit is the catalog's.
func (p *Province) conductivity(s *simSensor, t time.Time) float64 {
	if s.Kind == "salinity" {
		return round(1.8*p.salinity(s, t)+0.25, 2)
	}
	return round(265+4*noise(p.Seed, s.ID, "conductivity", t), 0)
}

// flag is a fire panel's alarm state (0 or 1) at t.
func (p *Province) flag(s *simSensor, t time.Time) float64 {
	if p.active(t, func(e *Event) bool { return e.Fire != nil && e.Fire.Sensor == s.ID }) {
		return 1
	}
	return 0
}

// silent reports whether a scenario's outage keeps s from reporting at t.
func (p *Province) silent(s *simSensor, t time.Time) bool {
	return p.active(t, func(e *Event) bool { return e.Outage != nil && e.Outage.silences(s) })
}
