package alerts

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// Notification is one alert event that goes out to units.
type Notification struct {
	Event Event
	// Units are the units that receive it.
	Units []string
	// Group is the routing group: notifiers send the notifications of one group together.
	Group string
}

// core is the engine's state machine: rules, live alerts, silences. It is pure (no I/O, no
// clock of its own: every call takes now) and owned by one goroutine; each call appends the
// events it made to events and the notifications to notes.
type core struct {
	rules     []*compiled
	byName    map[string]*compiled
	byMetric  map[string][]*compiled
	absence   []*compiled
	composite []*compiled
	camState  []*compiled
	camEvent  []*compiled
	citizen   []*compiled
	calendar  *Calendar
	route     *Route
	inhibit   []Inhibit
	sensors   *ingest.Catalog
	cameras   *streams.CameraCatalog
	districts []string
	since     time.Time

	alerts map[string]*live // by fingerprint: pending, firing and acknowledged alerts
	byID   map[string]*live
	// closed holds the fingerprints an operator resolved while their condition still held,
	// with the severity then: the condition opens no new alert until it clears or worsens.
	closed     map[string]Severity
	silences   map[string]*Silence
	lastActive map[[2]string]time.Time // composite rules: rule and district → last active
	// triaged holds the citizen reports the engine has triaged, with when they were received.
	triaged map[string]time.Time

	events []Event
	notes  []Notification
	// uneval counts a reading or event a rule cannot evaluate, by rule and reason.
	uneval func(rule, reason string)
}

// live is an alert the engine tracks, with what the lifecycle needs.
type live struct {
	Alert
	rule     *compiled
	routing  routing
	clearing time.Time // when its condition stopped (clear_for runs)
	notified bool      // its firing went out (false while it was muted)
	grade    grade
}

func newCore(rf *RuleFile, sensors *ingest.Catalog, cameras *streams.CameraCatalog, now time.Time) *core {
	c := &core{since: now, alerts: map[string]*live{}, byID: map[string]*live{}, closed: map[string]Severity{},
		silences: map[string]*Silence{}, lastActive: map[[2]string]time.Time{}, triaged: map[string]time.Time{}, uneval: func(string, string) {}}
	c.setCatalogs(sensors, cameras, now)
	c.setRules(rf, now)
	return c
}

// setRules puts a rule file in force. Rules whose definition did not change keep their
// memory (windows, levels); alerts of removed rules resolve.
func (c *core) setRules(rf *RuleFile, now time.Time) {
	old := c.byName
	c.rules, c.byName, c.byMetric = nil, map[string]*compiled{}, map[string][]*compiled{}
	c.absence, c.composite, c.camState, c.camEvent, c.citizen = nil, nil, nil, nil, nil
	for i := range rf.Rules {
		r := &rf.Rules[i]
		cr := old[r.Name]
		if cr == nil || !reflect.DeepEqual(*cr.Rule, *r) {
			cr = compile(r)
		}
		c.rules = append(c.rules, cr)
		c.byName[r.Name] = cr
		switch r.Kind {
		case KindThreshold, KindAlarmLevels, KindRate, KindWindow:
			c.byMetric[r.Metric] = append(c.byMetric[r.Metric], cr)
		case KindCameraState:
			c.camState = append(c.camState, cr)
		case KindCameraEvent:
			c.camEvent = append(c.camEvent, cr)
		case KindAbsence:
			c.absence = append(c.absence, cr)
		case KindComposite:
			c.composite = append(c.composite, cr)
		case KindCitizenReport:
			c.citizen = append(c.citizen, cr)
		}
	}
	c.route, c.inhibit, c.calendar = &rf.Route, rf.Inhibit, &rf.Calendar
	c.rebind(now)
}

// rebind binds every live alert again, after the rules or the catalogs changed.
func (c *core) rebind(now time.Time) {
	for _, l := range c.sortedAlerts() {
		c.bind(l, now)
	}
}

