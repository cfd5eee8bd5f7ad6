package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
)

type ngsildOptions struct {
	IOC, ClickHouse, Broker string
	Subscriptions           int           // partners' subscriptions, each to one of ten districts' probe gauges
	Rate                    int           // background readings/s
	Batch                   int           // background readings per message
	Probes                  int           // probe readings, each on a gauge of its own
	Every                   time.Duration // between probes
	Warmup                  time.Duration
}

// benchNGSILD measures the NGSI-LD subscriptions' notifications: an `ioc serve` (ingest and
// dashboard roles) whose live city holds the 2,000 background gauges and the probe gauges as
// WaterObserved entities, Rate readings/s of the background flowing, and Subscriptions
// partners' subscriptions, each to the probe gauges of one of ten districts (q on the
// address), watching their height. A probe reading is timed from its MQTT publish to its
// notification's arrival at every subscription of its district. The reference is the broker's
// round trip to a plain subscriber in the same run; the server's CPU is read from /proc.
func benchNGSILD(ctx context.Context, o ngsildOptions) error {
	rig, err := newProbeRig(ctx, "ngsild", o.ClickHouse, o.Probes)
	if err != nil {
		return err
	}
	defer rig.close()

	var mu sync.Mutex
	published := make([]time.Time, o.Probes)
	brokerAt := make([]time.Time, o.Probes)
	var delivered []float64 // ms, every (probe, subscription) pair
	got := make([]int, o.Probes)
	notifications := 0
	probeOf := func(id string) int {
		var i int
		if _, err := fmt.Sscanf(id, "urn:ngsi-ld:WaterObserved:p-%04d", &i); err != nil || i < 0 || i >= o.Probes {
			return -1
		}
		return i
	}
	endpointAddr, err := freeAddr()
	if err != nil {
		return err
	}
	endpoint := &http.Server{Addr: endpointAddr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var n ngsild.Notification
		if json.Unmarshal(body, &n) != nil {
			http.Error(w, "not a notification", http.StatusBadRequest)
			return
		}
		mu.Lock()
		notifications++
		for _, e := range n.Data {
			id, _ := e["id"].(string)
			if i := probeOf(id); i >= 0 && !published[i].IsZero() && e["height"] != nil {
				delivered = append(delivered, ms(now.Sub(published[i])))
				got[i]++
			}
		}
		mu.Unlock()
	})}
	ln, err := net.Listen("tcp", endpointAddr)
	if err != nil {
		return err
	}
	go func() { _ = endpoint.Serve(ln) }() // stopped below
	defer endpoint.Close()

	token := auth.NewToken()
	err = rig.serve(ctx, o.IOC, o.Broker, "ingest, dashboard", fmt.Sprintf(`ngsild: {notify_to: ["http://%s/"], max_subscriptions: %d}
http:
  listen: %q
  rate_limit: 0
  auth: {api_keys: [{id: bench, name: bench, role: partner, hash: %q}]}
`, endpointAddr, o.Subscriptions, rig.listen, auth.HashToken(token)))
	if err != nil {
		return err
	}
	fmt.Printf("ngsild: %d subscriptions (each to the probe gauges of one of ten districts), background %d readings/s (%d a message) over 2,000 gauges; %d probes every %s after %s\n",
		o.Subscriptions, o.Rate, o.Batch, o.Probes, o.Every, o.Warmup)
	for k := 0; k < o.Subscriptions; k++ {
		sub := fmt.Sprintf(`{"type": "Subscription", "entities": [{"type": "WaterObserved", "idPattern": "^urn:ngsi-ld:WaterObserved:p-"}],
			"watchedAttributes": ["height"], "q": "address[addressRegion]==\"d%d\"",
			"notification": {"attributes": ["height"], "format": "keyValues", "endpoint": {"uri": "http://%s/partner-%d"}}}`, k%10, endpointAddr, k)
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+rig.listen+"/ngsi-ld/v1/subscriptions", bytes.NewReader([]byte(sub)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("subscribe: %s: %s", resp.Status, answer)
		}
	}

	stopRef, err := rig.reference(o.Broker, func(subject string, at time.Time) {
		var i int
		if _, err := fmt.Sscanf(subject, "p-%04d", &i); err == nil && i >= 0 && i < o.Probes {
			mu.Lock()
			brokerAt[i] = at
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	defer stopRef()
	stopBackground := rig.background(ctx, o.Broker, o.Rate, o.Batch)
	defer func() { _ = stopBackground() }()
	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
		return ctx.Err()
	}

	pid := rig.cmd.Process.Pid
	cpu0, t0 := cpuSeconds(pid), time.Now()
	written0, _ := rowsWritten(rig.listen)
	pub, err := rig.publisher(o.Broker)
	if err != nil {
		return err
	}
	defer pub.Disconnect(250)
	for i := 0; i < o.Probes; i++ {
		if err := rig.probe(pub, i, 80.5, func(at time.Time) { mu.Lock(); published[i] = at; mu.Unlock() }); err != nil {
			return err
		}
		select {
		case <-time.After(o.Every):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// the subscriptions a probe of district d reaches
	expect := make([]int, 10)
	for k := 0; k < o.Subscriptions; k++ {
		expect[k%10]++
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		short := -1
		for i := range got {
			if got[i] < expect[i%10] || brokerAt[i].IsZero() {
				short = i
				break
			}
		}
		mu.Unlock()
		if short < 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("probe p-%04d reached %d of its %d subscriptions within 30 s of the last probe", short, got[short], expect[short%10])
		}
		time.Sleep(50 * time.Millisecond)
	}
	cores := (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	written1, _ := rowsWritten(rig.listen)
	bgRate := (written1 - written0) / time.Since(t0).Seconds()
	m, _ := scrape(rig.listen)
	if err := stopBackground(); err != nil {
		return err
	}

	var brokerMS []float64
	for i := range published {
		brokerMS = append(brokerMS, ms(brokerAt[i].Sub(published[i])))
	}
	rb50, rb99 := percentile(brokerMS, 50), percentile(brokerMS, 99)
	mu.Lock()
	p50, p99 := percentile(delivered, 50), percentile(delivered, 99)
	n := len(delivered)
	mu.Unlock()
	fmt.Printf("  background stored by ioc while probing: %.0f readings/s\n", bgRate)
	fmt.Printf("  deliveries timed: %d (%d probes, each to the %d subscriptions of its district); notifications %d, failed attempts %.0f\n",
		n, o.Probes, o.Subscriptions/10, notifications, m[`ioc_ngsild_deliveries_total{kind="subscription",status="retry"}`]+m[`ioc_ngsild_deliveries_total{kind="subscription",status="failed"}`])
	fmt.Printf("  broker round trip (plain subscriber): p50 %.1f ms, p99 %.1f ms\n", rb50, rb99)
	fmt.Printf("  ioc serve CPU while probing: %.2f cores, RSS %.0f MiB\n\n", cores, rssMiB(pid))
	fmt.Printf("RESULT bench=ngsild-notify value=%.1f unit=ms ratio=%.2f reference=%.1f p50=%.1f p99=%.1f reference_p50=%.1f subscriptions=%d cpu_cores=%.2f background=%.0f\n",
		p99, p99/rb99, rb99, p50, p99, rb50, o.Subscriptions, cores, bgRate)
	return nil
}
