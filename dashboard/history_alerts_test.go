package dashboard

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

// The stored alerts are searched by district, text, unit and state; a unit finds only its own;
// the response times and the CSV come from the same search.
func TestAlertHistory(t *testing.T) {
	f := newFixture(t, 0)
	time.Sleep(20 * time.Millisecond) // an acknowledgement some time after the firing
	if _, err := f.engine.Acknowledge(t.Context(), f.alert.ID, "Trực ban <key:operator>", "đã nhận"); err != nil {
		t.Fatal(err)
	}
	search := func(key, query string) (int, Page[HistoryItem]) {
		t.Helper()
		code, body := f.call(t, key, "GET", APIPrefix+"/alerts/history?"+query, "")
		var pg Page[HistoryItem]
		if code == 200 {
			if err := json.Unmarshal(body, &pg); err != nil {
				t.Fatal(err)
			}
		}
		return code, pg
	}
	testenv.WaitFor(t, "the river alert stored and acknowledged", 15*time.Second, func() bool {
		_, pg := search("operator", "district="+url.QueryEscape("TP Lào Cai"))
		return pg.Total == 1 && pg.Items[0].Alert.ID == f.alert.ID && pg.Items[0].AckSeconds > 0
	})

	for _, q := range []string{"q=" + url.QueryEscape("lào cai"), "state=acknowledged", "unit=flood_control", "category=naturalDisaster"} {
		if _, pg := search("operator", q); pg.Total != 1 {
			t.Errorf("%s: %d alerts, want the river alert", q, pg.Total)
		}
	}
	for _, q := range []string{"q=" + url.QueryEscape("không có"), "state=resolved", "district=" + url.QueryEscape("Bát Xát"), "unit=police"} {
		if _, pg := search("operator", q); pg.Total != 0 {
			t.Errorf("%s: %d alerts, want none", q, pg.Total)
		}
	}
	if _, pg := search("flood", ""); pg.Total != 1 {
		t.Errorf("flood control's history: %d alerts, want its river alert", pg.Total)
	}
	if _, pg := search("police", ""); pg.Total != 0 {
		t.Errorf("the police's history shows flood control's alert: %+v", pg.Items)
	}
	if code, _ := search("police", "unit=flood_control"); code != 404 {
		t.Errorf("the police asking for flood control's history: %d, want 404", code)
	}
	if code, _ := search("operator", "from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"); code != 400 {
		t.Errorf("a range backwards: %d, want 400", code)
	}
	code, body := f.call(t, "operator", "GET", APIPrefix+"/alerts/history/response-times", "")
	var rts []ResponseTime
	if code != 200 || json.Unmarshal(body, &rts) != nil {
		t.Fatalf("response times: %d %s", code, body)
	}
	found := false
	for _, r := range rts {
		if r.Unit == "flood_control" && r.Category == "naturalDisaster" {
			found = r.Alerts == 1 && r.Acknowledged == 1 && r.MedianAckSeconds > 0 && r.Resolved == 0
		}
	}
	if !found {
		t.Errorf("response times %+v: want flood control's one acknowledged flood alert", rts)
	}
	code, body = f.call(t, "operator", "GET", APIPrefix+"/exports/alerts.csv", "")
	if lines := strings.Split(strings.TrimSpace(string(body)), "\n"); code != 200 || len(lines) != 2 || !strings.Contains(lines[1], f.alert.ID) {
		t.Errorf("CSV: %d %q", code, body)
	}
}