// bind ties a live alert to its rule in force: a rule that changed (or an alert restored at
// start) takes the alert's level into the rule's memory, and the route is walked again; the
// alert of a removed rule, or of a sensor or camera no longer in its catalog, resolves (nothing
// would ever judge it again), but a citizen alert, which moves to the citizen rule that takes
// its category now (if any).
func (c *core) bind(l *live, now time.Time) {
	cr := c.byName[l.Rule]
	if cr == nil && l.Source == SourceCitizen { // reports go on under the rule that takes them now
		if cr = c.citizenRule(l.SubCategory); cr != nil {
			l.Rule = cr.Name
		}
	}
	if cr == nil {
		c.resolve(l, now, ActorEngine, Text{VI: "quy tắc đã bị gỡ", EN: "rule removed"})
		return
	}
	if c.gone(&l.Alert) {
		c.resolve(l, now, ActorEngine, Text{VI: "đối tượng không còn trong danh mục", EN: "subject no longer in the catalog"})
		return
	}
	if cr != l.rule {
		l.rule = cr
		cr.restoreStep(l)
	}
	l.routing = c.route.route(&l.Alert)
}

// gone tells whether an alert's sensor or camera has left its catalog (a catalog the engine
// has: without one, nothing is known of the subjects).
func (c *core) gone(a *Alert) bool {
	switch a.Source {
	case SourceSensor:
		return c.sensors != nil && c.sensors.Lookup(a.Subject) == nil
	case SourceCamera:
		return c.cameras != nil && c.cameras.Lookup(a.Subject) == nil
	}
	return false
}

// setCatalogs gives the engine the sensor and camera catalogs (subjects' names, districts,
// alarm levels, intervals) and binds the live alerts again: an alert whose subject left its
// catalog resolves.
func (c *core) setCatalogs(sensors *ingest.Catalog, cameras *streams.CameraCatalog, now time.Time) {
	c.sensors, c.cameras = sensors, cameras
	set := map[string]bool{}
	if sensors != nil {
		for _, s := range sensors.Sensors {
			set[s.District] = true
		}
	}
	if cameras != nil {
		for _, cam := range cameras.Cameras {
			set[cam.District] = true
		}
	}
	c.districts = c.districts[:0]
	for d := range set {
		if d != "" {
			c.districts = append(c.districts, d)
		}
	}
	sort.Strings(c.districts)
	c.rebind(now)
}

// observe evaluates readings.
func (c *core) observe(readings []ingest.Reading, now time.Time) {
	for i := range readings {
		r := &readings[i]
		var s *ingest.Sensor
		if c.sensors != nil {
			s = c.sensors.Lookup(r.Sensor)
		}
		for _, cr := range c.absence {
			cr.seen(SourceSensor, r.Sensor, r.Received)
		}
		rules := c.byMetric[r.Metric]
		if len(rules) == 0 {
			continue
		}
		if s == nil {
			for _, cr := range rules {
				c.uneval(cr.Name, unevalUnknown)
			}
			continue
		}
		for _, cr := range rules {
			if !cr.Select.selectsSensor(s) {
				continue
			}
			cond, reason, ok := cr.reading(r, s)
			if !ok {
				c.uneval(cr.Name, reason)
				continue
			}
			cond.suspect = r.Quality == ingest.QualitySuspect
			c.apply(cond, now)
		}
	}
}

// maxSilenceHorizon bounds how far back the engine looks for subjects' last reports at start.
const maxSilenceHorizon = 7 * 24 * time.Hour

// silenceHorizon is how far back a last report matters to the absence rules: twice the longest
// limit of any of their subjects (a subject quiet for longer is silent either way; its
// restored alert stays until it reports).
func (c *core) silenceHorizon() time.Duration {
	var longest time.Duration
	for _, cr := range c.absence {
		longest = max(longest, cr.After)
		if c.sensors != nil && cr.After == 0 {
			for i := range c.sensors.Sensors {
				longest = max(longest, cr.sensorLimit(&c.sensors.Sensors[i]))
			}
		}
	}
	return min(2*longest, maxSilenceHorizon)
}

