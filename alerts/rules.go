package alerts

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// DefaultRules is the built-in rule file (the same as deploy/rules/rules.example.yaml): the
// province's usual floods, landslides, salinity, fire, traffic and camera rules.
//
//go:embed rules.default.yaml
var DefaultRules []byte

// Rule kinds.
const (
	KindThreshold   = "threshold"    // a value over (or under) a level, optionally in steps
	KindAlarmLevels = "alarm_levels" // a river gauge's báo động I, II, III from the catalog
	KindRate        = "rate"         // a value rising (or falling) faster than a rate
	KindWindow      = "window"       // a sum, average, minimum, maximum or count over a window
	KindAbsence     = "absence"      // a sensor or camera silent too long
	KindCameraState = "camera_state" // a camera offline or degraded
	KindCameraEvent = "camera_event" // a camera's analytics events (at night, counted per window)
	KindComposite   = "composite"    // other rules' alerts together in one district
	// KindCitizenReport routes citizen reports (phản ánh hiện trường): one alert per group of
	// reports of a category within GroupRadiusM and GroupWindow.
	KindCitizenReport = "citizen_report"
)

// How a rate rule treats tidal gauges (its tidal setting; "" is TidalDetide).
const (
	// TidalDetide judges the rise beyond the tide's: the level's change over per minus its
	// change over the same per one lunar day (24 h 50 min) earlier, at the same phase of the
	// tide.
	TidalDetide = "detide"
	// TidalRaw judges the level's rate as on any other gauge.
	TidalRaw = "raw"
	// TidalSkip leaves tidal gauges out of the rule.
	TidalSkip = "skip"
)

// TidalModes lists the tidal settings of a rate rule.
var TidalModes = []string{TidalDetide, TidalRaw, TidalSkip}

// RuleKinds lists the rule kinds.
var RuleKinds = []string{KindThreshold, KindAlarmLevels, KindRate, KindWindow, KindAbsence, KindCameraState, KindCameraEvent, KindComposite, KindCitizenReport}

// RuleFile is the alert rules file: the rules, the routing tree and the inhibition rules. It
// is loaded whole or not at all.
type RuleFile struct {
	Rules   []Rule    `yaml:"rules"`
	Route   Route     `yaml:"route"`
	Inhibit []Inhibit `yaml:"inhibit"`
	// Calendar says which days are working days, for the citizen reports' deadlines.
	Calendar Calendar `yaml:"calendar"`
}

