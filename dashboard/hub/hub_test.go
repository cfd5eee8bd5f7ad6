package hub

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

type frame struct {
	Type    string   `json:"type"`
	Topics  []string `json:"topics"`
	Dropped int      `json:"dropped"`
	Items   []struct {
		Kind string          `json:"kind"`
		Key  string          `json:"key"`
		Data json.RawMessage `json:"data"`
	} `json:"items"`
}

// take reads the frames queued for c.
func take(t *testing.T, c *Client) []frame {
	t.Helper()
	var out []frame
	for {
		select {
		case b := <-c.Frames():
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatalf("frame %s: %v", b, err)
			}
			out = append(out, f)
		default:
			return out
		}
	}
}

func keys(f frame) map[string]string {
	m := map[string]string{}
	for _, it := range f.Items {
		m[it.Key] = string(it.Data)
	}
	return m
}

func reading(sensor, district string, v float64) Item {
	return Item{Key: "r/" + sensor, Kind: "reading", Topics: []string{"sensors", "sensor." + sensor, "district." + district}, Data: v, Every: time.Second}
}

func TestTopicsSnapshotsAndCoalescing(t *testing.T) {
	h := New(Options{Queue: 8}, nil)
	h.Publish(reading("a", "saPa", 1))
	h.Publish(reading("b", "batXat", 2))
	t0 := time.Unix(1_800_000_000, 0)
	h.flush(t0)

	wall, unit := h.Attach(), h.Attach()
	if err := h.Subscribe(wall, []string{"sensors"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Subscribe(unit, []string{"district.saPa", "alerts.unit.police"}); err != nil {
		t.Fatal(err)
	}
	if f := take(t, wall); len(f) != 1 || f[0].Type != "snapshot" || len(keys(f[0])) != 2 {
		t.Fatalf("wall's snapshot %+v", f)
	}
	if f := take(t, unit); len(f) != 1 || fmt.Sprint(keys(f[0])) != "map[r/a:1]" {
		t.Fatalf("unit's snapshot %+v", f)
	}

	// Both were sent at t0: their changes within the next second are held and coalesced, then
	// go out together with the latest values.
	h.Publish(reading("a", "saPa", 3))
	h.Publish(reading("b", "batXat", 4))
	h.flush(t0.Add(500 * time.Millisecond))
	h.Publish(reading("a", "saPa", 5))
	h.flush(t0.Add(900 * time.Millisecond))
	if f := take(t, wall); len(f) != 0 {
		t.Fatalf("sent within a sensor's pace: %+v", f)
	}
	h.Publish(reading("a", "saPa", 6))
	h.flush(t0.Add(1000 * time.Millisecond))
	if f := take(t, wall); len(f) != 1 || f[0].Type != "update" || fmt.Sprint(keys(f[0])) != "map[r/a:6 r/b:4]" {
		t.Fatalf("wall's updates %+v", f)
	}
	if f := take(t, unit); len(f) != 1 || fmt.Sprint(keys(f[0])) != "map[r/a:6]" {
		t.Fatalf("the unit got %+v, want only a's latest value", f)
	}

	// An alert without a pace goes out at the next flush, to its topics only; once final it
	// leaves the state.
	alert := Item{Key: "alert/x", Kind: "alert", Topics: []string{"alerts", "alerts.unit.police"}, Data: "firing"}
	h.Publish(alert)
	h.flush(t0.Add(1010 * time.Millisecond))
	if f := take(t, unit); len(f) != 1 || fmt.Sprint(keys(f[0])) != `map[alert/x:"firing"]` {
		t.Fatalf("unit: %+v", f)
	}
	if f := take(t, wall); len(f) != 0 {
		t.Fatalf("the wall is not subscribed to alerts: %+v", f)
	}
	alert.Data, alert.Final = "resolved", true
	h.Publish(alert)
	h.flush(t0.Add(1020 * time.Millisecond))
	if f := take(t, unit); len(f) != 1 || fmt.Sprint(keys(f[0])) != `map[alert/x:"resolved"]` {
		t.Fatalf("unit: %+v", f)
	}
	if _, ok := h.Get("alert/x"); ok {
		t.Fatal("a final item stays in the state")
	}
	h.Unsubscribe(unit, []string{"district.saPa"})
	if got := unit.Topics(); fmt.Sprint(got) != "[alerts.unit.police]" {
		t.Fatalf("topics %v", got)
	}
}

func TestSlowClientGetsLatestState(t *testing.T) {
	h := New(Options{Queue: 4}, nil)
	slow, fast := h.Attach(), h.Attach()
	for _, c := range []*Client{slow, fast} {
		if err := h.Subscribe(c, []string{"sensors"}); err != nil {
			t.Fatal(err)
		}
	}
	take(t, fast)
	take(t, slow)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 20 { // the slow client reads nothing meanwhile
		h.Publish(Item{Key: fmt.Sprintf("r/%d", i%3), Kind: "reading", Topics: []string{"sensors"}, Data: i})
		h.flush(t0.Add(time.Duration(i) * time.Millisecond))
		if f := take(t, fast); len(f) != 1 || f[0].Type != "update" {
			t.Fatalf("the fast client, flush %d: %+v", i, f)
		}
		if n := len(slow.Frames()); n > 4 {
			t.Fatalf("a slow client's queue grew to %d", n)
		}
	}
	f := take(t, slow)
	var lagged, snap *frame
	for i := range f {
		switch f[i].Type {
		case "lagged":
			lagged = &f[i]
		case "snapshot":
			snap = &f[i]
		}
	}
	if lagged == nil || lagged.Dropped < 2 || snap == nil {
		t.Fatalf("the slow client got %+v, want a lagged notice and a snapshot", f)
	}
	last := f[len(f)-1]
	got := keys(last)
	if last.Type == "snapshot" && fmt.Sprint(got) != "map[r/0:18 r/1:19 r/2:17]" {
		t.Fatalf("the last snapshot %v is not the latest state", got)
	}
}

func TestTopicLimit(t *testing.T) {
	h := New(Options{}, nil)
	c := h.Attach()
	var many []string
	for i := range maxTopics + 1 {
		many = append(many, fmt.Sprintf("sensor.s%d", i))
	}
	if err := h.Subscribe(c, many); err == nil {
		t.Fatal("a client took more topics than the limit")
	}
	if len(c.Topics()) != 0 {
		t.Fatal("a refused subscription changed the topics")
	}
}

// BenchmarkPublishFlush is the live city under a busy province: 2,000 sensors paced at one
// send a second, each changing 25 times a second, flushed every 10 ms (the defaults). One op
// is one 10 ms tick: 500 changes and a flush.
func BenchmarkPublishFlush(b *testing.B) {
	h := New(Options{Queue: 8}, nil)
	items := make([]Item, 2000)
	for i := range items {
		items[i] = reading(fmt.Sprintf("s-%04d", i), "d", 1)
	}
	now := time.Unix(1_800_000_000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range 500 {
			h.Publish(items[(i*500+j)%len(items)])
		}
		now = now.Add(10 * time.Millisecond)
		h.flush(now)
	}
}
