package triage

import (
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest/citizen"
)

func TestChanges(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	group := alerts.Alert{ID: "a1", Source: alerts.SourceCitizen, State: alerts.StateFiring, Seq: 3, Units: []string{"ioc", "police"},
		Reports: []string{"cr-1", "cr-2"}, DueAt: at.Add(48 * time.Hour)}
	for _, c := range []struct {
		name          string
		kind          alerts.EventKind
		actor, reason string
		edit          func(a *alerts.Alert)
		state, answer string // "" state: no change
	}{
		{name: "routed", kind: alerts.EventFiring, actor: alerts.ActorEngine, state: citizen.StateReceived},
		{name: "joined", kind: alerts.EventReported, actor: alerts.ActorEngine, state: citizen.StateReceived},
		{name: "taken", kind: alerts.EventAcknowledged, actor: "police", edit: func(a *alerts.Alert) { a.State = alerts.StateAcknowledged }, state: citizen.StateInProgress},
		{name: "joined while taken", kind: alerts.EventReported, actor: alerts.ActorEngine, edit: func(a *alerts.Alert) { a.State = alerts.StateAcknowledged },
			state: citizen.StateInProgress},
		{name: "answered", kind: alerts.EventResolved, actor: "police", reason: "Đã xử lý", edit: func(a *alerts.Alert) { a.State = alerts.StateResolved },
			state: citizen.StateResolved, answer: "Đã xử lý"},
		{name: "rejected", kind: alerts.EventResolved, actor: "ioc", reason: "Không thuộc thẩm quyền", edit: func(a *alerts.Alert) { a.State, a.Rejected = alerts.StateResolved, true },
			state: citizen.StateRejected, answer: "Không thuộc thẩm quyền"},
		{name: "comment", kind: alerts.EventCommented, actor: "police", reason: "đang tới"},
		{name: "rule removed", kind: alerts.EventResolved, actor: alerts.ActorEngine, reason: "quy tắc đã bị gỡ", edit: func(a *alerts.Alert) { a.State = alerts.StateResolved }},
	} {
		a := group
		if c.edit != nil {
			c.edit(&a)
		}
		got := Changes(alerts.Event{Time: at, Kind: c.kind, Actor: c.actor, Reason: c.reason, Alert: a})
		if c.state == "" {
			if len(got) != 0 {
				t.Errorf("%s: changes %+v, want none", c.name, got)
			}
			continue
		}
		if len(got) != 2 {
			t.Fatalf("%s: %d changes, want one per report", c.name, len(got))
		}
		for i, e := range got {
			r := e.Report
			if !e.Change || e.Seq != analytics.ChangeSeq(at) || e.Seq < 200_000_000 || r.ID != a.Reports[i] || r.State != c.state || r.Answer != c.answer || r.Alert != "a1" || r.Group != 2 ||
				len(r.Units) != 2 || !r.DueAt.Equal(a.DueAt) || e.Actor != c.actor {
				t.Errorf("%s: change %d = %+v", c.name, i, e)
			}
		}
	}
	if got := Changes(alerts.Event{Kind: alerts.EventFiring, Alert: alerts.Alert{Source: alerts.SourceSensor}}); got != nil {
		t.Errorf("a sensor's alert changed reports: %+v", got)
	}
}
