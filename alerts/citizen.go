package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/ingest/citizen"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// SourceCitizen is the source of the alerts citizen reports raise: the subject is the first
// report of the group, the alert's Reports every report in it.
const SourceCitizen = "citizen"

// Grouping of citizen reports: a report joins the live alert of its rule and category whose
// first report is within GroupRadiusM and GroupWindow of it (the nearest, when several are),
// up to MaxGroup reports; else it opens an alert of its own.
const (
	GroupRadiusM = 50.0
	GroupWindow  = 2 * time.Hour
	MaxGroup     = 200
)

// TriageWindow is how far back reports are still triaged: a report received longer ago and
// never routed (the engine was down that long) stays in the center's queue.
const TriageWindow = 30 * 24 * time.Hour

// Report is a citizen report as the engine triages it (from ingest/citizen's Report).
type Report struct {
	ID       string
	Category string
	Location geo.Location
	District string
	Commune  string
	Received time.Time
}

// ReportOf is the part of a stored report the engine triages.
func ReportOf(r *citizen.Report) Report {
	return Report{ID: r.ID, Category: r.Category, Location: r.Location, District: r.District, Commune: r.Commune, Received: r.Received}
}

// observeReports triages citizen reports: each joins its group's alert or opens one. A report
// triaged before (the poller hands a report again until its routing is stored) is skipped.
func (c *core) observeReports(reports []Report, now time.Time) {
	if len(c.triaged) > 50_000 {
		for id, t := range c.triaged {
			if now.Sub(t) > TriageWindow+24*time.Hour {
				delete(c.triaged, id)
			}
		}
	}
	for i := range reports {
		r := &reports[i]
		if _, seen := c.triaged[r.ID]; seen {
			continue
		}
		c.triaged[r.ID] = r.Received
		cr := c.citizenRule(r.Category)
		if cr == nil {
			c.uneval(KindCitizenReport, unevalUnknown)
			continue
		}
		if l, dist := c.reportGroup(cr, r); l != nil {
			l.Reports = append(l.Reports, r.ID)
			l.Value = float64(len(l.Reports))
			c.emit(l, EventReported, ActorEngine, Text{VI: fmt.Sprintf("thêm phản ánh %s, cách %.0f m (tổng %d phản ánh)", r.ID, dist, len(l.Reports)),
				EN: fmt.Sprintf("report %s joined, %.0f m away (%d reports)", r.ID, dist, len(l.Reports))}, now)
			continue
		}
		c.apply(condition{rule: cr, source: SourceCitizen, subject: r.ID, active: true, value: 1, report: r,
			grade: grade{severity: cr.Severity, risk: cr.RiskLevel}}, now)
	}
}

// citizenRule is the first citizen_report rule that takes a category, nil when none does.
func (c *core) citizenRule(category string) *compiled {
	for _, cr := range c.citizen {
		if len(cr.Reports) == 0 || slices.Contains(cr.Reports, category) {
			return cr
		}
	}
	return nil
}

// reportGroup is the live alert r joins, with its distance in metres; nil when none is near
// enough in place and time.
func (c *core) reportGroup(cr *compiled, r *Report) (*live, float64) {
	var best *live
	bestDist := 0.0
	for _, l := range c.sortedAlerts() {
		if l.Source != SourceCitizen || l.rule != cr || l.SubCategory != r.Category || len(l.Reports) >= MaxGroup {
			continue
		}
		if d := r.Received.Sub(l.StartsAt); d > GroupWindow || d < -GroupWindow {
			continue
		}
		if dist := l.Location.Distance(r.Location); dist <= GroupRadiusM && (best == nil || dist < bestDist) {
			best, bestDist = l, dist
		}
	}
	return best, bestDist
}

