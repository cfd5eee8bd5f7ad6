// Package rollup aggregates accepted readings in memory, per (sensor, metric, hour), per
// (district, metric, hour) and, for the metrics configured as fast, per (sensor, metric,
// minute), and hands out the buckets that changed since the last flush as rows: count, sum,
// min, max, the last value with its time, and a p95 sketch. A row is the bucket's whole state
// as this process counted it, not a delta: each flush writes it again with a higher version,
// and ClickHouse keeps each source's latest, so that a bucket rebuilt from the raw table
// replaces what a process that died had written for it. The cost is per series and interval,
// not per reading (the materialized views it replaces cost three quarters of ingest).
//
// A reading whose (sensor, metric, second) its hour already counted is a duplicate (a
// redelivery) and is counted once, as the raw table keeps it once. An hour this process has
// not counted from its start (one it ran in before a restart, or one it evicted and a late
// reading reopens) is loaded from the raw table before its rows are flushed again: Load takes
// the raw readings this source stored in it, and counts those it has not counted yet.
package rollup

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/haidang-ioc/ioc/analytics/sketch"
)

// UnknownDistrict is the district bucket of the readings of sensors the catalog does not place
// in one (accepted unknown sensors): counted there, never dropped.
const UnknownDistrict = "unknown"

// Kind is a rollup: which bucket a row stands for.
type Kind uint8

// The rollups.
const (
	SensorHour Kind = iota
	SensorMinute
	DistrictHour
)

// Row is one bucket's state: what a flush writes.
type Row struct {
	Kind   Kind
	Bucket time.Time // the bucket's start, UTC
	Key    string    // the sensor (SensorHour, SensorMinute) or the district (DistrictHour)
	Metric string
	Count  uint64
	Sum    float64
	Min    float64
	Max    float64
	Last   float64
	// LastTime is when Last was measured (the latest reading of the bucket; of two in one
	// second, the one counted first).
	LastTime     time.Time
	SketchKeys   []int32 // the p95 sketch's buckets, in order (package sketch)
	SketchCounts []uint64
	Sensors      []string // DistrictHour: the sensors counted, sorted
}

// Point is one stored reading, as Load takes it from the raw table.
type Point struct {
	Sensor, Metric string
	Time           time.Time
	Value          float64
}

// Options configure an Aggregator.
type Options struct {
	// Fast tells whether a metric has a minute rollup.
	Fast func(metric string) bool
	// District is a sensor's district in the catalog in use ("" for a sensor it does not
	// place: counted in UnknownDistrict); nil for no district rollup.
	District func(sensor string) string
	// Lateness is how long after its end an hour stays in memory for late readings.
	Lateness time.Duration
	// Start is when the process started: hours that began before it may hold what this
	// source stored before, and are loaded before they are flushed.
	Start time.Time
}

// Aggregator holds the open hours. It is not safe for concurrent use: its owner (the rollup
// flusher) serializes Add, Flush and Load.
type Aggregator struct {
	opt   Options
	hours map[int64]*hour // by the hour's start, Unix seconds
	// last is the series the last reading went to (a SenML pack holds one sensor's readings
	// one after the other): it spares the map lookups.
	last struct {
		hour   *hour
		key    seriesKey
		series *series
	}
	// evicted is the start of the latest hour forgotten: an hour up to it is loaded again
	// when a late reading reopens it.
	evicted int64
	// epoch counts the catalog changes (Relocate): a series placed in an earlier one asks
	// for its district again at its next reading.
	epoch uint64
}

type agg struct {
	n                   uint64
	sum, min, max, last float64
	lastTS              int64 // Unix seconds
	sk                  sketch.Sketch
}

// add counts v, measured at ts, whose sketch bucket is k (sketch.Key(v), computed once for
// the reading's three aggregates).
func (a *agg) add(ts int64, v float64, k int32) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	if a.n == 0 || ts > a.lastTS {
		a.last, a.lastTS = v, ts
	}
	a.n++
	a.sum += v
	a.sk.AddKey(k)
}

type seriesKey struct{ key, metric string }

