package provincesim

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// The model: every simulated value is a pure function of the seed, the sensor and the
// simulated time (plus the scenario's events), never of the order in which values are asked
// for. A run is therefore the same for a given seed whatever the pacing, the time-acceleration
// factor or a restart, and a backfill gives the same history as a live run would have.

// Climate is a province's weather and water regime.
type Climate struct {
	// Rain is the chance (0..1) of a storm in a 3-hour cell at the height of the rainy season,
	// per month from January: the monthly weights scale it.
	StormChance float64 `yaml:"storm_chance"`
	// StormPeak is the peak intensity (mm/h) of the strongest background storm.
	StormPeak float64 `yaml:"storm_peak"`
	// RainSeason is the weight (0..1) of each month, January first, for storms and river levels.
	RainSeason [12]float64 `yaml:"rain_season"`
	// DrySeason is the weight (0..1) of each month for salinity intrusion (delta provinces).
	DrySeason [12]float64 `yaml:"dry_season"`
	// Afternoon makes storms favour the afternoon and evening (mountain convection).
	Afternoon bool `yaml:"afternoon"`
	// Temperature is the mean air temperature (°C) per month at the province's reference height.
	Temperature [12]float64 `yaml:"temperature"`
}

// unit hashes the seed and parts to a number in [0, 1).
func unit(seed int64, parts ...any) float64 {
	h := fnv.New64a()
	var b [8]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			h.Write([]byte(v))
		case int64:
			for i := 0; i < 8; i++ {
				b[i] = byte(v >> (8 * i))
			}
			h.Write(b[:])
		}
		h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / (1 << 53)
}

// noise is a deterministic normal-ish value (mean 0, sd about 1) for sensor at t.
func noise(seed int64, sensor string, metric string, t time.Time) float64 {
	ms := t.UnixMilli()
	return (unit(seed, sensor, metric, ms) + unit(seed, sensor, metric, ms, "b") + unit(seed, sensor, metric, ms, "c") - 1.5) * 2
}

// monthWeight interpolates a monthly weight at t (local time), so seasons change smoothly.
func monthWeight(w [12]float64, t time.Time) float64 {
	t = t.In(local)
	m := int(t.Month()) - 1
	frac := (float64(t.Day()) - 15) / 30
	next := m + 1
	if frac < 0 {
		next, frac = m-1, -frac
	}
	next = (next + 12) % 12
	return w[m]*(1-frac) + w[next]*frac
}

