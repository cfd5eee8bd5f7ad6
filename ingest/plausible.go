package ingest

import (
	"math"
	"sync"
	"time"
)

// QualitySuspect marks a reading that is possible but implausible for its station: stored and
// shown like any other, and the alerts it raises reach operators marked suspect and never go
// to the public feed without a person's approval.
const QualitySuspect Quality = "suspect"

// Why a reading is suspect (the label of ioc_ingest_suspect_total).
const (
	SuspectStep      = "step"      // changed faster than its metric's MaxStep allows
	SuspectHistory   = "history"   // far outside the range the station has reported
	SuspectNeighbors = "neighbors" // rose while none of the gauges up- and downstream did
)

// Plausibility tuning.
const (
	// historyWarmup is how many readings a series needs before its range judges.
	historyWarmup = 288
	// neighborWindow is the span over which a gauge's rise is compared with its neighbours'.
	neighborWindow = time.Hour
	// neighborRise is the rise over neighborWindow (metres) past which neighbours are asked;
	// they agree when they rose at least neighborShare of it.
	neighborRise  = 1.0
	neighborShare = 0.2
	// confirmAfter suspect readings that agree with each other become the new normal (a
	// gauge moved, a sensor replaced): the series is judged from them on.
	confirmAfter = 3
)

type seriesKey struct{ sensor, metric string }

type sample struct {
	t time.Time
	v float64
}

// series is what plausibility remembers of one sensor's metric: its last plausible value, its
// range, the recent plausible samples (for neighbours' comparisons) and a run of suspect
// readings that agree with each other.
type series struct {
	last    sample
	n       int
	lo, hi  float64
	recent  []sample // plausible samples of the last neighborWindow and a bit, oldest first
	pending []sample
}

// Plausibility marks suspect the readings that are possible (they passed the range checks)
// but implausible for their station: a step faster than the metric can change, a value far
// outside the station's own range, a river rising where the gauges up- and downstream do not.
// It keeps its memory per process (rebuilt from new readings after a restart).
type Plausibility struct {
	catalog func() *Catalog
	// OnSuspect, when set, counts each suspect reading by why.
	OnSuspect func(why string)

	mu     sync.Mutex
	series map[seriesKey]*series
	// related are the sensors with neighbours or named as one, in relatedOf's catalog: only
	// their water levels keep recent samples.
	related   map[string]bool
	relatedOf *Catalog
}

// NewPlausibility judges readings against the sensors catalog returns (the one in use).
func NewPlausibility(catalog func() *Catalog) *Plausibility {
	return &Plausibility{catalog: catalog, series: map[seriesKey]*series{}}
}

