package incident

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/internal/config"
)

// memStore keeps the records in memory (the ClickHouse store is tested through the API).
type memStore struct {
	mu   sync.Mutex
	recs []Record
}

func (s *memStore) AppendIncidentEvents(_ context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *memStore) latest() map[string]Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Incident{}
	for _, r := range s.recs {
		out[r.Incident.ID] = r.Incident
	}
	return out
}

func (s *memStore) OpenIncidents(_ context.Context, until, closedSince time.Time) ([]Incident, error) {
	var out []Incident
	for _, inc := range s.latest() {
		if !inc.Opened.After(until) && (inc.State != StateClosed || !inc.Closed.Before(closedSince)) {
			out = append(out, inc)
		}
	}
	return out, nil
}

func (s *memStore) Timelines(_ context.Context, ids []string) (map[string][]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Entry{}
	for _, r := range s.recs {
		if slices.Contains(ids, r.Incident.ID) {
			out[r.Incident.ID] = append(out[r.Incident.ID], r.Entry)
		}
	}
	return out, nil
}

func (s *memStore) Incident(_ context.Context, id string) (Incident, bool, error) {
	inc, ok := s.latest()[id]
	return inc, ok, nil
}

func (s *memStore) Search(context.Context, Search) ([]Incident, int, error) { return nil, 0, nil }

func (s *memStore) Deliveries(context.Context, []string) ([]alerts.Attempt, error) { return nil, nil }

// inline runs the Manager's commands at once, on a clock of its own (the engine's goroutine in
// production).
type inline struct{ now time.Time }

func (e *inline) Act(_ context.Context, f func(time.Time)) error { f(e.now); return nil }

var t0 = time.Date(2026, 8, 14, 11, 0, 0, 0, time.UTC)