// restoreSeen gives the absence rules the subjects' last reports from the store (at start).
func (c *core) restoreSeen(sensors, cameras map[string]time.Time) {
	for _, cr := range c.absence {
		for id, t := range sensors {
			cr.seen(SourceSensor, id, t)
		}
		for id, t := range cameras {
			cr.seen(SourceCamera, id, t)
		}
	}
}

// warm feeds stored readings into the rate and window rules' memory, judging nothing.
func (c *core) warm(readings []ingest.Reading) {
	for i := range readings {
		r := &readings[i]
		s := c.sensors.Lookup(r.Sensor)
		if s == nil {
			continue
		}
		for _, cr := range c.byMetric[r.Metric] {
			if cr.Select.selectsSensor(s) {
				cr.warm(r, s)
			}
		}
	}
}

// observeCameras evaluates camera statuses and events.
func (c *core) observeCameras(statuses []streams.CameraStatus, events []streams.CameraEvent, now time.Time) {
	for i := range statuses {
		s := &statuses[i]
		c.seenCamera(s.Camera, s.Time)
		c.forCamera(s.Camera, c.camState, func(cr *compiled) { c.apply(cr.cameraState(s), now) })
	}
	for i := range events {
		e := &events[i]
		c.seenCamera(e.Camera, e.Received)
		c.forCamera(e.Camera, c.camEvent, func(cr *compiled) {
			if cond, ok := cr.cameraEvent(e, now); ok {
				c.apply(cond, now)
			}
		})
	}
}

// forCamera calls f for each of rules that watches camera id; for a camera missing from the
// catalog each rule counts an unevaluable observation.
func (c *core) forCamera(id string, rules []*compiled, f func(*compiled)) {
	cam := c.camera(id)
	for _, cr := range rules {
		switch {
		case cam == nil:
			c.uneval(cr.Name, unevalUnknown)
		case cr.Select.selectsCamera(cam):
			f(cr)
		}
	}
}

func (c *core) seenCamera(id string, t time.Time) {
	for _, cr := range c.absence {
		cr.seen(SourceCamera, id, t)
	}
}

func (c *core) camera(id string) *streams.Camera {
	if c.cameras == nil {
		return nil
	}
	return c.cameras.Lookup(id)
}

// tick runs what time alone changes: pending alerts fire, clearing ones resolve, event alerts
// expire, silent subjects and composite conditions are judged, unacknowledged alerts and
// citizen alerts past their deadline escalate, and alerts whose silence ended go out.
func (c *core) tick(now time.Time) {
	for _, l := range c.sortedAlerts() {
		switch {
		case l.State == StatePending && now.Sub(l.StartsAt) >= l.rule.For:
			c.fire(l, now)
		case l.State.Active() && !l.clearing.IsZero() && now.Sub(l.clearing) >= l.rule.ClearFor:
			c.resolve(l, now, ActorEngine, Text{VI: "điều kiện đã hết đủ thời gian", EN: "condition cleared"})
		}
	}
	var conds []condition
	for _, cr := range c.camEvent {
		conds = cr.expireEvents(now, conds)
	}
	for _, cr := range c.absence {
		conds = cr.absence(now, c.since, c.sensors, c.cameras, conds)
	}
	for _, cond := range conds {
		c.apply(cond, now)
	}
	c.judgeComposites(now)
	for _, l := range c.sortedAlerts() {
		c.overdue(l, now)
		if l.State != StateFiring {
			continue
		}
		if steps := l.routing.escalate; l.Escalation < len(steps) && now.Sub(l.FiredAt) >= steps[l.Escalation].After {
			st := steps[l.Escalation]
			l.Escalation++
			l.Units = mergeUnits(l.Units, st.Units)
			c.emit(l, EventEscalated, ActorEngine, Text{VI: fmt.Sprintf("chưa được xác nhận sau %s; chuyển thêm cho %v", st.After, st.Units),
				EN: fmt.Sprintf("not acknowledged after %s; also sent to %v", st.After, st.Units)}, now)
			continue
		}
		if !l.notified && c.muted(l, now) == "" {
			l.Muted = ""
			l.notified = true
			a := l.Alert // the latest event again, now that it may go out
			a.Units = slices.Clone(l.Units)
			ev := Event{Time: now, Kind: EventFiring, Actor: ActorEngine, Reason: "hết tắt tiếng", Alert: a}
			c.notes = append(c.notes, Notification{Event: ev, Units: a.Units, Group: l.routing.group})
		}
	}
}