// Rule is one alert rule.
type Rule struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Select narrows the sensors or cameras the rule watches; empty watches all.
	Select Selector `yaml:"select"`
	// Metric is the watched metric (threshold, alarm_levels, rate, window).
	Metric string `yaml:"metric"`

	// Op is ">" (the default) or "<": which side of the threshold is bad.
	Op        string   `yaml:"op"`
	Threshold *float64 `yaml:"threshold"`
	// Clear is the level the value must come back past to end the alert (hysteresis); it
	// defaults to Threshold.
	Clear *float64 `yaml:"clear"`
	// Steps are graded thresholds, each with its severity, instead of one Threshold.
	Steps []Step `yaml:"steps"`
	// Hysteresis is how far back past a step the value must go to leave it (steps and
	// alarm_levels).
	Hysteresis float64 `yaml:"hysteresis"`
	// Levels are the severities of báo động I, II and III (alarm_levels).
	Levels *AlarmSteps `yaml:"levels"`

	// Per is the rate's time unit (rate): Threshold is in the metric's unit per Per.
	Per time.Duration `yaml:"per"`
	// Tidal says what a rate rule does on the catalog's tidal gauges: detide (the default)
	// judges the rise beyond the tide's, raw judges the level's rate as anywhere, skip leaves
	// tidal gauges out.
	Tidal string `yaml:"tidal"`
	// Window and Agg define a window aggregate (window, and camera_event counts).
	Window time.Duration `yaml:"window"`
	Agg    string        `yaml:"agg"`

	// After is how long a subject may stay silent (absence); zero takes three times the
	// sensor's catalog interval.
	After time.Duration `yaml:"after"`
	// States are the camera states that fire (camera_state).
	States []string `yaml:"states"`
	// Events, Classes, Match and Hours select camera events (camera_event); Count fires only
	// when more than Count events arrive within Window.
	Events  []string `yaml:"events"`
	Classes []string `yaml:"classes"`
	Match   string   `yaml:"match"`
	Hours   string   `yaml:"hours"`
	Count   int      `yaml:"count"`
	// All names the rules whose alerts must all be active in one district within Window
	// (composite).
	All []string `yaml:"all"`
	// Reports are the citizen report categories the rule takes (citizen_report; empty: every
	// category), DeadlineDays the working days the units have to answer them (0: no
	// deadline); an alert still open then is escalated to its route's escalation units.
	Reports      []string `yaml:"reports"`
	DeadlineDays int      `yaml:"deadline_days"`

	// For is how long the condition must hold before the alert fires; ClearFor how long it
	// must have stopped before the alert resolves.
	For      time.Duration `yaml:"for"`
	ClearFor time.Duration `yaml:"clear_for"`
	// ResolveAfter resolves an event-driven alert (camera_event) after this long without a
	// matching event; default 10m.
	ResolveAfter time.Duration `yaml:"resolve_after"`

	Severity    Severity `yaml:"severity"`
	RiskLevel   int      `yaml:"risk_level"`
	Category    string   `yaml:"category"`
	SubCategory string   `yaml:"sub_category"`
	// Public puts the rule's alerts on the CAP feed.
	Public bool `yaml:"public"`
	// CAPExpires is how long a public message stays valid after it is sent (CAP expires);
	// zero takes the category's default (DefaultCAPExpires).
	CAPExpires time.Duration `yaml:"cap_expires"`
	// Title and Description are text/template texts over the alert (.Subject, .SubjectName,
	// .District, .Value, .Metric, .AlarmLevel, .Severity…).
	Title       Text `yaml:"title"`
	Description Text `yaml:"description"`
	// Instruction tells the public what to do (CAP instruction).
	Instruction Text `yaml:"instruction"`
}

// Selector narrows a rule's subjects. Each non-empty list must contain the subject's value.
type Selector struct {
	Kinds     []string `yaml:"kinds"`     // sensor kinds
	Sensors   []string `yaml:"sensors"`   // sensor ids
	Purposes  []string `yaml:"purposes"`  // camera purposes
	Cameras   []string `yaml:"cameras"`   // camera ids
	Districts []string `yaml:"districts"` // districts of either
}

// Step is one graded threshold.
type Step struct {
	Threshold float64  `yaml:"threshold"`
	Severity  Severity `yaml:"severity"`
	RiskLevel int      `yaml:"risk_level"`
}

// AlarmSteps give báo động I, II and III their severities and risk levels.
type AlarmSteps struct {
	I   Grade `yaml:"i"`
	II  Grade `yaml:"ii"`
	III Grade `yaml:"iii"`
}

// Grade is the severity and disaster risk level of one alarm level.
type Grade struct {
	Severity  Severity `yaml:"severity"`
	RiskLevel int      `yaml:"risk_level"`
}

// Route is a node of the routing tree. An alert that matches a node goes to its units, and on
// to the first child it matches (every matching child when Continue is set on the children).
type Route struct {
	Match    map[string][]string `yaml:"match"`
	MatchRE  map[string]string   `yaml:"match_re"`
	Units    []string            `yaml:"units"`
	Continue bool                `yaml:"continue"`
	// GroupBy names the labels whose values group alerts into one notification.
	GroupBy []string `yaml:"group_by"`
	// Escalate lists the steps for an alert that nobody acknowledges; the deepest matched
	// node that has steps sets them.
	Escalate []Escalation `yaml:"escalate"`
	Routes   []Route      `yaml:"routes"`

	matchRE map[string]*regexp.Regexp
}

