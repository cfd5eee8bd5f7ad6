package dashboard

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// TestIncidents: the river alert's incident as each caller sees it (a unit its own steps only,
// another unit nothing), its checklist ticked once by its unit, the center owning and closing
// it, the printable report, the handover listing it, and the history finding it in ClickHouse.
func TestIncidents(t *testing.T) {
	f := newFixture(t, 0)
	id := f.incident.ID
	get := func(key string) (int, IncidentDetail) {
		code, b := f.call(t, key, "GET", APIPrefix+"/incidents/"+id, "")
		var d IncidentDetail
		if code == 200 {
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
		}
		return code, d
	}
	list := func(key, query string) []incident.Incident {
		code, b := f.call(t, key, "GET", APIPrefix+"/incidents"+query, "")
		if code != 200 {
			t.Fatalf("%s lists incidents: %d %s", key, code, b)
		}
		var pg Page[incident.Incident]
		if err := json.Unmarshal(b, &pg); err != nil {
			t.Fatal(err)
		}
		return pg.Items
	}
	has := func(incs []incident.Incident) bool {
		return slices.ContainsFunc(incs, func(inc incident.Incident) bool { return inc.ID == id })
	}

	// the operator sees it whole: the flood procedure of its severity, with traffic police's step
	f.addDeliveries(t) // the river alert's notifications: the incident's timeline has them too
	code, d := get("operator")
	if code != 200 || d.Incident.Type != "flood" || !strings.Contains(d.Incident.Title.VI, "sông Hồng") || len(d.Timeline) == 0 {
		t.Fatalf("operator: %d %+v", code, d)
	}
	units := map[string]bool{}
	for _, s := range d.Incident.Steps {
		units[s.Unit] = true
	}
	if !units["flood_control"] || !units["traffic_police"] {
		t.Fatalf("steps' units %v: want flood control's and traffic police's", units)
	}
	if !has(list("operator", "?state=new,in_progress")) || has(list("operator", "?state=closed")) {
		t.Error("the state filter of the list")
	}
	receipts := func(d IncidentDetail) (units []string, retry bool) {
		for _, e := range d.Timeline {
			if e.Kind == incident.KindNotification {
				units = append(units, e.Unit)
				retry = retry || strings.Contains(e.Text, "lỗi, sẽ gửi lại") && strings.Contains(e.Text, "503")
			}
		}
		return units, retry
	}
	if units, retry := receipts(d); len(units) != 3 || !retry {
		t.Errorf("the operator's timeline: notifications to %v (a retry shown: %v), want the three attempts", units, retry)
	}
	if units, _ := receipts(func() IncidentDetail { _, d := get("flood"); return d }()); !slices.Equal(units, []string{"flood_control", "flood_control"}) {
		t.Errorf("flood control's timeline: notifications to %v, want its own two", units)
	}
	// flood control sees it with its own steps only; the police unit not at all
	code, d = get("flood")
	if code != 200 || slices.ContainsFunc(d.Incident.Steps, func(s incident.Step) bool { return s.Unit != "flood_control" }) || len(d.Incident.Steps) == 0 {
		t.Fatalf("flood control: %d, steps %+v", code, d.Incident.Steps)
	}
	if code, _ := get("police"); code != 404 {
		t.Errorf("police reads flood control's incident: %d, want 404", code)
	}
	if has(list("police", "")) || !has(list("flood", "")) {
		t.Error("the list is not scoped to the caller's units")
	}
	for _, r := range []struct{ path, body string }{{"/notes", `{"text":"x"}`}, {"/steps/monitor/done", `{}`}, {"/report", ""}} {
		method := "POST"
		if r.body == "" {
			method = "GET"
		}
		if code, b := f.call(t, "police", method, APIPrefix+"/incidents/"+id+r.path, r.body); code != 404 {
			t.Errorf("police %s %s: %d %s, want 404", method, r.path, code, b)
		}
	}

	// the checklist: flood control ticks its step once; traffic police's is not flood control's
	trafficStep := d.Incident.Steps[0].ID
	for _, s := range f.incident.Steps {
		if s.Unit == "traffic_police" {
			trafficStep = s.ID
		}
	}
	if code, b := f.call(t, "flood", "POST", APIPrefix+"/incidents/"+id+"/steps/"+trafficStep+"/done", `{}`); code != 403 {
		t.Errorf("flood control ticks traffic police's step: %d %s, want 403", code, b)
	}
	if code, b := f.call(t, "flood", "POST", APIPrefix+"/incidents/"+id+"/steps/monitor/done", `{"note":"15 phút/lần"}`); code != 200 {
		t.Fatalf("flood control ticks its step: %d %s", code, b)
	}
	code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/steps/monitor/done", `{}`)
	if code != 409 || !strings.Contains(string(b), "Ban chỉ huy PCTT") {
		t.Errorf("a step ticked twice: %d %s, want 409 naming who ticked it", code, b)
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/steps/nope/done", `{}`); code != 404 {
		t.Errorf("an unknown step: %d %s", code, b)
	}

	// the center takes it, cannot close it without a summary, then closes it
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/take", ""); code != 200 || !strings.Contains(string(b), `"state":"in_progress"`) {
		t.Fatalf("operator takes: %d %s", code, b)
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/state", `{"state":"closed"}`); code != 400 || !strings.Contains(string(b), "summary") {
		t.Errorf("closing without a summary: %d %s", code, b)
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/state", `{"state":"flooded"}`); code != 400 {
		t.Errorf("an unknown state: %d %s", code, b)
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/notes", `{"text":"Đã cử tổ công tác đến cầu Cốc Lếu"}`); code != 200 {
		t.Errorf("note: %d %s", code, b)
	}
	// the handover lists it, open
	code, b = f.call(t, "operator", "GET", APIPrefix+"/duty/handover", "")
	var hs HandoverScreen
	if code != 200 || json.Unmarshal(b, &hs) != nil || !slices.ContainsFunc(hs.Incidents, func(r analytics.IncidentRef) bool { return r.ID == id && r.StepsOpen > 0 }) {
		t.Errorf("handover screen: %d %s", code, b)
	}
	// the report, a draft while open: title, steps, timeline, the map
	code, b = f.call(t, "operator", "GET", APIPrefix+"/incidents/"+id+"/report", "")
	if code != 200 {
		t.Logf("report: %s", b)
	}
	for _, want := range []string{"BÁO CÁO SỰ CỐ", "BẢN NHÁP", "sông Hồng", "15 phút/lần", "Đã cử tổ công tác", "<svg", "<polygon"} {
		if code != 200 || !strings.Contains(string(b), want) {
			t.Errorf("report: %d, lacks %q", code, want)
		}
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/state", `{"state":"closed","note":"Nước rút dưới báo động I lúc 06:00"}`); code != 200 {
		t.Fatalf("close: %d %s", code, b)
	}
	if code, b := f.call(t, "operator", "POST", APIPrefix+"/incidents/"+id+"/state", `{"state":"closed","note":"lần nữa"}`); code != 409 {
		t.Errorf("closing twice: %d %s, want 409", code, b)
	}
	code, b = f.call(t, "operator", "GET", APIPrefix+"/incidents/"+id+"/report?lang=en", "")
	if code != 200 || strings.Contains(string(b), "DRAFT") || !strings.Contains(string(b), "Nước rút dưới báo động I") {
		t.Errorf("the closed incident's report: %d", code)
	}

	// the history, from ClickHouse through the outbox: by text, state and unit
	q := url.Values{"q": {"sông Hồng"}, "state": {"closed"}}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, b = f.call(t, "flood", "GET", APIPrefix+"/incidents/history?"+q.Encode(), "")
		var pg Page[incident.Incident]
		if code == 200 && json.Unmarshal(b, &pg) == nil && has(pg.Items) {
			if pg.Items[0].Summary == "" || slices.ContainsFunc(pg.Items[0].Steps, func(s incident.Step) bool { return s.Unit != "flood_control" }) {
				t.Errorf("history item as flood control sees it: %+v", pg.Items[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed incident is not in the history: %d %s", code, b)
		}
	}
	// what a new leader restores: the incident's timeline read back from ClickHouse
	stored := &incident.ClickHouseStore{Conn: testenv.Conn(t, f.chCfg), Timeout: 10 * time.Second}
	lines, err := stored.Timelines(context.Background(), []string{id, "inc-none"})
	if err != nil || len(lines[id]) < 5 || lines[id][0].Kind != incident.KindOpened || len(lines["inc-none"]) != 0 {
		t.Errorf("the stored timeline: %v, %d entries", err, len(lines[id]))
	}
	if code, b := f.call(t, "police", "GET", APIPrefix+"/incidents/history?"+q.Encode(), ""); code != 200 || strings.Contains(string(b), id) {
		t.Errorf("police's history shows flood control's incident: %d %s", code, b)
	}
	code, b = f.call(t, "analyst", "GET", APIPrefix+"/exports/incidents.csv?"+q.Encode(), "")
	if code != 200 || !strings.Contains(string(b), id) || !strings.Contains(string(b), "Nước rút") {
		t.Errorf("CSV export: %d %s", code, b)
	}
}