// judgeComposites brings composite rules up to date with the alerts now active.
func (c *core) judgeComposites(now time.Time) {
	if len(c.composite) == 0 {
		return
	}
	for _, l := range c.alerts {
		if l.State.Active() && l.District != "" {
			c.lastActive[[2]string{l.Rule, l.District}] = now
		}
	}
	var conds []condition
	for _, cr := range c.composite {
		conds = cr.composite(now, c.lastActive, c.districts, conds)
	}
	for _, cond := range conds {
		c.apply(cond, now)
	}
	for k, t := range c.lastActive {
		if now.Sub(t) > 7*24*time.Hour {
			delete(c.lastActive, k)
		}
	}
}

// apply runs one condition through the lifecycle.
func (c *core) apply(cond condition, now time.Time) {
	fp := fingerprint(cond.rule.Name, cond.source, cond.subject)
	l := c.alerts[fp]
	if !cond.active {
		delete(c.closed, fp)
		if l == nil {
			return
		}
		l.Value = cond.value
		switch {
		case l.State == StatePending:
			c.resolve(l, now, ActorEngine, Text{VI: "điều kiện hết trước khi đủ thời gian chờ (for)", EN: "condition ended before its wait (for) ran out"})
		case cond.rule.ClearFor > 0:
			if l.clearing.IsZero() {
				l.clearing = now
			}
		default:
			c.resolve(l, now, ActorEngine, Text{VI: "điều kiện đã hết", EN: "condition ended"})
		}
		return
	}
	if sev, ok := c.closed[fp]; ok {
		if cond.grade.severity.Rank() <= sev.Rank() {
			return
		}
		delete(c.closed, fp) // worse than when an operator closed it: a new alert
	}
	if l == nil {
		c.open(fp, cond, now)
		return
	}
	l.clearing = time.Time{}
	l.Value = cond.value
	confirmed := l.Suspect && !cond.suspect // a plausible reading keeps it: no longer suspect
	l.Suspect = l.Suspect && cond.suspect
	if cond.grade == l.grade {
		if confirmed && l.State != StatePending {
			c.render(l)
			c.emit(l, EventUpdated, ActorEngine, Text{VI: "được xác nhận bởi số đo hợp lý", EN: "confirmed by a plausible reading"}, now)
		}
		return
	}
	worse := cond.grade.severity.Rank() > l.grade.severity.Rank() || cond.grade.alarmLevel > l.grade.alarmLevel
	reason := gradeChange(l.grade, cond.grade)
	l.setGrade(cond.grade)
	if l.State == StatePending {
		return
	}
	if worse && l.State == StateAcknowledged {
		l.State = StateFiring // worse than what was acknowledged: someone must take it again
		l.AckedAt = time.Time{}
	}
	c.render(l)
	l.routing = c.route.route(&l.Alert)
	l.Units = mergeUnits(l.Units, l.routing.units)
	c.emit(l, EventUpdated, ActorEngine, reason, now)
}

