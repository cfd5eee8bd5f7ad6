package alerts

import (
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// grade is how bad a condition is.
type grade struct {
	severity   Severity
	risk       int
	alarmLevel int
}

// condition is what a rule says of one subject after an observation or a tick.
type condition struct {
	rule    *compiled
	source  string
	subject string
	active  bool
	grade   grade
	value   float64
	// district, when the subject is a district (composite rules).
	district string
	// suspect: the reading that decided is marked suspect by ingest's plausibility checks.
	suspect bool
	// report, when the subject is a citizen report (citizen_report rules).
	report *Report
}

// step is one level of a graded condition, in signed space (larger is worse).
type step struct {
	threshold float64
	// clear is how far below threshold the value must fall to leave the step.
	clear float64
	grade grade
}

// compiled is a validated rule ready to evaluate, with the state it keeps per subject.
type compiled struct {
	*Rule
	sign  float64 // +1 when larger is worse, -1 when smaller is
	steps []step  // threshold, rate and window rules
	match *regexp.Regexp
	hours hours
	title textTemplate
	desc  textTemplate
	instr textTemplate

	subjects map[string]*subjectState
}

// subjectState is a rule's memory of one sensor, camera or district.
type subjectState struct {
	step     int // the active step, -1 when inactive
	samples  []sample
	sum      float64
	lastSeen time.Time // absence: the last reading, status or event
	lastHit  time.Time // camera_event: the last matching event
}

type sample struct {
	t time.Time
	v float64
}

// Unevaluable reasons, counted in ioc_alerts_unevaluable_total.
const (
	unevalText        = "text_value"
	unevalNoLevels    = "no_alarm_levels"
	unevalUnknown     = "unknown_subject"
	unevalOutOfOrder  = "out_of_order"
	unevalNotFiniteAt = "not_finite"
	unevalTidal       = "tidal_skipped"
)

func compile(r *Rule) *compiled {
	c := &compiled{Rule: r, sign: 1, subjects: map[string]*subjectState{},
		title: compileText(r.Title), desc: compileText(r.Description), instr: compileText(r.Instruction)}
	if r.Op == "<" {
		c.sign = -1
	}
	switch {
	case len(r.Steps) > 0:
		for _, s := range r.Steps {
			c.steps = append(c.steps, step{threshold: c.sign * s.Threshold, clear: r.Hysteresis, grade: grade{severity: s.Severity, risk: s.RiskLevel}})
		}
	case r.Threshold != nil:
		clear := 0.0
		if r.Clear != nil {
			clear = math.Abs(*r.Threshold - *r.Clear)
		}
		c.steps = []step{{threshold: c.sign * *r.Threshold, clear: clear, grade: grade{severity: r.Severity, risk: r.RiskLevel}}}
	}
	c.hours, _ = parseHours(r.Hours)
	if r.Match != "" {
		c.match, _ = globRegexp(r.Match)
	}
	return c
}

func (c *compiled) state(subject string) *subjectState {
	st := c.subjects[subject]
	if st == nil {
		st = &subjectState{step: -1}
		c.subjects[subject] = st
	}
	return st
}

// level moves a subject between steps for value v: up to the worst step v passes, down only
// once v falls past a step's clear distance (hysteresis).
func level(steps []step, cur int, x float64) int {
	n := -1
	for i, s := range steps {
		if x > s.threshold {
			n = i
		}
	}
	return hold(steps, cur, x, n)
}

// hold keeps a subject at its current step cur while x has not fallen past the clear distance
// of a step above n, the step x passes now.
func hold(steps []step, cur int, x float64, n int) int {
	for k := cur; k > n; k-- {
		if x > steps[k].threshold-steps[k].clear {
			return k
		}
	}
	return n
}

// graded turns a subject's new step into a condition.
func (c *compiled) graded(st *subjectState, steps []step, x float64, source, subject string, v float64) condition {
	return c.stepTo(st, steps, level(steps, st.step, x), source, subject, v)
}

// stepTo puts a subject at step n and turns it into a condition.
func (c *compiled) stepTo(st *subjectState, steps []step, n int, source, subject string, v float64) condition {
	st.step = n
	cond := condition{rule: c, source: source, subject: subject, value: v, active: st.step >= 0}
	if cond.active {
		cond.grade = steps[st.step].grade
	}
	return cond
}

// alarmSteps are a river gauge's báo động I, II, III as steps.
func (c *compiled) alarmSteps(s *ingest.Sensor) []step {
	l := s.AlarmLevels
	g := c.Levels
	h := c.Hysteresis
	return []step{
		{threshold: l.I, clear: h, grade: grade{severity: g.I.Severity, risk: g.I.RiskLevel, alarmLevel: 1}},
		{threshold: l.II, clear: h, grade: grade{severity: g.II.Severity, risk: g.II.RiskLevel, alarmLevel: 2}},
		{threshold: l.III, clear: h, grade: grade{severity: g.III.Severity, risk: g.III.RiskLevel, alarmLevel: 3}},
	}
}

// selectsSensor reports whether the rule watches sensor s.
func (sel *Selector) selectsSensor(s *ingest.Sensor) bool {
	return (len(sel.Kinds) == 0 || slices.Contains(sel.Kinds, s.Kind)) &&
		(len(sel.Sensors) == 0 || slices.Contains(sel.Sensors, s.ID)) &&
		(len(sel.Districts) == 0 || slices.Contains(sel.Districts, s.District))
}

// selectsCamera reports whether the rule watches camera cam.
func (sel *Selector) selectsCamera(cam *streams.Camera) bool {
	return (len(sel.Purposes) == 0 || slices.Contains(sel.Purposes, cam.Purpose)) &&
		(len(sel.Cameras) == 0 || slices.Contains(sel.Cameras, cam.ID)) &&
		(len(sel.Districts) == 0 || slices.Contains(sel.Districts, cam.District))
}

// reading evaluates a reading rule (threshold, alarm_levels, rate, window) on r; ok is false
// when the rule cannot, with the reason.
func (c *compiled) reading(r *ingest.Reading, s *ingest.Sensor) (cond condition, reason string, ok bool) {
	if r.Text != "" {
		return condition{}, unevalText, false
	}
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return condition{}, unevalNotFiniteAt, false
	}
	st := c.state(s.ID)
	switch c.Kind {
	case KindThreshold:
		return c.graded(st, c.steps, c.sign*r.Value, SourceSensor, s.ID, r.Value), "", true
	case KindAlarmLevels:
		if s.AlarmLevels == nil {
			return condition{}, unevalNoLevels, false
		}
		// The station's level is ingest's rule (reaching a level is being at it); the steps
		// only add the hysteresis on the way down.
		steps := c.alarmSteps(s)
		n := hold(steps, st.step, r.Value, s.AlarmLevels.Level(r.Value)-1)
		return c.stepTo(st, steps, n, SourceSensor, s.ID, r.Value), "", true
	case KindRate:
		mode := c.tidalMode(s)
		if mode == TidalSkip {
			return condition{}, unevalTidal, false
		}
		if !st.add(r.Time, r.Value, c.history(s)) {
			return condition{}, unevalOutOfOrder, false
		}
		rate, ok := st.rate(c.Per, mode == TidalDetide)
		if !ok { // too little history to call it a rate
			return condition{rule: c, source: SourceSensor, subject: s.ID, active: st.step >= 0, grade: c.activeGrade(st)}, "", true
		}
		return c.graded(st, c.steps, c.sign*rate, SourceSensor, s.ID, rate), "", true
	case KindWindow:
		if !st.add(r.Time, r.Value, c.Window) {
			return condition{}, unevalOutOfOrder, false
		}
		v := st.aggregate(c.Agg)
		return c.graded(st, c.steps, c.sign*v, SourceSensor, s.ID, v), "", true
	}
	return condition{}, "", false
}