type series struct {
	agg
	seen     [(3600 + 63) / 64]uint64 // the seconds of the hour counted
	fast     bool                     // the metric has a minute rollup
	minutes  [60]*agg                 // fast: by minute of the hour
	dirtyM   uint64                   // fast: the minutes changed since the last flush
	district *district                // the sensor's district's aggregate of the metric this hour (nil for none)
	epoch    uint64                   // the catalog epoch the district was found in
	dirty    bool
}

type district struct {
	agg
	sensors map[string]bool
	dirty   bool
}

type hour struct {
	start     int64
	series    map[seriesKey]*series
	districts map[seriesKey]*district
	// loaded: the hour holds everything this source stored in it (counted since the start, or
	// loaded from the raw table); until then its rows are not flushed.
	loaded bool
	// active is the last flush that wrote rows of the hour.
	active time.Time
}

// maxHours bounds the hours kept in memory: past it, the hours written longest ago go first
// (a device uploading days of old readings reloads an hour it touches again).
const maxHours = 48

// New returns an empty aggregator.
func New(opt Options) *Aggregator {
	return &Aggregator{opt: opt, hours: map[int64]*hour{}, evicted: math.MinInt64}
}

func (a *Aggregator) hour(start int64) *hour {
	h := a.hours[start]
	if h == nil {
		h = &hour{start: start, series: map[seriesKey]*series{}, districts: map[seriesKey]*district{},
			loaded: start >= a.opt.Start.Unix() && start > a.evicted}
		a.hours[start] = h
	}
	return h
}

// Add counts one reading (a text reading or a non-finite value is not aggregated). It
// reports whether it was counted: false for a duplicate of one its hour already counted.
func (a *Aggregator) Add(sensor, metric string, at time.Time, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	ts := at.Unix()
	h := a.hour(ts - mod(ts, 3600))
	return a.count(h, sensor, metric, ts, v)
}

func (a *Aggregator) count(h *hour, sensor, metric string, ts int64, v float64) bool {
	k := seriesKey{sensor, metric}
	s := a.last.series
	if a.last.hour != h || a.last.key != k {
		s = h.series[k]
		if s == nil {
			s = a.newSeries(h, k)
		}
		a.last.hour, a.last.key, a.last.series = h, k, s
	}
	sec := ts - h.start
	word, bit := sec/64, uint64(1)<<(sec%64)
	if s.seen[word]&bit != 0 {
		return false
	}
	s.seen[word] |= bit
	sk := sketch.Key(v)
	s.add(ts, v, sk)
	s.dirty = true
	if s.fast {
		m := sec / 60
		if s.minutes[m] == nil {
			s.minutes[m] = &agg{}
		}
		s.minutes[m].add(ts, v, sk)
		s.dirtyM |= 1 << m
	}
	if s.epoch != a.epoch {
		a.place(h, s, k)
	}
	if d := s.district; d != nil {
		d.add(ts, v, sk)
		d.dirty = true
	}
	return true
}

// newSeries starts the hour of a series, with its place in its district's aggregate.
func (a *Aggregator) newSeries(h *hour, k seriesKey) *series {
	s := &series{fast: a.opt.Fast != nil && a.opt.Fast(k.metric)}
	h.series[k] = s
	a.place(h, s, k)
	return s
}

// place puts series s (sensor k.key) in its district's aggregate of the hour, as the catalog
// in use places the sensor: readings counted from then on go there (a sensor moved to another
// district by a catalog reload leaves what it counted before in the old one).
func (a *Aggregator) place(h *hour, s *series, k seriesKey) {
	s.epoch = a.epoch
	if a.opt.District == nil {
		return
	}
	name := a.opt.District(k.key)
	if name == "" {
		name = UnknownDistrict
	}
	dk := seriesKey{name, k.metric}
	d := h.districts[dk]
	if d == nil {
		d = &district{sensors: map[string]bool{}}
		h.districts[dk] = d
	}
	d.sensors[k.key] = true // the series' next reading is about to be counted there
	s.district = d
}

// Relocate tells the aggregator that the catalog changed: each series asks for its district
// again at its next reading.
func (a *Aggregator) Relocate() { a.epoch++ }

