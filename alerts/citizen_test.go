package alerts

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// citizenRules: public order reports to police within 2 working days, the rest to the center
// within 5; the center hears of those nobody took within 4 h.
const citizenRules = `rules:
  - name: order
    kind: citizen_report
    reports: [public_order]
    deadline_days: 2
    severity: medium
    category: security
    title: {vi: "Phản ánh: {{.SubjectName}} – {{.District}} ({{num .Value}})"}
  - name: others
    kind: citizen_report
    deadline_days: 5
    severity: low
    category: infrastructure
    title: {vi: "Phản ánh: {{.SubjectName}}"}
route:
  units: [ioc]
  routes:
    - match: {source: [citizen]}
      escalate: [{after: 4h, units: [ioc]}]
      routes:
        - match: {sub_category: [public_order]}
          units: [police]
calendar:
  holidays: [2026-09-01, 2026-09-02]
`

// near is a place dx metres east and dy north of the test's square in Lào Cai.
func near(dx, dy float64) geo.Location {
	return geo.Location{Lat: 22.4856 + dy/111_320, Lon: 103.9707 + dx/(111_320*0.9239)}
}

func (h *harness) report(id, category string, at geo.Location) {
	h.c.observeReports([]Report{{ID: id, Category: category, Location: at, District: "TP Lào Cai", Commune: "Phường Cốc Lếu", Received: h.now}}, h.now)
}

func TestCitizenReportsGroupRouteAndAnswer(t *testing.T) {
	h := newHarness(t, citizenRules)
	h.report("cr-1", "public_order", near(0, 0))
	h.expect("a first report opens an alert routed to the police", "firing order cr-1 medium", "notify firing cr-1 [ioc police]")
	l := h.c.alerts[fingerprint("order", SourceCitizen, "cr-1")]
	if l == nil || l.SubCategory != "public_order" || l.SubjectName != "Trật tự, an ninh" || l.District != "TP Lào Cai" || l.Title.VI != "Phản ánh: Trật tự, an ninh – TP Lào Cai (1)" {
		t.Fatalf("alert = %+v", l)
	}
	// 10:00 Monday 3 August 2026 (Hà Nội) + 2 working days = 10:00 Wednesday 5 August
	if want := time.Date(2026, 8, 5, 3, 0, 0, 0, time.UTC); !l.DueAt.Equal(want) {
		t.Errorf("due %s, want %s", l.DueAt, want)
	}

	h.advance(30 * time.Minute)
	h.report("cr-2", "public_order", near(30, 20)) // 36 m away, half an hour later: the same group
	h.expect("a report 36 m away joins quietly", "reported order cr-1 medium")
	if !slices.Equal(l.Reports, []string{"cr-1", "cr-2"}) || l.Value != 2 || !strings.HasSuffix(l.Title.VI, "(1)") {
		t.Errorf("group = %v, value %v", l.Reports, l.Value)
	}
	h.report("cr-2", "public_order", near(30, 20))
	h.expect("the same report handed again (its routing not stored yet) is skipped")
	h.report("cr-3", "public_order", near(60, 0))
	h.report("cr-4", "sanitation", near(0, 0))
	h.expect("60 m away, or another category: alerts of their own",
		"firing order cr-3 medium", "firing others cr-4 low", "notify firing cr-3 [ioc police]", "notify firing cr-4 [ioc]")
	h.advance(2 * time.Hour)
	h.report("cr-5", "public_order", near(0, 0))
	h.expect("past 2 h after the group's first report: a new group", "firing order cr-5 medium", "notify firing cr-5 [ioc police]")

	// acknowledge, then answer: the reports' states follow (triage.Changes)
	l.State, l.AckedAt = StateAcknowledged, h.now
	h.c.emit(l, EventAcknowledged, "police-1", Text{}, h.now)
	h.take()
	h.c.resolve(l, h.now, "police-1", Text{VI: "Đã cử tổ công tác xử lý"})
	h.expect("answered", "resolved order cr-1 medium", "notify resolved cr-1 [ioc police]")
	h.report("cr-6", "public_order", near(0, 0))
	h.expect("an answered group is never rejoined: the report joins the open one", "reported order cr-5 medium")
}

