package incident

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/internal/config"
)

// DefaultFile is the built-in incident file: the correlations and the response procedures
// ioc runs when alerts.incidents names no file (deploy/rules/incidents.example.yaml is a copy).
//
//go:embed incidents.default.yaml
var DefaultFile []byte

// File is an incident file: how alerts gather into incidents and what the responders do.
type File struct {
	// Escalate are the units an overdue step of any procedure also goes to.
	Escalate []string `yaml:"escalate"`
	// Correlations are tried in order; an alert joins or opens an incident of the first it
	// matches.
	Correlations []Correlation `yaml:"correlations"`
	Procedures   []Procedure   `yaml:"procedures"`
}

// Correlation gathers alerts into incidents: the alerts it matches that have the same values
// of its By labels belong to one incident while that incident has an active alert or its last
// alert ended less than Window ago.
type Correlation struct {
	Name string `yaml:"name"`
	// Type is the incident type: it picks the response procedure.
	Type string `yaml:"type"`
	// Title names the incident; {district}, {basin}, {commune}, {subject_name} and {key}
	// are replaced by the first alert's values.
	Title alerts.Text `yaml:"title"`
	// Match keeps the alerts with one of the listed values of every label.
	Match alerts.Matchers `yaml:"match"`
	// By are the labels whose values must be equal: the same district, river basin...
	// An alert whose By labels are all empty is left to the next correlation.
	By     []string      `yaml:"by"`
	Window time.Duration `yaml:"window"`
}

// Procedure is the checklist (quy trình ứng phó) of an incident type from a severity up.
type Procedure struct {
	Type string `yaml:"type"`
	// Severity is the lowest incident severity the procedure applies to; the highest
	// procedure of a type at or under the incident's severity is in force, and a rising
	// severity adds the steps of the higher one.
	Severity alerts.Severity `yaml:"severity"`
	Title    alerts.Text     `yaml:"title"`
	Steps    []StepSpec      `yaml:"steps"`
}

// StepSpec is one step of a procedure: what to do, which unit does it, and by when after the
// incident opened (or reached the procedure's severity).
type StepSpec struct {
	// ID names the step within its type: a step of several levels' procedures is one step.
	ID       string        `yaml:"id"`
	Text     alerts.Text   `yaml:"text"`
	Unit     string        `yaml:"unit"`
	Deadline time.Duration `yaml:"deadline"`
}

// MaxWindow bounds a correlation's window: a week-long window keeps incidents open for any
// alert that comes by.
const MaxWindow = 72 * time.Hour