// gradeChange says what changed from one grade to the next, old before new: the severity,
// the báo động level, the disaster risk level (only what changed).
func gradeChange(from, to grade) Text {
	var vi, en []string
	if from.severity != to.severity {
		vi = append(vi, fmt.Sprintf("mức độ %s → %s", from.severity.Vietnamese(), to.severity.Vietnamese()))
		en = append(en, fmt.Sprintf("severity %s → %s", from.severity, to.severity))
	}
	if from.alarmLevel != to.alarmLevel {
		vi = append(vi, fmt.Sprintf("báo động %s → %s", roman(from.alarmLevel), roman(to.alarmLevel)))
		en = append(en, fmt.Sprintf("alarm level %s → %s", roman(from.alarmLevel), roman(to.alarmLevel)))
	}
	if from.risk != to.risk {
		vi = append(vi, fmt.Sprintf("cấp độ rủi ro %d → %d", from.risk, to.risk))
		en = append(en, fmt.Sprintf("risk level %d → %d", from.risk, to.risk))
	}
	return Text{VI: strings.Join(vi, "; "), EN: strings.Join(en, "; ")}
}

// roman writes a báo động level (1, 2, 3) as Vietnamese notices do (I, II, III); "–" for none.
func roman(level int) string {
	if level < 1 || level > 3 {
		return "–"
	}
	return []string{"I", "II", "III"}[level-1]
}

func (l *live) setGrade(g grade) {
	l.grade = g
	l.Severity, l.RiskLevel, l.AlarmLevel = g.severity, g.risk, g.alarmLevel
}

// open starts an alert for a condition that began to hold.
func (c *core) open(fp string, cond condition, now time.Time) {
	r := cond.rule
	l := &live{rule: r, Alert: Alert{
		ID: alertID(fp, now), Fingerprint: fp, Rule: r.Name, Source: cond.source, Subject: cond.subject,
		Category: r.Category, SubCategory: r.SubCategory, Public: r.Public, CAPExpires: r.CAPExpires, Metric: r.Metric,
		Value: cond.value, StartsAt: now, State: StatePending, Suspect: cond.suspect,
	}}
	l.setGrade(cond.grade)
	c.describeSubject(&l.Alert, cond)
	c.alerts[fp] = l
	c.byID[l.ID] = l
	c.render(l)
	if r.For > 0 {
		c.emit(l, EventPending, ActorEngine, Text{VI: "điều kiện bắt đầu", EN: "condition began"}, now)
		return
	}
	c.fire(l, now)
}

// describeSubject copies the subject's name and place from its catalog.
func (c *core) describeSubject(a *Alert, cond condition) {
	switch cond.source {
	case SourceSensor:
		if c.sensors == nil {
			return
		}
		if s := c.sensors.Lookup(cond.subject); s != nil {
			a.SubjectName, a.District, a.Commune, a.Basin, a.Location = s.Name, s.District, s.Commune, s.Basin, s.Location
		}
	case SourceCamera:
		if cam := c.camera(cond.subject); cam != nil {
			a.SubjectName, a.District, a.Commune, a.Location = cam.Name, cam.District, cam.Commune, cam.Location
		}
	case SourceDistrict:
		a.SubjectName, a.District = cond.district, cond.district
	case SourceCitizen:
		c.describeReport(a, cond)
	}
}

func (c *core) render(l *live) {
	l.Title = l.rule.title.render(&l.Alert, l.rule.Title)
	l.Description = l.rule.desc.render(&l.Alert, l.rule.Description)
	l.Instruction = l.rule.instr.render(&l.Alert, l.rule.Instruction)
}

// fire moves a pending (or new) alert to firing and sends it to its units.
func (c *core) fire(l *live, now time.Time) {
	l.State, l.FiredAt = StateFiring, now
	l.routing = c.route.route(&l.Alert)
	l.Units = l.routing.units
	c.render(l)
	c.emit(l, EventFiring, ActorEngine, Text{VI: "điều kiện đã giữ đủ thời gian", EN: "condition held long enough"}, now)
}

// resolve ends an alert.
func (c *core) resolve(l *live, now time.Time, actor string, reason Text) {
	wasPending := l.State == StatePending
	l.State, l.EndsAt = StateResolved, now
	delete(c.alerts, l.Fingerprint)
	delete(c.byID, l.ID)
	if wasPending {
		l.notified = false // nobody heard of it: nobody needs to hear it ended
	}
	c.emit(l, EventResolved, actor, reason, now)
}

