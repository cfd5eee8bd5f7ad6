package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
)

// addDeliveries stores three attempts of the fixture's river alert: flood control's webhook
// failing once then delivered, and the IOC's e-mail.
func (f *fixture) addDeliveries(t *testing.T) {
	t.Helper()
	store := f.srv.src.AlertHistory.(*alerts.ClickHouseStore)
	now := time.Now().UTC().Truncate(time.Millisecond)
	err := store.AppendAttempts(context.Background(), []alerts.Attempt{
		{Time: now, AlertID: f.alert.ID, Seq: 1, Kind: alerts.EventFiring, Receiver: "pctt-webhook", Type: "webhook", Unit: "flood_control", Number: 1, Status: "retry", Error: "pctt-webhook: answered 503 Service Unavailable", Duration: 12 * time.Millisecond},
		{Time: now.Add(time.Second), AlertID: f.alert.ID, Seq: 1, Kind: alerts.EventFiring, Receiver: "pctt-webhook", Type: "webhook", Unit: "flood_control", Number: 2, Status: "ok", Duration: 8 * time.Millisecond},
		{Time: now.Add(2 * time.Second), AlertID: f.alert.ID, Seq: 1, Kind: alerts.EventFiring, Receiver: "ioc-mail", Type: "email", Unit: "ioc", Number: 1, Status: "ok", Duration: 40 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An alert's detail carries the receipts of its notifications, oldest first; a unit sees only
// those sent to its own units.
func TestAlertDeliveries(t *testing.T) {
	f := newFixture(t, 0)
	f.addDeliveries(t)
	detail := func(key string) AlertDetail {
		t.Helper()
		code, body := f.call(t, key, "GET", APIPrefix+"/alerts/"+f.alert.ID, "")
		var d AlertDetail
		if code != 200 || json.Unmarshal(body, &d) != nil {
			t.Fatalf("%s: %d %s", key, code, body)
		}
		return d
	}
	ops := detail("operator").Deliveries
	if len(ops) != 3 || ops[0].Status != "retry" || ops[0].Error == "" || ops[1].Attempt != 2 || ops[1].Status != "ok" ||
		ops[2].Unit != "ioc" || ops[2].Channel != "email" || ops[2].DurationMS != 40 {
		t.Fatalf("operator's receipts: %+v", ops)
	}
	flood := detail("flood").Deliveries
	if len(flood) != 2 || flood[0].Unit != "flood_control" || flood[1].Unit != "flood_control" {
		t.Errorf("flood control's receipts: %+v, want its own two", flood)
	}
	if code, _ := f.call(t, "police", "GET", APIPrefix+"/alerts/"+f.alert.ID, ""); code != 404 {
		t.Errorf("police reading flood control's alert: %d", code)
	}
}
