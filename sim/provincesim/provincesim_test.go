package provincesim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
)

var profiles = config.Default().Ingest.Profiles

// pipeline is ingest's pipeline over province p's catalog, with the decoders of the default
// topics.
func pipeline(t *testing.T, p *Province, interval time.Duration) (ingest.Pipeline, func(topic string) ingest.Decoder) {
	t.Helper()
	cat, err := ingest.ParseCatalog(p.CatalogYAML(interval), profiles)
	if err != nil {
		t.Fatal(err)
	}
	norm := ingest.NewNormalizer(cat, ingest.NewUnitConverter(nil), false)
	pipe := ingest.Pipeline{MaxPayloadBytes: 1 << 20, DeadLetterPayloadBytes: 1024,
		Checks: []ingest.Check{ingest.FiniteValue{}, ingest.TimeWindow{MaxFuture: time.Minute, MaxAge: 24 * time.Hour}, norm}}
	ttn := &ingest.TTNDecoder{Profiles: profiles, ProfileOf: func(id string) string { return cat.Lookup(id).Profile }}
	return pipe, func(topic string) ingest.Decoder {
		switch {
		case strings.HasPrefix(topic, "senml/"):
			return ingest.SenMLDecoder{}
		case strings.HasPrefix(topic, "v3/"):
			return ttn
		default:
			return ingest.JSONDecoder{}
		}
	}
}

// Every built-in province loads, and a day of its messages passes ingest's real decoders and
// checks whole: every metric of every sensor, no dead letter.
func TestProvincesPassIngest(t *testing.T) {
	for _, name := range Provinces() {
		p, err := Load(name, 7, profiles)
		if err != nil {
			t.Fatal(err)
		}
		pipe, dec := pipeline(t, p, 10*time.Minute)
		want := 0
		for _, s := range p.sensors {
			want += len(s.Metrics)
		}
		day := time.Date(2026, 8, 14, 0, 0, 0, 0, local)
		for at := day; at.Before(day.Add(24 * time.Hour)); at = at.Add(time.Hour) {
			got := 0
			for _, m := range p.Messages(at, 10*time.Minute, 0, profiles) {
				d := pipe.Process(m.Topic, m.Payload, dec(m.Topic), at)
				if len(d.DeadLetters) > 0 {
					t.Fatalf("%s %s: dead letters %+v from %s", name, at, d.DeadLetters, m.Payload)
				}
				for _, r := range d.Readings {
					if r.Metric != "rssi" && r.Metric != "snr" && r.Metric != "battery" {
						got++
					}
				}
			}
			if got != want {
				t.Fatalf("%s %s: %d readings, want %d (one per metric per sensor)", name, at, got, want)
			}
		}
		if len(p.Cameras) == 0 || p.Sensors() < 20 {
			t.Errorf("%s: %d sensors and %d cameras: want a province", name, p.Sensors(), len(p.Cameras))
		}
	}
}

// The same seed gives the same messages whatever the order they are asked for in; another
// seed gives other values.
func TestDeterministicForASeed(t *testing.T) {
	at := time.Date(2026, 7, 3, 15, 40, 0, 0, local)
	render := func(seed int64, times ...time.Time) []byte {
		p, err := Load("lao-cai", seed, profiles)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, tm := range times {
			for _, m := range p.Messages(tm, 5*time.Minute, 0.1, profiles) {
				if tm.Equal(at) {
					b.WriteString(m.Topic + " " + string(m.Payload) + "\n")
				}
			}
		}
		return b.Bytes()
	}
	a := render(1, at)
	if b := render(1, at.Add(-time.Hour), at.Add(time.Hour), at); !bytes.Equal(a, b) {
		t.Errorf("same seed, other order: messages differ")
	}
	if c := render(2, at); bytes.Equal(a, c) {
		t.Errorf("another seed gave the same messages")
	}
}