func newManager(t *testing.T) (*Manager, *memStore, *inline) {
	t.Helper()
	rf, err := alerts.LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("", rf)
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	m := New(f, rf, st, Options{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := &inline{now: t0}
	m.Bind(e)
	m.Lead(context.Background(), 0, t0)
	return m, st, e
}

func flush(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.events.Run(ctx, time.Second) // writes what is queued, then returns
}

// alert is an alert of the built-in rules as the engine makes it.
func alert(id, rule, subject, district, basin, category, sub string, sev alerts.Severity, units ...string) alerts.Alert {
	return alerts.Alert{ID: id, Rule: rule, Source: alerts.SourceSensor, Subject: subject, SubjectName: subject, District: district, Basin: basin,
		Category: category, SubCategory: sub, Severity: sev, State: alerts.StateFiring, Units: units, StartsAt: t0,
		Title: alerts.Text{VI: rule + " " + subject, EN: rule + " " + subject}}
}

func fire(m *Manager, a alerts.Alert, now time.Time) {
	m.AlertChanged(alerts.Event{Time: now, Kind: alerts.EventFiring, Actor: alerts.ActorEngine, Alert: a}, now)
}

func byCorrelation(incs []Incident) map[string]Incident {
	out := map[string]Incident{}
	for _, inc := range incs {
		out[inc.Correlation+" "+inc.Key] = inc
	}
	return out
}

// The flash flood's alerts gather by river basin, the landslide risks by district, the
// composite joins the incident of its parts; severity is the highest, and a rising one brings
// its procedure's steps.
func TestCorrelation(t *testing.T) {
	m, _, e := newManager(t)
	ctx := context.Background()
	fire(m, alert("a1", "heavy_rain_3h", "lc-rain-sa-pa", "Sa Pa", "sông Hồng", "weather", "heavyRain", alerts.SeverityHigh, "flood_control"), t0)
	fire(m, alert("a2", "river_rising_fast", "lc-muong-hoa-lao-chai", "Sa Pa", "sông Hồng", "naturalDisaster", "flood", alerts.SeverityHigh, "flood_control"), t0.Add(time.Hour))
	fire(m, alert("a3", "heavy_rain_1h", "lc-rain-bat-xat", "Bát Xát", "sông Hồng", "weather", "heavyRain", alerts.SeverityHigh, "flood_control"), t0.Add(2*time.Hour))
	fire(m, alert("a4", "landslide_risk_24h", "lc-rain-sa-pa", "Sa Pa", "sông Hồng", "naturalDisaster", "landslide", alerts.SeverityHigh, "flood_control"), t0.Add(2*time.Hour))
	comp := alert("a5", "district_flood", "Sa Pa", "Sa Pa", "", "naturalDisaster", "flood", alerts.SeverityCritical, "flood_control")
	comp.Source = alerts.SourceDistrict
	fire(m, comp, t0.Add(3*time.Hour))
	// a traffic jam elsewhere is an incident of its own
	fire(m, alert("a6", "traffic_congestion", "lc-traffic-coc-leu", "TP Lào Cai", "", "traffic", "trafficJam", alerts.SeverityMedium, "traffic_police"), t0.Add(3*time.Hour))
	// an alert no correlation takes opens nothing
	fire(m, alert("a7", "some_rule", "x", "Sa Pa", "", "agriculture", "pests", alerts.SeverityHigh, "ioc"), t0.Add(3*time.Hour))

	incs, err := m.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := byCorrelation(incs)
	if len(incs) != 3 {
		t.Fatalf("want 3 incidents (flood basin, landslide Sa Pa, traffic), got %d: %v", len(incs), got)
	}
	flood := got["flood_basin sông Hồng"]
	var ids []string
	for _, a := range flood.Alerts {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{"a1", "a2", "a3", "a5"}) || flood.Type != "flood" || flood.Title.VI != "Mưa lũ trên lưu vực sông Hồng" {
		t.Errorf("flood incident: alerts %v, type %s, title %q", ids, flood.Type, flood.Title.VI)
	}
	if flood.Severity != alerts.SeverityCritical || !slices.Equal(flood.Districts, []string{"Bát Xát", "Sa Pa"}) {
		t.Errorf("flood incident: severity %s, districts %v", flood.Severity, flood.Districts)
	}
	// high brought the medium procedure's 3 steps; critical tightened them and added 4
	var stepIDs []string
	for _, s := range flood.Steps {
		stepIDs = append(stepIDs, s.ID)
	}
	if want := []string{"monitor", "warn_communes", "road_signs", "evacuate", "rescue_ready", "water_supply", "damage_report"}; !slices.Equal(stepIDs, want) {
		t.Errorf("flood steps %v, want %v", stepIDs, want)
	}
	// a step of both keeps the earlier due time; a step of the critical procedure is due its
	// deadline after the severity rose
	if due := flood.Steps[0].Due; !due.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("monitor due %s, want 30 min after the opening (earlier than 15 min after the rise)", due)
	}
	if !strings.Contains(flood.Steps[0].Text.VI, "15 phút") {
		t.Errorf("monitor, not done: %q, want the critical procedure's words", flood.Steps[0].Text.VI)
	}
	if due := flood.Steps[3].Due; !due.Equal(t0.Add(5 * time.Hour)) {
		t.Errorf("evacuate due %s, want 2 h after the severity rose at +3 h", due)
	}
	if !strings.Contains(flood.Procedure.VI, "báo động III") || !slices.Contains(flood.Units, "traffic_police") || !slices.Contains(flood.Units, "fire_police") {
		t.Errorf("flood procedure %q, units %v", flood.Procedure.VI, flood.Units)
	}
	if ls := got["landslide_district Sa Pa"]; len(ls.Alerts) != 1 || ls.Type != "landslide" || len(ls.Steps) != 3 {
		t.Errorf("landslide incident: %+v", ls)
	}
	if tr := got["traffic_district TP Lào Cai"]; tr.Severity != alerts.SeverityMedium || tr.State != StateNew {
		t.Errorf("traffic incident: %+v", tr)
	}

	// every alert resolved: contained; a new alert of the same key within the window joins and
	// puts it back in progress; past the window a new one opens
	e.now = t0.Add(10 * time.Hour)
	tr := got["traffic_district TP Lào Cai"]
	a6 := alert("a6", "traffic_congestion", "lc-traffic-coc-leu", "TP Lào Cai", "", "traffic", "trafficJam", alerts.SeverityMedium, "traffic_police")
	a6.State = alerts.StateResolved
	m.AlertChanged(alerts.Event{Kind: alerts.EventResolved, Alert: a6}, e.now)
	if inc, _, _ := m.Get(ctx, tr.ID); inc.State != StateContained {
		t.Errorf("traffic incident with its alert resolved: %s, want contained", inc.State)
	}
	fire(m, alert("a8", "traffic_congestion", "lc-traffic-coc-leu", "TP Lào Cai", "", "traffic", "trafficJam", alerts.SeverityMedium, "traffic_police"), e.now.Add(30*time.Minute))
	if inc, _, _ := m.Get(ctx, tr.ID); inc.State != StateInProgress || len(inc.Alerts) != 2 {
		t.Errorf("traffic incident after a new alert within the window: %s with %d alerts", inc.State, len(inc.Alerts))
	}
	a8 := alert("a8", "traffic_congestion", "lc-traffic-coc-leu", "TP Lào Cai", "", "traffic", "trafficJam", alerts.SeverityMedium, "traffic_police")
	a8.State = alerts.StateResolved
	m.AlertChanged(alerts.Event{Kind: alerts.EventResolved, Alert: a8}, e.now.Add(time.Hour))
	fire(m, alert("a9", "traffic_congestion", "lc-traffic-coc-leu", "TP Lào Cai", "", "traffic", "trafficJam", alerts.SeverityMedium, "traffic_police"), e.now.Add(3*time.Hour))
	incs, _ = m.Current(ctx)
	n := 0
	for _, inc := range incs {
		if inc.Correlation == "traffic_district" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("a jam 2 h after the last one ended (window 1 h): %d traffic incidents, want 2", n)
	}
}

// Steps: ticked once, only by their unit or the center; an overdue step escalates once.
func TestSteps(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := context.Background()
	fire(m, alert("f1", "fire_alarm", "lc-fire-market", "TP Lào Cai", "", "fireAndEmergency", "fire", alerts.SeverityCritical, "fire_police"), t0)
	incs, _ := m.Current(ctx)
	if len(incs) != 1 || len(incs[0].Steps) != 5 {
		t.Fatalf("fire incident: %+v", incs)
	}
	id := incs[0].ID
	police := Person{ID: "key:police", Name: "Công an", Units: []string{"police"}}
	fire := Person{ID: "key:fire", Name: "PCCC", Units: []string{"fire_police"}}
	op := Person{ID: "key:op", Name: "Trực ban"}
	if _, err := m.Done(ctx, id, "dispatch", "", police); !errors.Is(err, ErrForbidden) {
		t.Errorf("police ticking the fire brigade's step: %v, want forbidden", err)
	}
	if _, err := m.Done(ctx, id, "dispatch", "xe 114 đã xuất phát", fire); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Done(ctx, id, "dispatch", "", op); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "PCCC") {
		t.Errorf("a step ticked twice: %v, want a conflict naming who ticked it", err)
	}
	if _, err := m.Done(ctx, id, "nope", "", op); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown step: %v", err)
	}
	inc, err := m.Done(ctx, id, "verify", "", op) // the center ticks any step
	if err != nil || inc.Steps[0].DoneByName != "Trực ban" {
		t.Fatalf("verify ticked by the center: %v %+v", err, inc.Steps[0])
	}
	// scene (police, 15 min) and hydrants (water utility, 15 min) fall overdue at 15 min, once
	if ns := m.Tick(t0.Add(14 * time.Minute)); len(ns) != 0 {
		t.Errorf("nothing is due at 14 min, got %d notifications", len(ns))
	}
	ns := m.Tick(t0.Add(16 * time.Minute))
	if len(ns) != 2 {
		t.Fatalf("at 16 min: %d notifications, want 2 (scene, hydrants)", len(ns))
	}
	if n := ns[0]; n.Event.Kind != alerts.EventEscalated || n.Event.Alert.ID != id || !slices.Equal(n.Units, []string{"police", "ioc"}) ||
		!strings.Contains(n.Event.Alert.Title.VI, "Quá hạn") {
		t.Errorf("overdue notification: kind %s, alert %s, units %v, title %q", n.Event.Kind, n.Event.Alert.ID, n.Units, n.Event.Alert.Title.VI)
	}
	if ns := m.Tick(t0.Add(17 * time.Minute)); len(ns) != 0 {
		t.Errorf("an overdue step escalates once, got %d more", len(ns))
	}
	_, line, _ := m.Get(ctx, id)
	kinds := map[string]int{}
	for _, l := range line {
		kinds[l.Kind]++
	}
	if kinds[KindOpened] != 1 || kinds[KindStep] != 3 || kinds[KindOverdue] != 2 {
		t.Errorf("timeline kinds %v", kinds)
	}
}