// Judge marks r suspect when it is implausible and says why ("" when it is plausible).
func (p *Plausibility) Judge(r *Reading) string {
	def := Metrics[r.Metric]
	if def.MaxStep == 0 || r.Text != "" || r.Quality != QualityGood {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := seriesKey{r.Sensor, r.Metric}
	s := p.series[k]
	if s == nil {
		s = &series{lo: r.Value, hi: r.Value}
		p.series[k] = s
	}
	why := p.judge(s, r, def)
	if why == "" {
		s.accept(sample{r.Time, r.Value}, r.Metric == "water_level" && p.isRelated(r.Sensor))
		return ""
	}
	if s.confirmedBy(sample{r.Time, r.Value}, def.MaxStep) {
		return "" // a new normal, accepted from now on
	}
	r.Quality = QualitySuspect
	if p.OnSuspect != nil {
		p.OnSuspect(why)
	}
	return why
}

func (p *Plausibility) judge(s *series, r *Reading, def MetricDef) string {
	if s.n == 0 {
		return ""
	}
	if dt := r.Time.Sub(s.last.t); dt > 0 {
		if math.Abs(r.Value-s.last.v) > def.MaxStep*math.Max(dt.Minutes(), 1) {
			return SuspectStep
		}
	}
	if s.n >= historyWarmup {
		width := math.Max(s.hi-s.lo, def.MaxStep)
		if r.Value > s.hi+width || r.Value < s.lo-width {
			return SuspectHistory
		}
	}
	if r.Metric == "water_level" {
		return p.neighbors(s, r)
	}
	return ""
}

// neighbors calls a rise of more than neighborRise over neighborWindow suspect when the
// catalog names neighbours, some of them reported over the window, and none rose with it.
func (p *Plausibility) neighbors(s *series, r *Reading) string {
	cat := p.catalog()
	if cat == nil {
		return ""
	}
	sensor := cat.Lookup(r.Sensor)
	if sensor == nil || len(sensor.Neighbors) == 0 {
		return ""
	}
	rise, ok := s.riseTo(sample{r.Time, r.Value})
	if !ok || rise <= neighborRise {
		return ""
	}
	asked := 0
	for _, id := range sensor.Neighbors {
		nb := p.series[seriesKey{id, r.Metric}]
		if nb == nil {
			continue
		}
		nrise, ok := nb.riseTo(nb.last)
		if !ok || r.Time.Sub(nb.last.t) > neighborWindow {
			continue // the neighbour has not reported lately: it cannot say
		}
		asked++
		if nrise >= neighborShare*rise {
			return ""
		}
	}
	if asked == 0 {
		return ""
	}
	return SuspectNeighbors
}

// isRelated reports whether sensor has neighbours or is one (called with p.mu held).
func (p *Plausibility) isRelated(sensor string) bool {
	cat := p.catalog()
	if cat == nil {
		return false
	}
	if cat != p.relatedOf { // a reloaded catalog
		p.related, p.relatedOf = map[string]bool{}, cat
		for _, s := range cat.Sensors {
			if len(s.Neighbors) > 0 {
				p.related[s.ID] = true
				for _, n := range s.Neighbors {
					p.related[n] = true
				}
			}
		}
	}
	return p.related[sensor]
}

// riseTo is how much x is above the lowest plausible sample of the neighborWindow before it,
// and whether the series reaches that far back.
func (s *series) riseTo(x sample) (float64, bool) {
	from := x.t.Add(-neighborWindow)
	low, covered := math.Inf(1), false
	for _, o := range s.recent {
		if o.t.After(x.t) {
			break
		}
		if !o.t.After(from) {
			covered = true
			continue
		}
		low = math.Min(low, o.v)
	}
	if !covered || math.IsInf(low, 1) {
		return 0, false
	}
	return x.v - low, true
}

// recentEvery is the least time between two kept recent samples: the neighbours' comparison
// over an hour needs no more, and a fast sensor's memory stays about 80 samples.
const recentEvery = time.Minute

// accept makes x the series' last plausible sample; keepRecent also keeps it for the
// neighbours' comparisons.
func (s *series) accept(x sample, keepRecent bool) {
	s.pending = s.pending[:0]
	if s.n == 0 || x.t.After(s.last.t) {
		s.last = x
	}
	s.n++
	s.lo, s.hi = math.Min(s.lo, x.v), math.Max(s.hi, x.v)
	if !keepRecent {
		return
	}
	if n := len(s.recent); n > 0 && x.t.Sub(s.recent[n-1].t) < recentEvery {
		return
	}
	cut := x.t.Add(-neighborWindow - 10*time.Minute)
	drop := 0
	for drop < len(s.recent) && s.recent[drop].t.Before(cut) && drop < len(s.recent)-1 {
		drop++
	}
	s.recent = append(s.recent[drop:], x)
}

// confirmedBy adds a suspect sample to the run of suspect samples; once confirmAfter of them
// agree with each other (each within the metric's step of the one before) the series takes
// them as its new normal and the last is accepted.
func (s *series) confirmedBy(x sample, maxStep float64) bool {
	if n := len(s.pending); n > 0 {
		prev := s.pending[n-1]
		if math.Abs(x.v-prev.v) > maxStep*math.Max(x.t.Sub(prev.t).Minutes(), 1) {
			s.pending = s.pending[:0]
		}
	}
	s.pending = append(s.pending, x)
	if len(s.pending) < confirmAfter {
		return false
	}
	keepRecent := s.recent != nil
	*s = series{lo: x.v, hi: x.v}
	s.accept(x, keepRecent)
	return true
}