// placeLabels are the labels that tie alerts to a place or a subject: a correlation that
// matches every alert must group by one of them.
var placeLabels = []string{"district", "commune", "basin", "subject", "sensor", "camera"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Load reads and validates the incident file at path, or the built-in one when path is empty.
// rules are the alert rules in force: a match naming a rule they lack is refused.
func Load(path string, rules *alerts.RuleFile) (*File, error) {
	if path == "" {
		f, err := Parse(DefaultFile, rules)
		if err != nil {
			return nil, fmt.Errorf("built-in incident file:\n%w", err)
		}
		return f, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("incident file: %w", err)
	}
	f, err := Parse(data, rules)
	var probs config.Problems
	if errors.As(err, &probs) {
		for i := range probs {
			probs[i].Path = path + ": " + probs[i].Path
		}
		return nil, probs
	}
	return f, err
}

// Parse decodes an incident file strictly and validates it against the alert rules (nil:
// rule names are not checked); the error lists every problem with its path.
func Parse(data []byte, rules *alerts.RuleFile) (*File, error) {
	var f File
	if probs := config.DecodeStrict(data, &f); len(probs) > 0 {
		return nil, probs
	}
	if probs := f.validate(rules, config.Units); len(probs) > 0 {
		return nil, probs
	}
	return &f, nil
}

func (f *File) validate(rules *alerts.RuleFile, units map[string]string) config.Problems {
	var p config.Problems
	checkUnits := func(path string, us []string) {
		for _, u := range us {
			if _, ok := units[u]; !ok {
				p.Add(path, "unknown unit %q (units: %s)", u, config.SortedKeys(units))
			}
		}
	}
	checkUnits("escalate", f.Escalate)
	types := map[string]bool{}
	names := map[string]bool{}
	for i := range f.Correlations {
		c := &f.Correlations[i]
		path := fmt.Sprintf("correlations[%d]", i)
		if !nameRE.MatchString(c.Name) {
			p.Add(path+".name", "want lower-case letters, digits and _ . - (up to 64), got %q", c.Name)
		} else if names[c.Name] {
			p.Add(path+".name", "%q is taken by an earlier correlation", c.Name)
		}
		names[c.Name] = true
		if !nameRE.MatchString(c.Type) {
			p.Add(path+".type", "want an incident type of lower-case letters, digits and _ . -, got %q", c.Type)
		}
		types[c.Type] = true
		if c.Title.VI == "" {
			p.Add(path+".title.vi", "empty: operators read the incident's Vietnamese title")
		}
		for label, values := range c.Match {
			if !slices.Contains(alerts.LabelNames, label) {
				p.Add(path+".match."+label, "unknown label (labels: %s)", strings.Join(alerts.LabelNames, ", "))
			}
			if len(values) == 0 {
				p.Add(path+".match."+label, "no values: it would match no alert")
			}
			if label == "rule" && rules != nil {
				for _, r := range values {
					if !slices.ContainsFunc(rules.Rules, func(x alerts.Rule) bool { return x.Name == r }) {
						p.Add(path+".match.rule", "no alert rule %q", r)
					}
				}
			}
		}
		for _, label := range c.By {
			if !slices.Contains(alerts.LabelNames, label) {
				p.Add(path+".by", "unknown label %q (labels: %s)", label, strings.Join(alerts.LabelNames, ", "))
			}
		}
		switch {
		case len(c.By) == 0:
			p.Add(path+".by", "empty: every alert it matches, anywhere in the province, would join one incident; name the labels that must be equal (district, basin...)")
		case len(c.Match) == 0 && !slices.ContainsFunc(c.By, func(l string) bool { return slices.Contains(placeLabels, l) }):
			p.Add(path+".by", "the correlation matches every alert and groups them by %v only: unrelated hazards would merge into one incident; add a match or group by a place (%s)",
				c.By, strings.Join(placeLabels, ", "))
		}
		switch {
		case c.Window <= 0:
			p.Add(path+".window", "want a positive duration, such as 6h: how long after its last alert ended an incident still takes new ones")
		case c.Window > MaxWindow:
			p.Add(path+".window", "%s is over %s: an incident would take any alert that comes by for days", c.Window, MaxWindow)
		}
	}
	levels := map[string]bool{}
	for i := range f.Procedures {
		pr := &f.Procedures[i]
		path := fmt.Sprintf("procedures[%d]", i)
		if !types[pr.Type] {
			p.Add(path+".type", "no correlation opens incidents of type %q", pr.Type)
		}
		if pr.Severity.Rank() < 0 {
			p.Add(path+".severity", "want one of %v, got %q", alerts.Severities, pr.Severity)
		}
		if key := pr.Type + " " + string(pr.Severity); levels[key] {
			p.Add(path, "a second procedure for %s at %s", pr.Type, pr.Severity)
		} else {
			levels[key] = true
		}
		if pr.Title.VI == "" {
			p.Add(path+".title.vi", "empty")
		}
		if len(pr.Steps) == 0 {
			p.Add(path+".steps", "empty: a procedure needs at least one step")
		}
		ids := map[string]bool{}
		for j, st := range pr.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", path, j)
			if !nameRE.MatchString(st.ID) {
				p.Add(sp+".id", "want lower-case letters, digits and _ . -, got %q", st.ID)
			} else if ids[st.ID] {
				p.Add(sp+".id", "%q is taken by an earlier step", st.ID)
			}
			ids[st.ID] = true
			if st.Text.VI == "" {
				p.Add(sp+".text.vi", "empty: responders read the step in Vietnamese")
			}
			if st.Unit == "" {
				p.Add(sp+".unit", "empty: name the unit responsible for the step")
			} else {
				checkUnits(sp+".unit", []string{st.Unit})
			}
			if st.Deadline <= 0 {
				p.Add(sp+".deadline", "want a positive duration after the start, such as 30m")
			}
		}
	}
	return p
}

// correlate returns the first correlation that takes a and a's key under it ("" when none).
func (f *File) correlate(a *alerts.Alert) (*Correlation, string) {
	for i := range f.Correlations {
		c := &f.Correlations[i]
		if !c.Match.Matches(a) {
			continue
		}
		parts := make([]string, len(c.By))
		empty := true
		for j, l := range c.By {
			parts[j] = a.Label(l)
			empty = empty && parts[j] == ""
		}
		if !empty {
			return c, strings.Join(parts, " · ")
		}
	}
	return nil, ""
}

// procedure returns the procedure in force for an incident of type typ at severity sev: the
// highest at or under it; nil when none.
func (f *File) procedure(typ string, sev alerts.Severity) *Procedure {
	var best *Procedure
	for i := range f.Procedures {
		pr := &f.Procedures[i]
		if pr.Type == typ && pr.Severity.Rank() <= sev.Rank() && (best == nil || pr.Severity.Rank() > best.Severity.Rank()) {
			best = pr
		}
	}
	return best
}

// title renders c's title for the first alert.
func (c *Correlation) title(a *alerts.Alert, key string) alerts.Text {
	r := strings.NewReplacer("{district}", a.District, "{basin}", a.Basin, "{commune}", a.Commune, "{subject_name}", a.SubjectName, "{key}", key)
	return alerts.Text{VI: r.Replace(c.Title.VI), EN: r.Replace(c.Title.EN)}
}