// emit records an event and, when it goes out and the alert is not muted, a notification.
func (c *core) emit(l *live, kind EventKind, actor string, reason Text, now time.Time) {
	if kind.notifies() {
		l.Muted = c.muted(l, now)
	}
	ev := c.snapshot(l, kind, actor, reason, now)
	l.Seq = ev.Alert.Seq
	l.UpdatedAt = now
	c.events = append(c.events, ev)
	if !kind.notifies() || l.Muted != "" || l.State == StatePending {
		return
	}
	if kind == EventResolved && !l.notified {
		return // the end of an alert nobody was told of stays quiet
	}
	l.notified = true
	c.notes = append(c.notes, Notification{Event: ev, Units: ev.Alert.Units, Group: l.routing.group})
}

func (c *core) snapshot(l *live, kind EventKind, actor string, reason Text, now time.Time) Event {
	a := l.Alert
	a.Seq++
	a.UpdatedAt = now
	a.Units = slices.Clone(l.Units)
	a.Reports = slices.Clone(l.Reports)
	return Event{Time: now, Kind: kind, Actor: actor, Reason: reason.VI, ReasonEN: reason.EN, Alert: a}
}

// muted says why l must not be notified now, or "".
func (c *core) muted(l *live, now time.Time) string {
	ids := make([]string, 0, len(c.silences))
	for id := range c.silences {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if s := c.silences[id]; s.ActiveAt(now) && s.Matchers.Matches(&l.Alert) {
			return "silenced by " + id
		}
	}
	for _, in := range c.inhibit {
		if !in.Target.Matches(&l.Alert) {
			continue
		}
		for _, src := range c.sortedAlerts() {
			if src == l || !src.State.Active() || !in.Source.Matches(&src.Alert) {
				continue
			}
			if equalLabels(in.Equal, &src.Alert, &l.Alert) {
				return "inhibited by " + src.ID
			}
		}
	}
	return ""
}

func equalLabels(names []string, a, b *Alert) bool {
	for _, n := range names {
		if a.Label(n) != b.Label(n) {
			return false
		}
	}
	return true
}

func mergeUnits(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// sortedAlerts lists the live alerts in a stable order (by start, then id), so that runs are
// reproducible.
func (c *core) sortedAlerts() []*live {
	out := make([]*live, 0, len(c.alerts))
	for _, l := range c.alerts {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.Before(out[j].StartsAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// restoreStep puts a rule's memory of the alert's subject where the alert is, so that
// hysteresis and expiry carry on after a restart or a rule change.
func (cr *compiled) restoreStep(l *live) {
	key := l.Subject
	if cr.Kind == KindAbsence {
		key = l.Source + ":" + l.Subject
	}
	st := cr.state(key)
	st.step = 0
	st.lastHit = l.UpdatedAt
	for i, s := range cr.steps {
		if s.grade.severity == l.Severity {
			st.step = i
		}
	}
	if cr.Kind == KindAlarmLevels && l.AlarmLevel > 0 {
		st.step = l.AlarmLevel - 1
	}
}

// restore takes the latest event of each alert that was not resolved (from the store, at
// start) as live alerts; none is notified again.
func (c *core) restore(latest []Event, now time.Time) {
	for _, ev := range latest {
		a := ev.Alert
		if a.State == StateResolved {
			continue
		}
		l := &live{Alert: a, notified: a.State != StatePending && a.Muted == ""}
		l.grade = grade{severity: a.Severity, risk: a.RiskLevel, alarmLevel: a.AlarmLevel}
		c.alerts[a.Fingerprint] = l
		c.byID[a.ID] = l
		for _, id := range a.Reports {
			c.triaged[id] = a.StartsAt
		}
		c.bind(l, now)
	}
}