// The physics: rain reaches a river with delay, the flood scenario crosses báo động III, salinity
// follows the tide twice a day, and traffic slows at the evening rush hour.
func TestModelBehaves(t *testing.T) {
	scs, err := LoadScenarios("")
	if err != nil {
		t.Fatal(err)
	}
	flood, _ := Find(scs, "flash_flood")
	p, _ := Load("lao-cai", 1, profiles)
	if err := p.Play(flood); err != nil {
		t.Fatal(err)
	}
	gauge := p.sensor(t, "lc-hong-laocai")
	rainPeak := flood.Start.Add(flood.Events[0].At + flood.Events[0].For/2)
	var peakAt time.Time
	peak := 0.0
	for at := flood.Start; at.Before(flood.Start.Add(flood.Duration)); at = at.Add(10 * time.Minute) {
		if v := p.riverLevel(gauge, at); v > peak {
			peak, peakAt = v, at
		}
	}
	if peak < gauge.AlarmLevels.III || !peakAt.After(rainPeak.Add(2*time.Hour)) {
		t.Errorf("Lào Cai peaks at %.2f m at %s (rain peaks at %s): want over báo động III (%.1f m), hours after the rain", peak, peakAt, rainPeak, gauge.AlarmLevels.III)
	}
	if end := p.riverLevel(gauge, flood.Start.Add(flood.Duration)); end > gauge.AlarmLevels.I {
		t.Errorf("Lào Cai at the end of the flood: %.2f m, want back under báo động I", end)
	}

	bt, _ := Load("ben-tre", 1, profiles)
	st := bt.sensor(t, "bt-man-an-thuan")
	march := time.Date(2026, 3, 10, 0, 0, 0, 0, local)
	crossings, prev := 0, bt.salinity(st, march) > 8
	for at := march; at.Before(march.Add(24 * time.Hour)); at = at.Add(15 * time.Minute) {
		if high := bt.salinity(st, at) > 8; high != prev {
			crossings, prev = crossings+1, high
		}
	}
	if crossings < 3 || crossings > 5 {
		t.Errorf("An Thuận in March crosses 8‰ %d times a day, want about 4 (two tides)", crossings)
	}

	road := p.sensor(t, "lc-traffic-tran-hung-dao")
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, local)
	_, night := p.traffic(road, monday.Add(3*time.Hour))
	_, rush := p.traffic(road, monday.Add(17*time.Hour+30*time.Minute))
	if rush > 0.8*night {
		t.Errorf("Trần Hưng Đạo: %.0f km/h at 17:30, %.0f at 03:00: want the rush hour slower", rush, night)
	}
}

func (p *Province) sensor(t *testing.T, id string) *simSensor {
	t.Helper()
	for _, s := range p.sensors {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no sensor %s", id)
	return nil
}

// A share of malformed payloads is sent, each caught by validation with its reason.
func TestBadShareIsDeadLettered(t *testing.T) {
	p, _ := Load("lao-cai", 3, profiles)
	pipe, dec := pipeline(t, p, time.Minute)
	reasons := map[ingest.Reason]int{}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, local)
	for i := range 60 {
		tm := at.Add(time.Duration(i) * time.Minute)
		for _, m := range p.Messages(tm, time.Minute, 0.2, profiles) {
			for _, dl := range pipe.Process(m.Topic, m.Payload, dec(m.Topic), tm).DeadLetters {
				reasons[dl.Reason]++
			}
		}
	}
	if len(reasons) < 5 {
		t.Errorf("dead-letter reasons %v: want the five or six kinds of bad payload", reasons)
	}
}