// A report routed late (its engine was down) starts its group when it was received: a report of
// the same place received 3 h later is another group, however close together they are routed.
func TestCitizenReportRoutedLate(t *testing.T) {
	h := newHarness(t, citizenRules)
	h.now = h.now.Add(5 * time.Hour)
	early := Report{ID: "cr-early", Category: "public_order", Location: near(0, 0), District: "TP Lào Cai", Received: t0}
	late := Report{ID: "cr-late", Category: "public_order", Location: near(0, 0), District: "TP Lào Cai", Received: t0.Add(3 * time.Hour)}
	h.c.observeReports([]Report{early, late}, h.now)
	h.expect("two groups", "firing order cr-early medium", "firing order cr-late medium", "notify firing cr-early [ioc police]", "notify firing cr-late [ioc police]")
	if l := h.c.alerts[fingerprint("order", SourceCitizen, "cr-early")]; !l.StartsAt.Equal(t0) || !l.FiredAt.Equal(h.now) {
		t.Errorf("starts %s fired %s, want the report's receipt and now", l.StartsAt, l.FiredAt)
	}
}

func TestCitizenReportDeadline(t *testing.T) {
	h := newHarness(t, citizenRules)
	// Friday 28 August 2026 10:00; 1-2 September are holidays: 2 working days end Thursday 3rd
	h.now = time.Date(2026, 8, 28, 3, 0, 0, 0, time.UTC)
	h.report("cr-1", "public_order", near(0, 0))
	h.take()
	l := h.c.alerts[fingerprint("order", SourceCitizen, "cr-1")]
	due := time.Date(2026, 9, 3, 3, 0, 0, 0, time.UTC)
	if !l.DueAt.Equal(due) {
		t.Fatalf("due %s, want %s", l.DueAt.In(geo.Zone), due.In(geo.Zone))
	}
	l.State = StateAcknowledged // taken: the 4 h escalation does not apply, the deadline does
	h.advance(due.Sub(h.now) - time.Minute)
	h.expect("before the deadline")
	h.advance(time.Minute)
	got := h.take()
	if len(got) != 2 || got[0] != "escalated order cr-1 medium" || !l.Overdue {
		t.Fatalf("at the deadline: %q (overdue %v)", got, l.Overdue)
	}
	h.advance(24 * time.Hour)
	h.expect("escalated once")
}

func TestCitizenRuleProblems(t *testing.T) {
	_, err := ParseRules([]byte(`rules:
  - name: x
    kind: citizen_report
    reports: [graffiti]
    deadline_days: 90
    for: 5m
    select: {districts: [Sa Pa]}
    severity: low
    category: infrastructure
    sub_category: flood
    title: {vi: t}
route: {units: [ioc]}
calendar: {holidays: [2026-13-01]}
`))
	for _, want := range []string{"rules[0].reports[0]: unknown report category \"graffiti\"", "rules[0].deadline_days:", "rules[0].for:",
		"rules[0].select:", "rules[0].sub_category:", "calendar.holidays[0]:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}

func TestCalendar(t *testing.T) {
	cal := Calendar{}
	cal.validate(func(string, string, ...any) {})
	// Saturday 23:00 in Hà Nội is Saturday 16:00 UTC: one working day is Monday 23:00
	sat := time.Date(2026, 8, 1, 16, 0, 0, 0, time.UTC)
	if got, want := cal.AddWorkingDays(sat, 1), time.Date(2026, 8, 3, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Saturday + 1 = %s, want %s", got, want)
	}
	// 06:30 on Monday in Hà Nội is Sunday 23:30 UTC: the day counted is Hà Nội's
	if cal.Working(time.Date(2026, 8, 2, 23, 30, 0, 0, time.UTC)) != true {
		t.Error("Monday morning in Hà Nội (Sunday in UTC) is a working day")
	}
	if got := cal.AddWorkingDays(sat, 0); !got.Equal(sat) {
		t.Errorf("+0 = %s", got)
	}
}

// A citizen rule removed while its groups are open: they go on under the rule that takes their
// category now, not resolved (their reports would be left without an alert to answer them).
func TestCitizenRuleRemoved(t *testing.T) {
	h := newHarness(t, citizenRules)
	h.report("cr-1", "public_order", near(0, 0))
	h.take()
	rf, err := ParseRules([]byte(strings.Replace(citizenRules, "name: order", "name: order-old", 1)))
	if err != nil {
		t.Fatal(err)
	}
	rf.Rules = rf.Rules[1:] // only "others" is left
	h.c.setRules(rf, h.now)
	h.expect("moved, nothing resolved")
	l := h.c.alerts[fingerprint("order", SourceCitizen, "cr-1")]
	if l == nil || l.Rule != "others" || !slices.Equal(l.Units, []string{"ioc", "police"}) {
		t.Fatalf("after the reload: %+v", l)
	}
	h.report("cr-2", "public_order", near(10, 0))
	h.expect("a report of the place joins it under its new rule", "reported others cr-1 medium")
}