// ToLoad lists the hours (their starts) that must be loaded from the raw table before their
// rows can be flushed, oldest first.
func (a *Aggregator) ToLoad() []time.Time {
	var out []time.Time
	for start, h := range a.hours {
		if !h.loaded {
			out = append(out, time.Unix(start, 0).UTC())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// Forgotten tells whether the hour starting at start may have been evicted since the start
// (its readings counted then are no longer in memory): loading it needs every reading this
// source stored in it, not only those stored before the start.
func (a *Aggregator) Forgotten(start time.Time) bool { return start.Unix() <= a.evicted }

// Reopen makes sure the hours starting at starts are in memory, to be loaded before they are
// flushed again: at start, the hours the previous run of this source stored readings in after
// its last flush.
func (a *Aggregator) Reopen(starts []time.Time) {
	for _, t := range starts {
		h := a.hour(t.Unix() - mod(t.Unix(), 3600))
		if h.start < a.opt.Start.Unix() {
			h.loaded = false
		}
	}
}

// Load counts what this source stored in the hour starting at start (its raw readings, each
// once), and marks the hour loaded: its rows are flushed from then on.
func (a *Aggregator) Load(start time.Time, points []Point) {
	h := a.hour(start.Unix())
	for _, p := range points {
		ts := p.Time.Unix()
		if ts < h.start || ts >= h.start+3600 || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			continue
		}
		a.count(h, p.Sensor, p.Metric, ts, p.Value)
	}
	h.loaded = true
	for _, s := range h.series { // everything of a loaded hour is written again
		s.dirty = true
		for m, ma := range s.minutes {
			if ma != nil {
				s.dirtyM |= 1 << m
			}
		}
	}
	for _, d := range h.districts {
		d.dirty = true
	}
}

// Flush returns the rows of the loaded buckets that changed since the last flush, and forgets
// the hours that ended and had nothing new for Lateness (a later reading reopens its hour,
// which is then loaded again), and, past maxHours, those written longest ago.
func (a *Aggregator) Flush(now time.Time) []Row {
	var rows []Row
	var idle []*hour
	for start, h := range a.hours {
		if !h.loaded {
			continue
		}
		before := len(rows)
		bucket := time.Unix(start, 0).UTC()
		for k, s := range h.series {
			if s.dirty {
				rows = append(rows, s.row(SensorHour, bucket, k))
				s.dirty = false
			}
			for m := range 60 {
				if s.dirtyM&(1<<m) != 0 {
					rows = append(rows, s.minutes[m].row(SensorMinute, bucket.Add(time.Duration(m)*time.Minute), k))
				}
			}
			s.dirtyM = 0
		}
		for k, d := range h.districts {
			if d.dirty {
				r := d.row(DistrictHour, bucket, k)
				for sensor := range d.sensors {
					r.Sensors = append(r.Sensors, sensor)
				}
				sort.Strings(r.Sensors)
				rows = append(rows, r)
				d.dirty = false
			}
		}
		if len(rows) > before {
			h.active = now
		}
		if ended := time.Unix(start+3600, 0).Add(a.opt.Lateness).Before(now); ended && now.Sub(h.active) > a.opt.Lateness {
			a.forget(h)
			continue
		}
		idle = append(idle, h)
	}
	if len(a.hours) > maxHours {
		slices.SortFunc(idle, func(x, y *hour) int { return x.active.Compare(y.active) })
		for _, h := range idle[:min(len(idle), len(a.hours)-maxHours)] {
			a.forget(h)
		}
	}
	return rows
}

// forget drops a flushed hour from memory.
func (a *Aggregator) forget(h *hour) {
	delete(a.hours, h.start)
	a.evicted = max(a.evicted, h.start)
	if a.last.hour == h {
		a.last.hour, a.last.series = nil, nil
	}
}

func (g *agg) row(kind Kind, bucket time.Time, k seriesKey) Row {
	keys, counts := g.sk.Buckets() // copied: the sketch goes on counting
	return Row{Kind: kind, Bucket: bucket, Key: k.key, Metric: k.metric, Count: g.n, Sum: g.sum, Min: g.min, Max: g.max,
		Last: g.last, LastTime: time.Unix(g.lastTS, 0).UTC(), SketchKeys: slices.Clone(keys), SketchCounts: slices.Clone(counts)}
}

// Hours is the number of hours in memory (a gauge).
func (a *Aggregator) Hours() int { return len(a.hours) }

// mod is a non-negative remainder (times before 1970 too).
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