// Scenario files are checked, each problem with its path; a scenario names only what its
// province has.
func TestScenarioProblems(t *testing.T) {
	_, err := ParseScenarios([]byte(`scenarios:
  - {name: a, province: lao-cai, start: 2026-08-14T18:00:00+07:00, duration: 1h, speed: 60, interval: 1m,
     events: [{at: 30m, for: 1h, rain: {districts: [Sa Pa], peak: 10}}, {at: 0s, for: 10m}, {at: 0s, for: 10m, camera: {id: x, fault: smoke}}]}
  - {name: a, province: lao-cai, duration: 1h, speed: 0, interval: 1m}
`))
	for _, want := range []string{"scenarios[0].events[0]: want 0 ≤ at", "scenarios[0].events[1]: want exactly one", "scenarios[0].events[2].camera.fault", "scenarios[1].name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want %q", err, want)
		}
	}
	scs, err := ParseScenarios([]byte(`scenarios:
  - {name: b, province: lao-cai, start: 2026-08-14T18:00:00+07:00, duration: 2h, speed: 60, interval: 1m,
     events: [{at: 0s, for: 1h, rain: {districts: [Hà Nội], peak: 10}}, {at: 0s, for: 1h, traffic: {sensor: nope, speed: 5}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := Load("lao-cai", 1, profiles)
	err = p.Play(&scs[0])
	if err == nil || !strings.Contains(err.Error(), `"Hà Nội" is not in province lao-cai`) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Play: %v", err)
	}
	if _, err := Load("ha-noi", 1, profiles); err == nil || !strings.Contains(err.Error(), "ben-tre, lao-cai") {
		t.Errorf("unknown province: %v", err)
	}
}

// A paced clock runs no further than its lead past what the server has taken in, moves on as
// deliveries come, and runs on by itself when nothing at all is delivered for its hold time.
func TestPacedClockWaitsForDeliveries(t *testing.T) {
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(start, 3600) // a wall millisecond is 3.6 simulated seconds
	c.Pace(10*time.Minute, 2*time.Second)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("before Begin: %v, want the start %v", got, start)
	}
	c.Begin()
	time.Sleep(250 * time.Millisecond) // 15 simulated minutes
	if got := c.Now(); !got.Equal(start.Add(10 * time.Minute)) {
		t.Fatalf("nothing delivered: the clock is at %v, want held at start+10m", got.Sub(start))
	}
	c.Delivered(start.Add(10 * time.Minute))
	time.Sleep(50 * time.Millisecond)
	got := c.Now()
	if !got.After(start.Add(10*time.Minute)) || got.After(start.Add(20*time.Minute)) {
		t.Fatalf("after a delivery at +10m: the clock is at +%v, want in (+10m, +20m]", got.Sub(start))
	}
	time.Sleep(2200 * time.Millisecond) // longer than the hold: the clock runs on
	if got := c.Now(); !got.After(start.Add(20 * time.Minute)) {
		t.Fatalf("nothing delivered for longer than the hold: the clock is at +%v, want past +20m", got.Sub(start))
	}
	before := c.Now()
	if c.Delivered(start); c.Now().Before(before) {
		t.Fatal("an old delivery moved the clock back")
	}
}

// The simulated provinces' district outlines tile the province: no point inside lies in two
// districts, no hole lies between them (a point outside every district with districts on all
// four sides), and each sensor lies in its own district's outline.
func TestOutlinesTileTheProvince(t *testing.T) {
	for _, name := range Provinces() {
		raw, err := Catalog(name, 5*time.Minute, profiles)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := ingest.ParseCatalog(raw, profiles)
		if err != nil {
			t.Fatal(err)
		}
		in := func(lat, lon float64) []string {
			var names []string
			for _, d := range cat.Districts {
				if (geo.Location{Lat: lat, Lon: lon}).In(d.Polygon) {
					names = append(names, d.Name)
				}
			}
			return names
		}
		lat0, lat1, lon0, lon1 := 90.0, -90.0, 180.0, -180.0
		for _, d := range cat.Districts {
			for _, p := range d.Polygon {
				lat0, lat1, lon0, lon1 = min(lat0, p[0]), max(lat1, p[0]), min(lon0, p[1]), max(lon1, p[1])
			}
		}
		const step = 0.00517 // an odd step: grid points fall on no outline's vertex or edge
		covered := func(lat, lon float64) bool { return len(in(lat, lon)) > 0 }
		enclosed := func(lat, lon float64) bool { // a district on every side
			for _, dir := range [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
				hit := false
				for la, lo := lat, lon; la >= lat0 && la <= lat1 && lo >= lon0 && lo <= lon1; la, lo = la+dir[0]*step, lo+dir[1]*step {
					if covered(la, lo) {
						hit = true
						break
					}
				}
				if !hit {
					return false
				}
			}
			return true
		}
		for lat := lat0 + step/2; lat < lat1; lat += step {
			for lon := lon0 + step/2; lon < lon1; lon += step {
				switch ds := in(lat, lon); {
				case len(ds) > 1:
					t.Errorf("%s: %.4f, %.4f lies in %v", name, lat, lon, ds)
				case len(ds) == 0 && enclosed(lat, lon):
					t.Errorf("%s: %.4f, %.4f lies between districts, in none", name, lat, lon)
				}
			}
		}
		for _, s := range cat.Sensors {
			if ds := in(s.Location.Lat, s.Location.Lon); len(ds) != 1 || ds[0] != s.District {
				t.Errorf("%s: sensor %s of %s lies in %v", name, s.ID, s.District, ds)
			}
		}
		// the communes' outlines (from the province's GeoJSON): each inside its district,
		// none overlapping another, each station of an outlined commune inside it
		if len(cat.Communes) < 10 {
			t.Errorf("%s: %d commune outlines, want those of the communes the stations name", name, len(cat.Communes))
		}
		communesAt := func(lat, lon float64) []ingest.Commune {
			var out []ingest.Commune
			for _, c := range cat.Communes {
				if (geo.Location{Lat: lat, Lon: lon}).In(c.Polygon) {
					out = append(out, c)
				}
			}
			return out
		}
		for lat := lat0 + step/2; lat < lat1; lat += step {
			for lon := lon0 + step/2; lon < lon1; lon += step {
				switch cs := communesAt(lat, lon); {
				case len(cs) > 1:
					t.Errorf("%s: %.4f, %.4f lies in communes %s and %s", name, lat, lon, cs[0].Name, cs[1].Name)
				case len(cs) == 1 && !slices.Contains(in(lat, lon), cs[0].District):
					t.Errorf("%s: %.4f, %.4f of %s lies outside its district %s", name, lat, lon, cs[0].Name, cs[0].District)
				}
			}
		}
		for _, s := range cat.Sensors {
			for _, c := range cat.Communes {
				if c.District == s.District && c.Name == s.Commune && !s.Location.In(c.Polygon) {
					t.Errorf("%s: sensor %s lies outside its commune %s", name, s.ID, s.Commune)
				}
			}
		}
	}
}
