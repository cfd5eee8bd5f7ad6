package relay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

func TestSplitKeepsEveryItemAndTheEventsOrder(t *testing.T) {
	b := Batch{From: "a"}
	for i := range 5 {
		b.Readings = append(b.Readings, ingest.Reading{Sensor: fmt.Sprint(i)})
	}
	b.Cameras = []streams.CameraStatus{{Camera: "c1"}}
	for i := range 4 {
		b.Alerts = append(b.Alerts, alerts.Event{Reason: fmt.Sprint(i)})
	}
	parts := b.split(4)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3 (10 items by 4)", len(parts))
	}
	var readings, cameras int
	var reasons string
	for _, p := range parts {
		if p.From != "a" {
			t.Errorf("a part from %q", p.From)
		}
		readings += len(p.Readings)
		cameras += len(p.Cameras)
		for _, e := range p.Alerts {
			reasons += e.Reason
		}
	}
	if readings != 5 || cameras != 1 || reasons != "0123" {
		t.Fatalf("%d readings, %d cameras, events %q: want 5, 1, 0123", readings, cameras, reasons)
	}
	if got := (Batch{From: "a"}).split(4); len(got) != 0 {
		t.Fatalf("an empty batch gives %d messages", len(got))
	}
}

// sink records what a relay hands it.
type sink struct {
	mu       sync.Mutex
	readings map[string]float64
	cameras  int
	events   []alerts.EventKind
}

func (s *sink) Readings(rs []ingest.Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.readings[r.Sensor+"/"+r.Metric] = r.Value
	}
}

func (s *sink) CameraStatuses(ss []streams.CameraStatus) {
	s.mu.Lock()
	s.cameras += len(ss)
	s.mu.Unlock()
}

func (s *sink) AlertChanged(e alerts.Event) {
	s.mu.Lock()
	s.events = append(s.events, e.Kind)
	s.mu.Unlock()
}

func (s *sink) state() (map[string]float64, int, []alerts.EventKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readings, s.cameras, append([]alerts.EventKind(nil), s.events...)
}

// Through the real broker: process A's latest values, camera status and alert events reach
// process B's sink coalesced, in messages of at most MaxItems; B's own batches never come back
// to B; a malformed message is counted and dropped.
func TestRelayThroughTheBroker(t *testing.T) {
	broker := testenv.Broker(t)
	topic := fmt.Sprintf("ioc-live-test-%d", time.Now().UnixNano())
	mc := config.Default().MQTT
	mc.Broker, mc.ClientID = broker, "relay-test"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := func(instance string, s Sink) *Relay {
		r, err := New(mc, Options{Topic: topic, Instance: instance, Flush: 50 * time.Millisecond, MaxItems: 3, Sink: s}, prometheus.NewRegistry(), log)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = r.Run(ctx) }()
		return r
	}
	got := &sink{readings: map[string]float64{}}
	b := start("b", got)
	a := start("a", nil)
	testenv.WaitFor(t, "both relays connected", 10*time.Second, func() bool { return a.client.IsConnectionOpen() && b.client.IsConnectionOpen() })
	time.Sleep(200 * time.Millisecond) // b's subscription is made in its connect handler

	now := time.Now().UTC()
	var rs []ingest.Reading
	for i := range 5 { // older values first: only the latest of each sensor goes out
		rs = append(rs, ingest.Reading{Sensor: fmt.Sprintf("s%d", i%2), Metric: "water_level", Value: float64(i), Time: now.Add(time.Duration(i) * time.Second)})
	}
	rs = append(rs, ingest.Reading{Sensor: "s0", Metric: "water_level", Value: -1, Time: now.Add(-time.Hour)}) // late: not the latest
	_ = a.ObserveReadings(ctx, rs, nil)
	_ = a.ObserveCameras(ctx, []streams.CameraStatus{{Camera: "cam-1", State: streams.StateOnline}}, nil)
	for _, k := range []alerts.EventKind{alerts.EventFiring, alerts.EventAcknowledged, alerts.EventResolved, alerts.EventFiring} {
		a.AlertChanged(alerts.Event{Kind: k})
	}
	_ = b.ObserveReadings(ctx, []ingest.Reading{{Sensor: "own", Metric: "x", Time: now}}, nil) // b's own: never back to b

	testenv.WaitFor(t, "a's batch at b", 10*time.Second, func() bool {
		r, cams, ev := got.state()
		return len(r) >= 2 && cams == 1 && len(ev) == 4
	})
	time.Sleep(300 * time.Millisecond)
	readings, cams, events := got.state()
	if len(readings) != 2 || readings["s0/water_level"] != 4 || readings["s1/water_level"] != 3 || cams != 1 {
		t.Errorf("b got readings %v and %d camera statuses: want s0 = 4, s1 = 3 (the latest of each) and 1", readings, cams)
	}
	want := []alerts.EventKind{alerts.EventFiring, alerts.EventAcknowledged, alerts.EventResolved, alerts.EventFiring}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("b got events %v, want %v in order", events, want)
	}
	if v := testutil.ToFloat64(a.m.batches); v < 3 {
		t.Errorf("a published %g messages, want at least 3 (8 items by 3)", v)
	}

	// A message that is not a batch: counted, dropped, nothing handed on.
	a.client.Publish(topic+"/garbage", 1, false, []byte("{not json")).Wait()
	testenv.WaitFor(t, "the malformed batch counted", 5*time.Second, func() bool {
		return testutil.ToFloat64(b.m.dropped.WithLabelValues("malformed")) == 1
	})
}