func (c *compiled) activeGrade(st *subjectState) grade {
	if st.step < 0 || st.step >= len(c.steps) {
		return grade{}
	}
	return c.steps[st.step].grade
}

// warm adds r to a rate or window rule's history without judging it: the engine warms its
// windows from stored readings at start.
func (c *compiled) warm(r *ingest.Reading, s *ingest.Sensor) {
	if r.Text != "" || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return
	}
	switch c.Kind {
	case KindRate:
		c.state(s.ID).add(r.Time, r.Value, c.history(s))
	case KindWindow:
		c.state(s.ID).add(r.Time, r.Value, c.Window)
	}
}

// lunarDay is the period after which the tide comes back to the same phase (the M2 tide's two
// cycles of 12 h 25 min).
const lunarDay = 24*time.Hour + 50*time.Minute

// tidalMode is how the rate rule c treats sensor s: as any gauge unless s is tidal.
func (c *compiled) tidalMode(s *ingest.Sensor) string {
	switch {
	case !s.Tidal:
		return TidalRaw
	case c.Tidal == "":
		return TidalDetide
	}
	return c.Tidal
}

// history is how much of sensor s's past the rate rule c keeps: per, and where it looks past
// the tide a lunar day and another per more (a sample before the lunar day's start to
// interpolate from).
func (c *compiled) history(s *ingest.Sensor) time.Duration {
	if c.Kind == KindRate && c.tidalMode(s) == TidalDetide {
		return tidalHistory(c.Per)
	}
	return c.Per
}

