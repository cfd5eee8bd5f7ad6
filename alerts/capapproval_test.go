package alerts

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

func newApprovalRig(t *testing.T, cfg config.CAP) (*capRig, *ClickHouseStore, *ingest.Catalog) {
	t.Helper()
	ch := testenv.ClickHouseConfig(t)
	if _, err := analytics.Migrate(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	h := newHarness(t, rules(`kind: alarm_levels
metric: water_level
public: true
levels: {i: {severity: medium, risk_level: 1}, ii: {severity: high, risk_level: 2}, iii: {severity: critical, risk_level: 3}}`)+testRoute)
	sensors, err := ingest.ParseCatalog([]byte(testSensors+capDistricts), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.c.setCatalogs(sensors, nil, h.now)
	feed, _ := newCAPFeedOn(t, cfg, store, sensors, func() time.Time { return h.now })
	return &capRig{h: h, feed: feed}, store, sensors
}

func feedTypes(t *testing.T, f *CAPFeed) string {
	t.Helper()
	var types []string
	for _, m := range feedEntries(t, f) {
		types = append(types, m.MsgType+" "+m.Info[0].Severity)
	}
	return strings.Join(types, "|")
}

// An Actual warning enters the feed only once approved; a high-risk one needs two different
// people; a stale or unknown draft is refused; a draft survives a restart; a rejected one and
// one whose alert ended are never published.
func TestCAPApproval(t *testing.T) {
	cfg := config.Default().Alerts.CAP
	cfg.SecondApproverFromRisk = 3
	r, store, sensors := newApprovalRig(t, cfg)
	ctx := context.Background()

	r.h.read("gauge-a", "water_level", 80.5) // báo động I, risk level 1
	r.notify()
	if got := feedTypes(t, r.feed); got != "" {
		t.Fatalf("feed before approval: %q", got)
	}
	drafts := r.feed.Drafts()
	if len(drafts) != 1 || drafts[0].MsgType != CAPAlert || drafts[0].Needed != 1 || drafts[0].Status != "Actual" || drafts[0].Document == "" {
		t.Fatalf("drafts: %+v", drafts)
	}
	d := drafts[0]
	if _, _, err := r.feed.Approve(ctx, d.AlertID, "ioc.invalid.other.1", "key:op-a", "A"); !errors.Is(err, ErrDraftChanged) {
		t.Errorf("approving another identifier: %v", err)
	}
	if _, _, err := r.feed.Approve(ctx, "no-such-alert", d.Identifier, "key:op-a", "A"); !errors.Is(err, ErrNotFound) {
		t.Errorf("approving an unknown alert: %v", err)
	}
	got, released, err := r.feed.Approve(ctx, d.AlertID, d.Identifier, "key:op-a", "Trực ban A")
	if err != nil || !released || len(got.Approvals) != 1 || got.Approvals[0].Name != "Trực ban A" {
		t.Fatalf("approve: %+v %v %v", got, released, err)
	}
	if types := feedTypes(t, r.feed); types != "Alert Moderate" {
		t.Fatalf("feed after approval: %q", types)
	}

	// báo động III, risk level 3: two people.
	r.h.advance(time.Minute)
	r.h.read("gauge-a", "water_level", 83.6)
	r.notify()
	d, _ = r.feed.DraftOf(d.AlertID)
	if d.MsgType != CAPUpdate || d.Needed != 2 || d.RiskLevel != 3 {
		t.Fatalf("high-risk draft: %+v", d)
	}
	if _, released, err := r.feed.Approve(ctx, d.AlertID, d.Identifier, "key:op-a", "A"); err != nil || released {
		t.Fatalf("first of two approvals: released %v, %v", released, err)
	}
	if _, _, err := r.feed.Approve(ctx, d.AlertID, d.Identifier, "key:op-a", "A"); !errors.Is(err, ErrSameApprover) {
		t.Errorf("the same person twice: %v", err)
	}
	if types := feedTypes(t, r.feed); types != "Alert Moderate" {
		t.Fatalf("feed after one of two approvals: %q", types)
	}

	// A restart: the half-approved draft comes back with its approval (and the published
	// Alert with the feed, once the first feed's outbox has stored it).
	waitRows(t, store, "SELECT count() FROM cap_drafts FINAL WHERE state = 'pending' AND length(approvals) = 1", 1)
	waitRows(t, store, "SELECT count() FROM cap_messages", 1)
	feed2, _ := newCAPFeedOn(t, cfg, store, sensors, func() time.Time { return r.h.now })
	testenv.WaitFor(t, "the draft reloaded", 10*time.Second, func() bool { _, ok := feed2.DraftOf(d.AlertID); return ok })
	r.feed = feed2
	if back, _ := feed2.DraftOf(d.AlertID); len(back.Approvals) != 1 || back.Approvals[0].By != "key:op-a" || back.Identifier != d.Identifier {
		t.Fatalf("reloaded draft: %+v", back)
	}
	if _, released, err := feed2.Approve(ctx, d.AlertID, d.Identifier, "key:op-b", "B"); err != nil || !released {
		t.Fatalf("second approval: %v %v", released, err)
	}
	if types := feedTypes(t, feed2); types != "Update Extreme|Alert Moderate" {
		t.Fatalf("feed after two approvals: %q", types)
	}

	// Gauge B: rejected; gauge A's end goes out at once (a Cancel never waits).
	r.h.advance(time.Minute)
	r.h.read("gauge-b", "water_level", 80.3)
	r.notify()
	var db CAPDraft
	for _, x := range feed2.Drafts() {
		if strings.Contains(x.Headline, "Trạm B") {
			db = x
		}
	}
	if err := feed2.Reject(ctx, db.AlertID, db.Identifier, "key:op-a", "số đo đang kiểm tra"); err != nil {
		t.Fatal(err)
	}
	r.h.read("gauge-a", "water_level", 79)
	r.notify()
	if types := feedTypes(t, feed2); types != "Cancel Extreme|Update Extreme|Alert Moderate" {
		t.Fatalf("feed after a rejection and an end: %q", types)
	}
	// Bát Xát again, then it ends before anyone approves: no message at all.
	r.h.advance(10 * time.Minute)
	r.h.read("gauge-b", "water_level", 79)
	r.notify()
	r.h.advance(time.Minute)
	r.h.read("gauge-b", "water_level", 80.4)
	r.notify()
	r.h.advance(time.Minute)
	r.h.read("gauge-b", "water_level", 79)
	r.notify()
	if len(feed2.Drafts()) != 0 || strings.Count(feedTypes(t, feed2), "|") != 2 {
		t.Errorf("drafts %+v, feed %q: an ended alert's draft must go, unpublished", feed2.Drafts(), feedTypes(t, feed2))
	}
	waitRows(t, store, "SELECT count() FROM cap_drafts FINAL WHERE state = 'rejected' AND decided_by = 'key:op-a' AND reason = 'số đo đang kiểm tra'", 1)
}

// Exercise messages go out at once, marked in the feed; a suspect alert's waits even then.
func TestCAPExerciseAndSuspect(t *testing.T) {
	cfg := config.Default().Alerts.CAP
	cfg.Status = "Exercise"
	r, _, _ := newApprovalRig(t, cfg)
	r.h.read("gauge-a", "water_level", 80.5)
	r.notify()
	body, _ := r.feed.Atom("")
	if len(r.feed.Drafts()) != 0 || !bytes.Contains(body, []byte("<title>[DIỄN TẬP / EXERCISE] ")) {
		t.Fatalf("an exercise: drafts %d, feed\n%s", len(r.feed.Drafts()), body)
	}
	r.h.c.observe([]ingest.Reading{{Time: r.h.now, Received: r.h.now, Sensor: "gauge-b", Metric: "water_level", Value: 80.6, Quality: ingest.QualitySuspect}}, r.h.now)
	r.notify()
	drafts := r.feed.Drafts()
	if len(drafts) != 1 || !drafts[0].Suspect {
		t.Fatalf("a suspect alert in an exercise: drafts %+v, want one marked suspect", drafts)
	}
	// A plausible reading confirms it: the confirmed message goes out as an exercise does.
	r.h.advance(time.Minute)
	r.h.c.observe([]ingest.Reading{{Time: r.h.now, Received: r.h.now, Sensor: "gauge-b", Metric: "water_level", Value: 80.7, Quality: ingest.QualityGood}}, r.h.now)
	r.notify()
	if len(r.feed.Drafts()) != 0 || strings.Count(feedTypes(t, r.feed), "Alert") != 2 {
		t.Errorf("after confirmation: drafts %+v, feed %q", r.feed.Drafts(), feedTypes(t, r.feed))
	}
}

// A draft whose alert ended while no process could notify its end (ioc was down) is dropped
// once the engine is asked, never left to be approved.
func TestCAPDraftOfAnEndedAlertIsDropped(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := analytics.Migrate(ctx, ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	doc, err := xmlDocument(&CAPMessage{Identifier: "ioc.invalid.gone.1", Status: "Actual", MsgType: CAPAlert, Info: []CAPInfo{{Headline: "Lũ"}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutCAPDrafts(ctx, []CAPDraftRecord{{Version: 1, Identifier: "ioc.invalid.gone.1", AlertID: "gone", MsgType: CAPAlert,
		State: DraftPending, Created: time.Now().UTC(), Needed: 1, XML: doc}}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	e := NewEngine(&RuleFile{}, nil, nil, store, nil, nil, Options{Tick: 50 * time.Millisecond}, prometheus.NewRegistry(), log)
	f := NewCAPFeed(config.Default().Alerts.CAP, e, store, nil, log)
	f.pruneEvery = 50 * time.Millisecond
	done := make(chan struct{}, 2)
	go func() { _ = e.Run(ctx); done <- struct{}{} }()
	go func() { _ = f.Run(ctx); done <- struct{}{} }()
	waitRows(t, store, "SELECT count() FROM cap_drafts FINAL WHERE identifier = 'ioc.invalid.gone.1' AND state = 'superseded' AND reason = 'the alert ended before it was released'", 1)
	if d := f.Drafts(); len(d) != 0 {
		t.Errorf("drafts %+v", d)
	}
	cancel()
	<-done
	<-done
}
