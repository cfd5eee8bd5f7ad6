package dashboard

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/analytics"
)

// The duty log and a shift handover through the API, against the real ClickHouse: a line
// written is read back with its author; the outgoing officer hands over with the alert nobody
// acknowledged; a second handover, the outgoing officer accepting their own and an acceptance
// twice are refused, each with nothing changed; another officer accepts; units, analysts and
// the wall screen's viewer may not see the duty book at all.
func TestDutyHandover(t *testing.T) {
	f := newFixture(t, 0)
	must := func(key, method, path, body string, want int) []byte {
		t.Helper()
		code, ans := f.call(t, key, method, path, body)
		if code != want {
			t.Fatalf("%s %s %s as %s: %d %s, want %d", method, path, body, key, code, ans, want)
		}
		return ans
	}
	screen := func() HandoverScreen {
		t.Helper()
		var s HandoverScreen
		if err := json.Unmarshal(must("operator", "GET", APIPrefix+"/duty/handover", "", 200), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	must("operator", "POST", APIPrefix+"/duty/log", `{"text":"22:10 mưa lớn ở Sa Pa, đã báo đội cơ động"}`, 201)
	must("operator", "POST", APIPrefix+"/duty/log", `{"text":"   "}`, 400)
	must("operator", "POST", APIPrefix+"/duty/log", `{"text":"`+strings.Repeat("ă", 4001)+`"}`, 400)
	var log []analytics.DutyEntry
	if err := json.Unmarshal(must("admin", "GET", APIPrefix+"/duty/log", "", 200), &log); err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].Author != "Trực ban IOC" || log[0].AuthorID != "key:operator" || !strings.Contains(log[0].Text, "Sa Pa") {
		t.Fatalf("duty log %+v; want the one line the operator wrote", log)
	}

	var h analytics.Handover
	if err := json.Unmarshal(must("operator", "POST", APIPrefix+"/duty/handovers", `{"notes":"theo dõi sông Hồng tại Lào Cai"}`, 201), &h); err != nil {
		t.Fatal(err)
	}
	if h.Outgoing != "Trực ban IOC" || len(h.Alerts) != 1 || h.Alerts[0].ID != f.alert.ID || !h.Accepted.IsZero() {
		t.Fatalf("handover %+v; want the operator's, listing the unacknowledged river alert %s", h, f.alert.ID)
	}
	must("admin", "POST", APIPrefix+"/duty/handovers", `{"notes":"lần hai"}`, 409)            // one waits already
	must("operator", "POST", APIPrefix+"/duty/handovers/"+h.ID+"/accept", `{"note":""}`, 409) // the outgoing officer
	if s := screen(); s.Pending == nil || s.Pending.ID != h.ID || s.Last != nil || len(s.Unacknowledged) != 1 || len(s.Log) != 1 {
		t.Fatalf("after the refusals: %+v; want the handover still waiting, nothing accepted", s)
	}
	must("admin", "POST", APIPrefix+"/duty/handovers/nope/accept", `{}`, 404)
	var got analytics.Handover
	if err := json.Unmarshal(must("admin", "POST", APIPrefix+"/duty/handovers/"+h.ID+"/accept", `{"note":"đã nhận ca"}`, 200), &got); err != nil {
		t.Fatal(err)
	}
	if got.Incoming != "Quản trị" || got.IncomingNote != "đã nhận ca" || got.Accepted.IsZero() {
		t.Fatalf("accepted %+v", got)
	}
	must("admin", "POST", APIPrefix+"/duty/handovers/"+h.ID+"/accept", `{}`, 409) // twice
	s := screen()
	if s.Pending != nil || s.Last == nil || s.Last.ID != h.ID || s.Last.Incoming != "Quản trị" || !s.Last.Accepted.Equal(got.Accepted) {
		t.Fatalf("after the acceptance: %+v", s)
	}
	var page Page[analytics.Handover]
	if err := json.Unmarshal(must("operator", "GET", APIPrefix+"/duty/handovers", "", 200), &page); err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || page.Items[0].Incoming != "Quản trị" {
		t.Fatalf("handovers %+v", page)
	}
	for _, key := range []string{"flood", "police", "analyst", "viewer"} {
		must(key, "GET", APIPrefix+"/duty/handover", "", 403)
		must(key, "POST", APIPrefix+"/duty/log", `{"text":"x"}`, 403)
	}
}