// States: a unit neither takes nor moves an incident; closing takes a summary; closed is final;
// a restarted leader restores what was stored.
func TestStatesAndRestore(t *testing.T) {
	m, st, e := newManager(t)
	ctx := context.Background()
	fire(m, alert("c1", "camera_offline", "lc-cam-coc-leu", "TP Lào Cai", "", "security", "cameraOffline", alerts.SeverityMedium, "police"), t0)
	incs, _ := m.Current(ctx)
	id := incs[0].ID
	unit := Person{ID: "key:police", Name: "Công an", Units: []string{"police"}}
	op := Person{ID: "key:op", Name: "Trực ban A"}
	if _, err := m.Take(ctx, id, unit); !errors.Is(err, ErrForbidden) {
		t.Errorf("a unit taking the incident: %v", err)
	}
	inc, err := m.Take(ctx, id, op)
	if err != nil || inc.State != StateInProgress || inc.OwnerName != "Trực ban A" {
		t.Fatalf("take: %v %s %s", err, inc.State, inc.OwnerName)
	}
	if _, err := m.Take(ctx, id, op); !errors.Is(err, ErrConflict) {
		t.Errorf("taking one's own incident again: %v", err)
	}
	if _, err := m.Note(ctx, id, "  ", unit); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty note: %v", err)
	}
	if _, err := m.Note(ctx, id, "Đã cử kỹ thuật viên", unit); err != nil {
		t.Errorf("a unit's note: %v", err)
	}
	if _, err := m.SetState(ctx, id, StateNew, "", op); !errors.Is(err, ErrInvalid) {
		t.Errorf("back to new: %v", err)
	}
	if _, err := m.SetState(ctx, id, StateClosed, "", op); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "summary") {
		t.Errorf("closing without a summary: %v", err)
	}
	// restart: a new leader restores the incident with its timeline
	flush(t, m)
	m2 := New(m.file.Load(), nil, st, Options{}, nil, m.log)
	m2.Bind(e)
	m2.Lead(ctx, 0, t0.Add(time.Minute))
	got, line, err := m2.Get(ctx, id)
	if err != nil || got.State != StateInProgress || got.OwnerName != "Trực ban A" || len(line) < 4 {
		t.Fatalf("restored: %v, state %s, owner %q, %d entries", err, got.State, got.OwnerName, len(line))
	}
	// the restored alert still belongs to it
	a := alert("c1", "camera_offline", "lc-cam-coc-leu", "TP Lào Cai", "", "security", "cameraOffline", alerts.SeverityMedium, "police")
	a.State = alerts.StateResolved
	m2.AlertChanged(alerts.Event{Kind: alerts.EventResolved, Alert: a}, t0.Add(2*time.Minute))
	if got, _, _ = m2.Get(ctx, id); got.State != StateContained {
		t.Errorf("restored incident after its alert resolved: %s", got.State)
	}
	closed, err := m2.SetState(ctx, id, StateClosed, "Camera hoạt động lại sau khi thay nguồn", op)
	if err != nil || closed.State != StateClosed || closed.Summary == "" {
		t.Fatalf("close: %v %+v", err, closed)
	}
	if _, err := m2.SetState(ctx, id, StateInProgress, "", op); !errors.Is(err, ErrConflict) {
		t.Errorf("reopening a closed incident: %v", err)
	}
	if _, err := m2.Done(ctx, id, "remote_check", "", op); !errors.Is(err, ErrConflict) {
		t.Errorf("ticking a step of a closed incident: %v", err)
	}
	// a closed incident leaves memory after a day, and the history still has it
	m2.Tick(t0.Add(25 * time.Hour))
	flush(t, m2)
	if got, _, err := m2.Get(ctx, id); err != nil || got.State != StateClosed {
		t.Errorf("a closed incident from the store: %v %s", err, got.State)
	}
}