// hourOfDay is t's local hour with fraction.
func hourOfDay(t time.Time) float64 {
	t = t.In(local)
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

// local is Việt Nam's time.
var local = geo.Zone

// backgroundRain is the background storms' intensity (mm/h) in a district at t: each 3-hour
// cell of the province either has a storm or not, with a bell-shaped intensity over the cell
// and a share per district.
func (p *Province) backgroundRain(district string, t time.Time) float64 {
	const cell = 3 * 3600
	sec := t.Unix()
	c := sec / cell
	chance := p.Climate.StormChance * monthWeight(p.Climate.RainSeason, t)
	if p.Climate.Afternoon {
		h := hourOfDay(time.Unix(c*cell+cell/2, 0))
		chance *= 0.5 + math.Max(0, math.Sin(math.Pi*(h-10)/12)) // most between 13:00 and 19:00
	}
	if unit(p.Seed, "storm", c) >= chance {
		return 0
	}
	peak := p.Climate.StormPeak * (0.2 + 0.8*unit(p.Seed, "peak", c)) * (0.4 + 0.6*unit(p.Seed, "share", district, c))
	frac := float64(sec-c*cell) / cell
	return peak * math.Pow(math.Sin(math.Pi*frac), 2)
}

// rain is a district's rain intensity (mm/h) at t: background storms and the scenario's rain.
func (p *Province) rain(district string, t time.Time) float64 {
	r := p.backgroundRain(district, t)
	for i := range p.events {
		e := &p.events[i]
		if e.Rain != nil && e.Rain.covers(district) {
			r += e.Rain.Peak * e.shape(t)
		}
	}
	return r
}

// catchmentRain is the mean rain intensity (mm/h) over districts at t.
func (p *Province) catchmentRain(districts []string, t time.Time) float64 {
	if len(districts) == 0 {
		return 0
	}
	var sum float64
	for _, d := range districts {
		sum += p.rain(d, t)
	}
	return sum / float64(len(districts))
}

// responseHours is how far back rain still moves a river.
const responseHours = 72

// response is a river's unit hydrograph: the share of an hour's rain that reaches the gauge k
// hours later, a gamma-shaped curve peaking at the lag and summing to one.
func response(lag time.Duration) [responseHours + 1]float64 {
	var h [responseHours + 1]float64
	l := math.Max(lag.Hours(), 1)
	theta := l / 2 // shape 3: mode at 2θ
	var sum float64
	for k := 1; k <= responseHours; k++ {
		x := float64(k)
		h[k] = x * x * math.Exp(-x/theta)
		sum += h[k]
	}
	for k := range h {
		h[k] /= sum
	}
	return h
}

// riverLevel is a river gauge's water level (m) at t: its dry-season base, the rainy season's
// rise, a tide in the delta, and the catchment's recent rain routed through its hydrograph.
func (p *Province) riverLevel(s *simSensor, t time.Time) float64 {
	lvl := s.Base + s.Season*monthWeight(p.Climate.RainSeason, t) + s.Tide*tide(t)
	var routed float64
	hour := t.Truncate(time.Hour)
	frac := t.Sub(hour).Hours()
	for k := 1; k <= responseHours; k++ {
		// interpolate between whole hours so that the level moves smoothly within an hour
		at := hour.Add(-time.Duration(k-1) * time.Hour)
		r := p.catchmentRain(s.Catchment, at)*frac + p.catchmentRain(s.Catchment, at.Add(-time.Hour))*(1-frac)
		routed += s.hydrograph[k] * r
	}
	return lvl + s.Gain*routed + 0.01*noise(p.Seed, s.ID, "water_level", t)
}

// tide is the semi-diurnal tide (-1..1) at t, with the fortnightly spring-neap cycle.
func tide(t time.Time) float64 {
	h := float64(t.Unix()) / 3600
	return math.Cos(2*math.Pi*h/12.42) * (0.7 + 0.3*math.Cos(2*math.Pi*h/(14.77*24)))
}

// salinity is a station's salinity (‰) at t: its dry-season peak scaled by the season and the
// scenario's intrusion, swinging with the tide.
func (p *Province) salinity(s *simSensor, t time.Time) float64 {
	season := monthWeight(p.Climate.DrySeason, t)
	for i := range p.events {
		e := &p.events[i]
		if e.Salinity != nil && e.Salinity.covers(s.District) {
			season += e.Salinity.Rise * e.shape(t)
		}
	}
	v := s.Base * season * (0.65 + 0.35*tide(t.Add(-s.Lag)))
	return math.Max(0, v+0.02*noise(p.Seed, s.ID, "salinity", t))
}

// rushHour is traffic's daily shape (0..1): morning and evening peaks on a quiet night.
func rushHour(t time.Time) float64 {
	h := hourOfDay(t)
	bell := func(mu, sd float64) float64 { return math.Exp(-(h - mu) * (h - mu) / (2 * sd * sd)) }
	return 0.08 + 0.5*bell(12, 4) + 0.45*bell(7.3, 0.8) + 0.55*bell(17.5, 1)
}

// gateHours is a border gate's daily shape: open 7:00–22:00 (local), busiest mid-morning.
func gateHours(t time.Time) float64 {
	h := hourOfDay(t)
	if h < 7 || h >= 22 {
		return 0.02
	}
	return 0.5 + 0.5*math.Sin(math.Pi*(h-7)/15)
}

// traffic is a counter's vehicles per hour and average speed (km/h) at t.
func (p *Province) traffic(s *simSensor, t time.Time) (perHour, speed float64) {
	load := rushHour(t)
	if s.Gate {
		load = gateHours(t)
	}
	if wd := t.In(local).Weekday(); !s.Gate && (wd == time.Saturday || wd == time.Sunday) {
		load *= 0.8
	}
	load *= 1 + 0.05*noise(p.Seed, s.ID, "load", t)
	perHour = s.Base * load
	speed = s.FreeSpeed * (1 - 0.45*load*load)
	for i := range p.events {
		e := &p.events[i]
		if e.Traffic != nil && e.Traffic.Sensor == s.ID {
			k := e.shape(t)
			speed = speed*(1-k) + e.Traffic.Speed*k
			perHour *= 1 - 0.5*k // a jam moves fewer vehicles past the counter
		}
	}
	return math.Max(0, perHour), math.Max(2, speed+0.8*noise(p.Seed, s.ID, "speed", t))
}

// airTemperature is a station's temperature (°C) at t: the month's mean, lapse rate by height,
// a daily swing, cooled by rain.
func (p *Province) airTemperature(s *simSensor, t time.Time) float64 {
	h := hourOfDay(t)
	v := monthWeight(p.Climate.Temperature, t) - 0.0065*s.Base + 4*math.Sin(2*math.Pi*(h-9)/24) - 0.3*p.rain(s.District, t)
	return v + 0.2*noise(p.Seed, s.ID, "air_temperature", t)
}

// humidity is a station's relative humidity (%) at t.
func (p *Province) humidity(s *simSensor, t time.Time) float64 {
	h := hourOfDay(t)
	v := 78 - 12*math.Sin(2*math.Pi*(h-9)/24) + 3*p.rain(s.District, t)
	return math.Min(100, math.Max(20, v+1.5*noise(p.Seed, s.ID, "humidity", t)))
}

// active reports whether an event of the scenario marks the sensor silent or alarming at t.
func (p *Province) active(t time.Time, match func(*Event) bool) bool {
	for i := range p.events {
		e := &p.events[i]
		if match(e) && e.shape(t) > 0 {
			return true
		}
	}
	return false
}