// tidalHistory is how much past a de-tided rate over per needs.
func tidalHistory(per time.Duration) time.Duration { return lunarDay + 2*per }

// rate is the change of the samples over per, scaled to per. With detide it is the change
// over the last per less the change over the same per a lunar day earlier, at the same phase
// of the tide: what rises beyond the tide (a semi-diurnal tide of 1.5 m amplitude moves a
// level 0.75 m an hour by itself). ok is false while the history is too short to say.
func (st *subjectState) rate(per time.Duration, detide bool) (float64, bool) {
	last := st.samples[len(st.samples)-1]
	if !detide {
		first := st.samples[0]
		span := last.t.Sub(first.t)
		if span < per/2 {
			return 0, false
		}
		return (last.v - first.v) / span.Seconds() * per.Seconds(), true
	}
	then, ok1 := st.at(last.t.Add(-per))
	day, ok2 := st.at(last.t.Add(-lunarDay))
	dayBefore, ok3 := st.at(last.t.Add(-lunarDay - per))
	if !ok1 || !ok2 || !ok3 {
		return 0, false
	}
	return (last.v - then) - (day - dayBefore), true
}

// at is the samples' value at t, interpolated between the two around it; ok is false outside
// them.
func (st *subjectState) at(t time.Time) (float64, bool) {
	i, found := slices.BinarySearchFunc(st.samples, t, func(s sample, t time.Time) int { return s.t.Compare(t) })
	switch {
	case found:
		return st.samples[i].v, true
	case i == 0 || i == len(st.samples):
		return 0, false
	}
	a, b := st.samples[i-1], st.samples[i]
	f := t.Sub(a.t).Seconds() / b.t.Sub(a.t).Seconds()
	return a.v + f*(b.v-a.v), true
}

// add appends a sample and forgets those older than span before the newest. A sample older
// than the whole window is refused; a late one inside it is put in its place.
func (st *subjectState) add(t time.Time, v float64, span time.Duration) bool {
	n := len(st.samples)
	if n > 0 && t.Before(st.samples[n-1].t) {
		if t.Before(st.samples[n-1].t.Add(-span)) {
			return false
		}
		i, _ := slices.BinarySearchFunc(st.samples, t, func(s sample, t time.Time) int { return s.t.Compare(t) })
		st.samples = slices.Insert(st.samples, i, sample{t, v})
	} else {
		st.samples = append(st.samples, sample{t, v})
	}
	st.sum += v
	newest := st.samples[len(st.samples)-1].t
	drop := 0
	for drop < len(st.samples) && !st.samples[drop].t.After(newest.Add(-span)) {
		st.sum -= st.samples[drop].v
		drop++
	}
	if drop > 0 {
		st.samples = slices.Delete(st.samples, 0, drop)
	}
	if len(st.samples) == 0 { // only when span is zero
		st.sum = 0
	}
	return true
}

func (st *subjectState) aggregate(agg string) float64 {
	switch agg {
	case "sum":
		return st.sum
	case "avg":
		return st.sum / float64(len(st.samples))
	case "count":
		return float64(len(st.samples))
	case "min", "max":
		v := st.samples[0].v
		for _, s := range st.samples[1:] {
			if (agg == "min") == (s.v < v) {
				v = s.v
			}
		}
		return v
	}
	return math.NaN()
}

// cameraState evaluates a camera_state rule on a status.
func (c *compiled) cameraState(s *streams.CameraStatus) condition {
	active := slices.Contains(c.States, string(s.State))
	cond := condition{rule: c, source: SourceCamera, subject: s.Camera, active: active}
	if active {
		cond.grade = grade{severity: c.Severity, risk: c.RiskLevel}
	}
	return cond
}