// The validator refuses a correlation that would merge everything, with the reason.
func TestValidation(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no by", `correlations: [{name: all, type: x, title: {vi: "Tất cả"}, match: {category: [traffic]}, window: 1h}]`, "every alert it matches, anywhere in the province"},
		{"no match, by severity", `correlations: [{name: all, type: x, title: {vi: "Tất cả"}, by: [severity], window: 1h}]`, "unrelated hazards would merge"},
		{"window", `correlations: [{name: w, type: x, title: {vi: "T"}, by: [district], match: {category: [traffic]}, window: 720h}]`, "over 72h0m0s"},
		{"unknown label", `correlations: [{name: w, type: x, title: {vi: "T"}, by: [basin], match: {colour: [red]}, window: 1h}]`, "unknown label"},
		{"unknown rule", `correlations: [{name: w, type: x, title: {vi: "T"}, by: [basin], match: {rule: [nope]}, window: 1h}]`, `no alert rule "nope"`},
		{"step unit", `correlations: [{name: w, type: x, title: {vi: "T"}, by: [district], match: {category: [traffic]}, window: 1h}]
procedures: [{type: x, severity: low, title: {vi: "Q"}, steps: [{id: a, text: {vi: "Làm"}, unit: army, deadline: 1h}]}]`, `unknown unit "army"`},
		{"procedure type", `correlations: [{name: w, type: x, title: {vi: "T"}, by: [district], match: {category: [traffic]}, window: 1h}]
procedures: [{type: y, severity: low, title: {vi: "Q"}, steps: [{id: a, text: {vi: "Làm"}, unit: ioc, deadline: 1h}]}]`, `no correlation opens incidents of type "y"`},
	} {
		rf, _ := alerts.LoadRules("")
		_, err := Parse([]byte(tc.yaml), rf)
		var probs config.Problems
		if !errors.As(err, &probs) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a problem saying %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaultFileIsTheExample(t *testing.T) {
	want, err := os.ReadFile("../../deploy/rules/incidents.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(DefaultFile) {
		t.Error("deploy/rules/incidents.example.yaml differs from alerts/incident/incidents.default.yaml: copy one over the other")
	}
	rf, _ := alerts.LoadRules("../../deploy/rules/rules.example.yaml")
	if _, err := Load("../../deploy/rules/incidents.example.yaml", rf); err != nil {
		t.Error(err)
	}
}
