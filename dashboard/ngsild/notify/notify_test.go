package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
)

func gauge(id string, height float64, at time.Time) ngsild.Entity {
	return ngsild.Entity{ID: "urn:ngsi-ld:WaterObserved:" + id, Type: ngsild.TypeWaterObserved, District: "Bát Xát", Attrs: map[string]ngsild.Attr{
		"height": {Type: "Property", Value: height, ObservedAt: ngsild.Stamp(at)},
		"name":   {Type: "Property", Value: id},
	}}
}

func newWorker(t Target, since time.Time) *worker {
	return &worker{n: &Notifier{}, t: t, pending: map[string]change{}, wake: make(chan struct{}, 1), since: since}
}

// printsOf sums up the entities' attributes as the notifier does.
func printsOf(city []ngsild.Entity) func(int) ngsild.Prints {
	return func(i int) ngsild.Prints { return ngsild.PrintsOf(&city[i]) }
}

func pendingIDs(w *worker) []string {
	var ids []string
	for id := range w.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// What is due: at first every match (or, taking a target up, what changed since its log
// says), then each change of a watched attribute, an entity that comes to match, nothing while
// paused or expired, and everything each interval.
func TestObserve(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	city := []ngsild.Entity{gauge("a", 1.0, t0), gauge("b", 2.0, t0.Add(-time.Hour))}
	f := ngsild.NewFilter([]string{ngsild.TypeWaterObserved})

	w := newWorker(Target{Filter: f}, time.Time{})
	if w.observe(city, printsOf(city), t0, t0); !slices.Equal(pendingIDs(w), []string{"urn:ngsi-ld:WaterObserved:a", "urn:ngsi-ld:WaterObserved:b"}) {
		t.Errorf("first observation: %v", pendingIDs(w))
	}
	taken, through := w.take(1)
	rest := w.pending[pendingIDs(w)[0]].entity
	if len(taken) != 1 || !through.Equal(ngsild.Modified(&rest)) {
		t.Errorf("take 1: %d, through %s", len(taken), through)
	}
	if taken, through = w.take(10); len(taken) != 1 || !through.Equal(t0) {
		t.Errorf("take the rest: %d, through %s (want the observation's time)", len(taken), through)
	}
	w.observe(city, printsOf(city), t0.Add(time.Second), t0.Add(time.Second))
	if len(w.pending) != 0 {
		t.Errorf("nothing changed, yet %v", pendingIDs(w))
	}
	city[1] = gauge("b", 2.5, t0.Add(2*time.Second))
	if w.observe(city, printsOf(city), t0.Add(2*time.Second), t0.Add(2*time.Second)); !slices.Equal(pendingIDs(w), []string{"urn:ngsi-ld:WaterObserved:b"}) {
		t.Errorf("b changed: %v", pendingIDs(w))
	}

	// Taken up after a restart: only what changed after the log's point.
	w = newWorker(Target{Filter: f}, t0.Add(-time.Minute))
	if w.observe(city, printsOf(city), t0, t0); !slices.Equal(pendingIDs(w), []string{"urn:ngsi-ld:WaterObserved:a", "urn:ngsi-ld:WaterObserved:b"}) {
		t.Errorf("taken up: %v", pendingIDs(w))
	}
	old := []ngsild.Entity{gauge("a", 1.0, t0.Add(-time.Hour))}
	w = newWorker(Target{Filter: f}, t0.Add(-time.Minute))
	if w.observe(old, printsOf(old), t0, t0); len(w.pending) != 0 {
		t.Errorf("taken up, nothing new: %v", pendingIDs(w))
	}

	// Watched: a change of another attribute is none.
	hf := &ngsild.Filter{Watched: []string{"height"}}
	w = newWorker(Target{Filter: hf}, time.Time{})
	w.observe(city, printsOf(city), t0, t0)
	w.take(10)
	renamed := slices.Clone(city)
	renamed[0].Attrs = map[string]ngsild.Attr{"height": city[0].Attrs["height"], "name": {Type: "Property", Value: "renamed"}}
	if w.observe(renamed, printsOf(renamed), t0.Add(time.Second), t0.Add(time.Second)); len(w.pending) != 0 {
		t.Errorf("a change of name is no change of height: %v", pendingIDs(w))
	}

	// Paused and expired: nothing; the interval: everything each time it is due.
	w = newWorker(Target{Filter: f, Paused: true}, time.Time{})
	if w.observe(city, printsOf(city), t0, t0); len(w.pending) != 0 {
		t.Error("paused, yet due")
	}
	w = newWorker(Target{Filter: f, Expires: t0}, time.Time{})
	if w.observe(city, printsOf(city), t0, t0); len(w.pending) != 0 {
		t.Error("expired, yet due")
	}
	w = newWorker(Target{Filter: f, Interval: time.Minute}, time.Time{})
	for i, want := range []int{2, 0, 2} {
		w.take(10)
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		w.observe(city, printsOf(city), at, at)
		if len(w.pending) != want {
			t.Errorf("interval, at %ds: %d due, want %d", i*30, len(w.pending), want)
		}
	}
	// The scope: another district's entity is never due.
	w = newWorker(Target{Filter: f, Scope: ngsild.Scope{Districts: []string{"Sa Pa"}}}, time.Time{})
	if w.observe(city, printsOf(city), t0, t0); len(w.pending) != 0 {
		t.Error("out of scope, yet due")
	}
}

// A throttled subscription gets its changes at most once a throttling period, batched; the
// log holds each attempt.
func TestThrottledDelivery(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, at = append(got, b), append(at, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	var logMu sync.Mutex
	var logged []analytics.DeliveryRow
	t0 := time.Now()
	city := []ngsild.Entity{gauge("a", 1.0, t0), gauge("b", 2.0, t0), gauge("c", 3.0, t0)}
	var cityMu sync.Mutex
	n := New(Options{
		Entities: func(...string) []ngsild.Entity { cityMu.Lock(); defer cityMu.Unlock(); return slices.Clone(city) },
		Targets: func(context.Context) ([]Target, error) {
			return []Target{{ID: "urn:ngsi-ld:Subscription:t", Kind: KindSubscription, Version: "1", Filter: &ngsild.Filter{},
				URL: srv.URL, Throttle: 300 * time.Millisecond, Batch: 2}}, nil
		},
		Through: func(context.Context, []string) (map[string]time.Time, error) { return nil, nil },
		Log: func(_ context.Context, ds []analytics.DeliveryRow) error {
			logMu.Lock()
			defer logMu.Unlock()
			logged = append(logged, ds...)
			return nil
		},
		Tick: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	wait := func(count int) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			k := len(got)
			mu.Unlock()
			if k >= count {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d notifications, want %d", k, count)
			}
		}
	}
	wait(2) // three entities in batches of two
	cityMu.Lock()
	city[0] = gauge("a", 1.1, time.Now())
	cityMu.Unlock()
	wait(3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var total int
	for i, b := range got {
		var note ngsild.Notification
		if err := json.Unmarshal(b, &note); err != nil || len(note.Data) > 2 {
			t.Fatalf("notification %d: %v %s", i, err, b)
		}
		total += len(note.Data)
		if i > 0 && at[i].Sub(at[i-1]) < 300*time.Millisecond {
			t.Errorf("notifications %d and %d %s apart: under the throttling", i-1, i, at[i].Sub(at[i-1]))
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if total != 4 || len(logged) != len(got) || logged[0].Status != "ok" || logged[0].Through.IsZero() {
		t.Errorf("%d entities in %d notifications, log %+v", total, len(got), logged)
	}
}

// BenchmarkObserve: one tick over the city of `ioc-bench ngsild`: 2,000 background and 300
// probe river gauges in ten districts (a WaterObserved and a Device entity each), a tenth of
// the background changed since the last tick, and 50 partners' subscriptions, each to the
// probe gauges of one district (an id pattern and q on the address).
func BenchmarkObserve(b *testing.B) {
	t0 := time.Now()
	gaugeOf := func(id string, district int, height float64) []ngsild.Entity {
		obs := gauge(id, height, t0)
		obs.District = fmt.Sprintf("d%d", district)
		obs.Attrs["address"] = ngsild.Attr{Type: "Property", Value: map[string]any{"addressRegion": obs.District, "addressCountry": "VN"}}
		dev := ngsild.Entity{ID: "urn:ngsi-ld:Device:" + id, Type: ngsild.TypeDevice, District: obs.District, Attrs: map[string]ngsild.Attr{
			"name": obs.Attrs["name"], "address": obs.Attrs["address"], "deviceState": {Type: "Property", Value: "ok"}}}
		return []ngsild.Entity{obs, dev}
	}
	var city []ngsild.Entity
	for i := range 2000 {
		city = append(city, gaugeOf(fmt.Sprintf("s-%04d", i), i%10, float64(i))...)
	}
	for i := range 300 {
		city = append(city, gaugeOf(fmt.Sprintf("p-%04d", i), i%10, 80)...)
	}
	n := New(Options{Entities: func(...string) []ngsild.Entity { return city }, Logger: slog.New(slog.DiscardHandler)})
	var workers []*worker
	for k := range 50 {
		sub := ngsild.Subscription{Type: "Subscription", Entities: []ngsild.EntitySelector{{Type: ngsild.TypeWaterObserved, IDPattern: "^urn:ngsi-ld:WaterObserved:p-"}},
			WatchedAttributes: []string{"height"}, Q: fmt.Sprintf(`address[addressRegion]=="d%d"`, k%10)}
		f, err := sub.Compile()
		if err != nil {
			b.Fatal(err)
		}
		w := newWorker(Target{Filter: f}, time.Time{})
		w.n = n
		n.workers[fmt.Sprint(k)] = w
		workers = append(workers, w)
	}
	b.ResetTimer()
	for k := range b.N {
		for i := k % 10; i < 2000; i += 10 {
			copy(city[2*i:], gaugeOf(fmt.Sprintf("s-%04d", i), i%10, float64(i+k)))
		}
		n.observe(t0)
		for _, w := range workers {
			w.take(len(city))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/tick")
}