// Escalation is one step: after After without an acknowledgement the alert also goes to Units.
type Escalation struct {
	After time.Duration `yaml:"after"`
	Units []string      `yaml:"units"`
}

// Inhibit mutes the alerts matching Target while an active alert matching Source has the same
// values of the Equal labels (Alertmanager's inhibition).
type Inhibit struct {
	Source Matchers `yaml:"source"`
	Target Matchers `yaml:"target"`
	Equal  []string `yaml:"equal"`
}

// Matchers map a label to the values it may take.
type Matchers map[string][]string

// Matches reports whether a has one of the listed values of every label.
func (m Matchers) Matches(a *Alert) bool {
	for name, values := range m {
		if !slices.Contains(values, a.Label(name)) {
			return false
		}
	}
	return true
}

// LoadRules reads and validates the rule file at path, or the built-in rules when path is
// empty.
func LoadRules(path string) (*RuleFile, error) {
	if path == "" {
		rf, err := ParseRules(DefaultRules)
		if err != nil {
			return nil, fmt.Errorf("built-in rules:\n%w", err)
		}
		return rf, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	rf, err := ParseRules(data)
	var probs config.Problems
	if errors.As(err, &probs) {
		for i := range probs { // name the file: `ioc check` prints these beside the config's
			probs[i].Path = path + ": " + probs[i].Path
		}
		return nil, probs
	}
	return rf, err
}

// ParseRules decodes a rule file strictly and validates it; the error lists every problem
// with its path (config.Problems). Routes may name the units of config.Units.
func ParseRules(data []byte) (*RuleFile, error) {
	var rf RuleFile
	if probs := config.DecodeStrict(data, &rf); len(probs) > 0 {
		return nil, probs
	}
	if probs := rf.validate(config.Units); len(probs) > 0 {
		return nil, probs
	}
	return &rf, nil
}

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

func (rf *RuleFile) validate(units map[string]string) config.Problems {
	var p config.Problems
	if len(rf.Rules) == 0 {
		p.Add("rules", "empty: a rule file needs at least one rule")
	}
	names := map[string]int{}
	for i := range rf.Rules {
		r := &rf.Rules[i]
		path := fmt.Sprintf("rules[%d]", i)
		switch j, dup := names[r.Name]; {
		case !ruleName.MatchString(r.Name):
			p.Add(path+".name", "want lower-case letters, digits and _ . - (up to 64), got %q", r.Name)
		case dup:
			p.Add(path+".name", "%q is also rules[%d]", r.Name, j)
		default:
			names[r.Name] = i
		}
		r.validate(&p, path)
	}
	for i := range rf.Rules {
		for k, dep := range rf.Rules[i].All {
			j, ok := names[dep]
			switch {
			case !ok:
				p.Add(fmt.Sprintf("rules[%d].all[%d]", i, k), "no rule named %q", dep)
			case rf.Rules[j].Kind == KindComposite:
				p.Add(fmt.Sprintf("rules[%d].all[%d]", i, k), "%q is itself composite", dep)
			}
		}
	}
	rf.Route.validate(&p, "route", units, true)
	rf.Calendar.validate(p.Add)
	for i, in := range rf.Inhibit {
		path := fmt.Sprintf("inhibit[%d]", i)
		checkMatchers(&p, path+".source", in.Source)
		checkMatchers(&p, path+".target", in.Target)
		if len(in.Source) == 0 || len(in.Target) == 0 {
			p.Add(path, "needs both source and target matchers")
		}
		for k, l := range in.Equal {
			if !slices.Contains(LabelNames, l) {
				p.Add(fmt.Sprintf("%s.equal[%d]", path, k), "unknown label %q (known: %s)", l, strings.Join(LabelNames, ", "))
			}
		}
	}
	return p
}

func (r *Rule) validate(p *config.Problems, path string) {
	add := func(field, format string, args ...any) { p.Add(path+"."+field, format, args...) }
	if !slices.Contains(RuleKinds, r.Kind) {
		add("kind", "want one of %s, got %q", strings.Join(RuleKinds, ", "), r.Kind)
		return
	}
	r.validateTexts(add)
	r.validateGrade(add)
	r.validateSubjects(add)
	if check := kindChecks[r.Kind]; check != nil {
		check(r, add)
	}
}

// problemAdder reports a problem of a rule's field.
type problemAdder = func(field, format string, args ...any)

// validateTexts checks what every alert says: its category, and its texts' templates.
func (r *Rule) validateTexts(add problemAdder) {
	if _, ok := Categories[r.Category]; !ok {
		add("category", "want one of %s, got %q", config.SortedKeys(Categories), r.Category)
	}
	if r.SubCategory == "" && r.Kind != KindCitizenReport {
		add("sub_category", "missing (Smart Data Models subCategory, e.g. flood, trafficJam)")
	}
	if r.Title.VI == "" {
		add("title.vi", "missing: every alert needs a Vietnamese title")
	}
	for _, t := range []struct {
		field string
		text  Text
	}{{"title", r.Title}, {"description", r.Description}, {"instruction", r.Instruction}} {
		for _, l := range []struct{ lang, s string }{{"vi", t.text.VI}, {"en", t.text.EN}} {
			if _, err := parseTemplate(l.s); err != nil {
				add(t.field+"."+l.lang, "%v", err)
			}
		}
	}
}

// validateGrade checks how bad and how long: the severity (the rule's, or its steps' and
// levels'), the risk level, the durations.
func (r *Rule) validateGrade(add problemAdder) {
	if r.For < 0 || r.ClearFor < 0 || r.ResolveAfter < 0 {
		add("for", "durations must not be negative")
	}
	if r.CAPExpires < 0 || r.CAPExpires > 7*24*time.Hour {
		add("cap_expires", "want a duration up to 168h (0 for the category's default), got %s", r.CAPExpires)
	}
	if r.RiskLevel < 0 || r.RiskLevel > 5 {
		add("risk_level", "want 0 (none) or a disaster risk level 1-5, got %d", r.RiskLevel)
	}
	graded := r.Kind == KindAlarmLevels || len(r.Steps) > 0
	if !graded && r.Severity.Rank() < 0 {
		add("severity", "want one of %s, got %q", severityList(), r.Severity)
	}
	if graded && r.Severity != "" {
		add("severity", "set by each step or level; remove it here")
	}
}

// validateSubjects checks what the rule watches: a metric of sensors, or cameras, and the
// selector's kinds and purposes.
func (r *Rule) validateSubjects(add problemAdder) {
	sensorKind := r.Kind == KindThreshold || r.Kind == KindAlarmLevels || r.Kind == KindRate || r.Kind == KindWindow
	cameraKind := r.Kind == KindCameraState || r.Kind == KindCameraEvent
	if sensorKind && r.Metric == "" {
		add("metric", "missing")
	}
	if !sensorKind && r.Metric != "" && r.Kind != KindAbsence {
		add("metric", "a %s rule watches no metric", r.Kind)
	}
	if cameraKind && (len(r.Select.Kinds) > 0 || len(r.Select.Sensors) > 0) {
		add("select", "a %s rule selects cameras (purposes, cameras, districts)", r.Kind)
	}
	if sensorKind && (len(r.Select.Purposes) > 0 || len(r.Select.Cameras) > 0) {
		add("select", "a %s rule selects sensors (kinds, sensors, districts)", r.Kind)
	}
	for i, pu := range r.Select.Purposes {
		if _, ok := streams.Purposes[pu]; !ok {
			add(fmt.Sprintf("select.purposes[%d]", i), "unknown camera purpose %q (known: %s)", pu, config.SortedKeys(streams.Purposes))
		}
	}
	for i, k := range r.Select.Kinds {
		if _, ok := ingest.Kinds[k]; !ok {
			add(fmt.Sprintf("select.kinds[%d]", i), "unknown sensor kind %q (known: %s)", k, config.SortedKeys(ingest.Kinds))
		}
	}
	if r.Op != "" && r.Op != ">" && r.Op != "<" {
		add("op", `want ">" or "<", got %q`, r.Op)
	}
}

// kindChecks are each rule kind's own checks of its fields.
var kindChecks = map[string]func(r *Rule, add problemAdder){
	KindThreshold:   (*Rule).validateThreshold,
	KindAlarmLevels: (*Rule).validateAlarmLevels,
	KindRate:        (*Rule).validateRate,
	KindWindow:      (*Rule).validateWindow,
	KindAbsence: func(r *Rule, add problemAdder) {
		if r.After < 0 {
			add("after", "negative")
		}
	},
	KindCameraState:   (*Rule).validateCameraState,
	KindCitizenReport: (*Rule).validateCitizenReport,
	KindCameraEvent:   (*Rule).validateCameraEvent,
	KindComposite: func(r *Rule, add problemAdder) {
		if len(r.All) < 2 {
			add("all", "name at least two rules")
		}
		if r.Window <= 0 {
			add("window", "missing: how close together the rules' alerts must be")
		}
	},
}

func (r *Rule) validateAlarmLevels(add problemAdder) {
	if r.Levels == nil {
		add("levels", "missing: the severities of báo động i, ii and iii")
	} else {
		for _, l := range []struct {
			name string
			g    Grade
		}{{"i", r.Levels.I}, {"ii", r.Levels.II}, {"iii", r.Levels.III}} {
			checkGrade(add, "levels."+l.name, l.g.Severity, l.g.RiskLevel)
		}
	}
	if r.Threshold != nil || len(r.Steps) > 0 || r.Op == "<" {
		add("levels", "the levels come from the catalog: remove threshold, steps and op")
	}
}

func (r *Rule) validateRate(add problemAdder) {
	if r.Threshold == nil {
		add("threshold", "missing: the rate, in the metric's unit per `per`")
	}
	if r.Per <= 0 {
		add("per", "missing: the rate's time unit, e.g. 1h")
	}
	if r.Tidal != "" && !slices.Contains(TidalModes, r.Tidal) {
		add("tidal", "want one of %s, got %q", strings.Join(TidalModes, ", "), r.Tidal)
	}
}

func (r *Rule) validateWindow(add problemAdder) {
	r.validateThreshold(add)
	if r.Window <= 0 || r.Window > 7*24*time.Hour {
		add("window", "want a window between 1s and 168h, got %s", r.Window)
	}
	if !slices.Contains(aggs, r.Agg) {
		add("agg", "want one of %s, got %q", strings.Join(aggs, ", "), r.Agg)
	}
}

func (r *Rule) validateCameraState(add problemAdder) {
	if len(r.States) == 0 {
		add("states", "missing: offline, degraded or both")
	}
	for i, s := range r.States {
		if s != "offline" && s != "degraded" {
			add(fmt.Sprintf("states[%d]", i), "want offline or degraded, got %q", s)
		}
	}
}

func (r *Rule) validateCameraEvent(add problemAdder) {
	if len(r.Events) == 0 {
		add("events", "missing: the event kinds that fire (%s)", strings.Join(streams.EventKinds, ", "))
	}
	for i, e := range r.Events {
		if !slices.Contains(streams.EventKinds, e) {
			add(fmt.Sprintf("events[%d]", i), "want one of %s, got %q", strings.Join(streams.EventKinds, ", "), e)
		}
	}
	if _, err := parseHours(r.Hours); err != nil {
		add("hours", "%v", err)
	}
	if r.Match != "" {
		if _, err := globRegexp(r.Match); err != nil {
			add("match", "%v", err)
		}
	}
	if r.Count < 0 || (r.Count > 0 && r.Window <= 0) {
		add("count", "a count needs a positive window")
	}
}

func (r *Rule) validateThreshold(add problemAdder) {
	switch {
	case r.Threshold == nil && len(r.Steps) == 0:
		add("threshold", "missing: set threshold or steps")
	case r.Threshold != nil && len(r.Steps) > 0:
		add("steps", "set threshold or steps, not both")
	}
	if r.Clear != nil && r.Threshold != nil {
		if (r.Op == "<" && *r.Clear < *r.Threshold) || (r.Op != "<" && *r.Clear > *r.Threshold) {
			add("clear", "%g is past the threshold %g: the clear level lies on the good side", *r.Clear, *r.Threshold)
		}
	}
	for i, s := range r.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		checkGrade(add, path, s.Severity, s.RiskLevel)
		if i > 0 {
			prev := r.Steps[i-1]
			if (r.Op == "<") != (s.Threshold < prev.Threshold) || s.Threshold == prev.Threshold {
				add(path+".threshold", "steps go from the mildest to the worst: %g after %g", s.Threshold, prev.Threshold)
			}
		}
	}
	if r.Hysteresis < 0 {
		add("hysteresis", "negative")
	}
}