// describeReport gives a citizen alert its first report's category, place, start (when the
// report was received: a group spans 2 h from it, however late it is routed) and deadline.
func (c *core) describeReport(a *Alert, cond condition) {
	r := cond.report
	a.SubCategory, a.District, a.Commune, a.Location, a.Reports = r.Category, r.District, r.Commune, r.Location, []string{r.ID}
	if !r.Received.IsZero() && r.Received.Before(a.StartsAt) {
		a.StartsAt = r.Received
	}
	a.SubjectName = r.Category
	for _, cat := range citizen.Categories {
		if cat.ID == r.Category {
			a.SubjectName = cat.VI
		}
	}
	if days := cond.rule.DeadlineDays; days > 0 {
		a.DueAt = c.calendar.AddWorkingDays(r.Received, days)
	}
}

// overdue escalates a citizen alert whose deadline passed while it is still open: once, to
// every unit of its route's escalation steps.
func (c *core) overdue(l *live, now time.Time) {
	if l.Source != SourceCitizen || l.DueAt.IsZero() || l.Overdue || now.Before(l.DueAt) || !l.State.Active() {
		return
	}
	l.Overdue = true
	var units []string
	for _, st := range l.routing.escalate {
		units = append(units, st.Units...)
	}
	l.Units = mergeUnits(l.Units, units)
	due := l.DueAt.In(geo.Zone).Format("15:04 02/01/2006")
	c.emit(l, EventEscalated, ActorEngine, Text{VI: fmt.Sprintf("quá hạn xử lý (hạn %s); chuyển thêm cho %v", due, units),
		EN: fmt.Sprintf("overdue (due %s); also sent to %v", due, units)}, now)
}

// Calendar counts working days: Monday to Friday, except the holidays it lists (dates in
// Việt Nam's time, YYYY-MM-DD).
type Calendar struct {
	Holidays []string `yaml:"holidays"`

	off map[string]bool
}

// validate checks the holidays' dates and indexes them.
func (cal *Calendar) validate(add func(path, format string, args ...any)) {
	cal.off = map[string]bool{}
	for i, d := range cal.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			add(fmt.Sprintf("calendar.holidays[%d]", i), "want a date YYYY-MM-DD, got %q", d)
		}
		cal.off[d] = true
	}
}

// Working tells whether the day of t (in Việt Nam's time) is a working day.
func (cal *Calendar) Working(t time.Time) bool {
	t = t.In(geo.Zone)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	return !cal.off[t.Format(time.DateOnly)]
}

// AddWorkingDays is the moment n working days after t: the same time of day on the n-th
// working day after t's day (a report of Friday 10:00 with one day is due Monday 10:00).
func (cal *Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	d := t.In(geo.Zone)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if cal.Working(d) {
			n--
		}
	}
	return d.UTC()
}

// validateCitizenReport checks a citizen_report rule: the categories it takes, its deadline,
// and that it fires at once (a report is no condition that holds or clears).
func (r *Rule) validateCitizenReport(add problemAdder) {
	known := citizen.CategoryIDs()
	for i, cat := range r.Reports {
		if !known[cat] {
			ids := make([]string, 0, len(citizen.Categories))
			for _, c := range citizen.Categories {
				ids = append(ids, c.ID)
			}
			add(fmt.Sprintf("reports[%d]", i), "unknown report category %q (known: %s)", cat, strings.Join(ids, ", "))
		}
	}
	if r.DeadlineDays < 0 || r.DeadlineDays > 60 {
		add("deadline_days", "want 0 (none) to 60 working days, got %d", r.DeadlineDays)
	}
	if r.For != 0 || r.ClearFor != 0 || r.ResolveAfter != 0 {
		add("for", "a citizen report fires at once and ends when it is answered: remove for, clear_for and resolve_after")
	}
	if len(r.Select.Kinds)+len(r.Select.Sensors)+len(r.Select.Purposes)+len(r.Select.Cameras)+len(r.Select.Districts) > 0 {
		add("select", "a citizen_report rule takes reports by category (reports), not subjects: remove select")
	}
	if r.SubCategory != "" {
		add("sub_category", "a citizen alert's sub-category is its reports' category: remove it")
	}
}