// cameraEvent evaluates a camera_event rule on an event; ok is false when the event is not
// one the rule watches. The alert it raises expires ResolveAfter after now.
func (c *compiled) cameraEvent(e *streams.CameraEvent, now time.Time) (condition, bool) {
	if !slices.Contains(c.Events, string(e.Kind)) ||
		(len(c.Classes) > 0 && !slices.Contains(c.Classes, e.ObjectClass)) ||
		(c.match != nil && !c.match.MatchString(e.Rule)) ||
		!c.hours.contains(e.Time) ||
		// a motion or intrusion event that ends is not a new one
		((e.Kind == streams.EventMotion || e.Kind == streams.EventIntrusion) && e.State == "false") {
		return condition{}, false
	}
	st := c.state(e.Camera)
	n := 1.0
	if e.Kind == streams.EventObjectCount && e.Count > 0 {
		n = float64(e.Count)
	}
	if c.Count > 0 {
		st.add(e.Time, n, c.Window)
		if st.sum <= float64(c.Count) {
			return condition{}, false
		}
		n = st.sum
	}
	st.lastHit = now
	st.step = 0
	return condition{rule: c, source: SourceCamera, subject: e.Camera, active: true,
		grade: grade{severity: c.Severity, risk: c.RiskLevel}, value: n}, true
}

// expireEvents ends camera_event conditions that saw no matching event for ResolveAfter.
func (c *compiled) expireEvents(now time.Time, out []condition) []condition {
	after := c.ResolveAfter
	if after == 0 {
		after = 10 * time.Minute
	}
	for cam, st := range c.subjects {
		if st.step >= 0 && now.Sub(st.lastHit) >= after {
			st.step = -1
			out = append(out, condition{rule: c, source: SourceCamera, subject: cam})
		}
	}
	return out
}

// absence judges every selected sensor or camera: silent for longer than its limit is active.
// Silence counts from the subject's last report (restored from the store at start, so a
// restart neither resolves nor raises again what still holds); a subject never heard from
// counts from since, when the engine started, and one whose restored alert is active stays
// silent until it reports.
func (c *compiled) absence(now, since time.Time, sensors *ingest.Catalog, cameras *streams.CameraCatalog, out []condition) []condition {
	judge := func(source, id string, limit time.Duration) {
		st := c.state(source + ":" + id)
		last := st.lastSeen
		if last.IsZero() {
			if st.step >= 0 {
				return
			}
			last = since
		}
		silent := now.Sub(last)
		active := limit > 0 && silent > limit
		if active == (st.step >= 0) {
			return
		}
		st.step = -1
		cond := condition{rule: c, source: source, subject: id, value: silent.Seconds()}
		if active {
			st.step = 0
			cond.active = true
			cond.grade = grade{severity: c.Severity, risk: c.RiskLevel}
		}
		out = append(out, cond)
	}
	cameraRule := len(c.Select.Purposes) > 0 || len(c.Select.Cameras) > 0
	sensorRule := len(c.Select.Kinds) > 0 || len(c.Select.Sensors) > 0
	if sensors != nil && !cameraRule {
		for i := range sensors.Sensors {
			s := &sensors.Sensors[i]
			if !c.Select.selectsSensor(s) {
				continue
			}
			judge(SourceSensor, s.ID, c.sensorLimit(s))
		}
	}
	if cameras != nil && !sensorRule {
		for i := range cameras.Cameras {
			cam := &cameras.Cameras[i]
			if c.Select.selectsCamera(cam) {
				judge(SourceCamera, cam.ID, c.After)
			}
		}
	}
	return out
}

// sensorLimit is how long sensor s may be silent before the absence rule c judges it so.
func (c *compiled) sensorLimit(s *ingest.Sensor) time.Duration {
	if c.After > 0 {
		return c.After
	}
	return s.SilentAfter()
}

// seen records that a subject reported at t (absence rules).
func (c *compiled) seen(source, id string, t time.Time) {
	st := c.state(source + ":" + id)
	if t.After(st.lastSeen) {
		st.lastSeen = t
	}
}

// composite judges each district: active when every named rule has had an active alert there
// within Window. lastActive maps rule name and district to the last time one was active.
func (c *compiled) composite(now time.Time, lastActive map[[2]string]time.Time, districts []string, out []condition) []condition {
	for _, d := range districts {
		active := true
		for _, name := range c.All {
			t, ok := lastActive[[2]string{name, d}]
			if !ok || now.Sub(t) > c.Window {
				active = false
				break
			}
		}
		if len(c.Select.Districts) > 0 && !slices.Contains(c.Select.Districts, d) {
			active = false
		}
		st := c.state(d)
		if active == (st.step >= 0) {
			continue
		}
		st.step = -1
		cond := condition{rule: c, source: SourceDistrict, subject: d, district: d}
		if active {
			st.step = 0
			cond.active = true
			cond.grade = grade{severity: c.Severity, risk: c.RiskLevel}
		}
		out = append(out, cond)
	}
	return out
}