func checkGrade(add problemAdder, path string, s Severity, risk int) {
	if s.Rank() < 0 {
		add(path+".severity", "want one of %s, got %q", severityList(), s)
	}
	if risk < 0 || risk > 5 {
		add(path+".risk_level", "want 0 (none) or 1-5, got %d", risk)
	}
}

func (rt *Route) validate(p *config.Problems, path string, units map[string]string, root bool) {
	if root && len(rt.Units) == 0 {
		p.Add(path+".units", "the root route needs a unit that receives every alert (e.g. ioc)")
	}
	for i, u := range rt.Units {
		if _, ok := units[u]; !ok {
			p.Add(fmt.Sprintf("%s.units[%d]", path, i), "unknown unit %q (known: %s)", u, config.SortedKeys(units))
		}
	}
	checkMatchers(p, path+".match", rt.Match)
	rt.matchRE = map[string]*regexp.Regexp{}
	for name, expr := range rt.MatchRE {
		if !slices.Contains(LabelNames, name) {
			p.Add(path+".match_re."+name, "unknown label (known: %s)", strings.Join(LabelNames, ", "))
		}
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			p.Add(path+".match_re."+name, "%v", err)
			continue
		}
		rt.matchRE[name] = re
	}
	for i, l := range rt.GroupBy {
		if !slices.Contains(LabelNames, l) {
			p.Add(fmt.Sprintf("%s.group_by[%d]", path, i), "unknown label %q", l)
		}
	}
	var last time.Duration
	for i, e := range rt.Escalate {
		ep := fmt.Sprintf("%s.escalate[%d]", path, i)
		if e.After <= last {
			p.Add(ep+".after", "each step comes later than the one before (got %s)", e.After)
		}
		last = e.After
		if len(e.Units) == 0 {
			p.Add(ep+".units", "missing")
		}
		for k, u := range e.Units {
			if _, ok := units[u]; !ok {
				p.Add(fmt.Sprintf("%s.units[%d]", ep, k), "unknown unit %q", u)
			}
		}
	}
	for i := range rt.Routes {
		rt.Routes[i].validate(p, fmt.Sprintf("%s.routes[%d]", path, i), units, false)
	}
}

func checkMatchers(p *config.Problems, path string, m map[string][]string) {
	for name, values := range m {
		if !slices.Contains(LabelNames, name) {
			p.Add(path+"."+name, "unknown label (known: %s)", strings.Join(LabelNames, ", "))
		}
		if len(values) == 0 {
			p.Add(path+"."+name, "no value")
		}
	}
}

var (
	aggs = []string{"sum", "avg", "min", "max", "count"}
)

func severityList() string {
	s := make([]string, len(Severities))
	for i, v := range Severities {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
