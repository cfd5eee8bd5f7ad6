package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
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

	f := newFanOut(o.Probes)
	var notifications atomic.Int64
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
		notifications.Add(1)
		for _, e := range n.Data {
			id, _ := e["id"].(string)
			if i := f.probeIndex(strings.TrimPrefix(id, "urn:ngsi-ld:WaterObserved:")); i >= 0 && e["height"] != nil {
				f.arrived(i, now)
			}
		}
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

	stopBackground := rig.background(ctx, o.Broker, o.Rate, o.Batch)
	defer func() { _ = stopBackground() }()
	expect := make([]int, 10) // the subscriptions a probe of district d reaches
	for k := 0; k < o.Subscriptions; k++ {
		expect[k%10]++
	}
	run, err := rig.fanOut(ctx, f, o.Warmup, o.Every, expect, "subscriptions", stopBackground)
	if err != nil {
		return err
	}
	m := run.metrics
	fmt.Printf("  background stored by ioc while probing: %.0f readings/s\n", run.background)
	fmt.Printf("  deliveries timed: %d (%d probes, each to the %d subscriptions of its district); notifications %d, failed attempts %.0f\n",
		run.deliveries, o.Probes, o.Subscriptions/10, notifications.Load(), m[`ioc_ngsild_deliveries_total{kind="subscription",status="retry"}`]+m[`ioc_ngsild_deliveries_total{kind="subscription",status="failed"}`])
	fmt.Printf("  broker round trip (plain subscriber): p50 %.1f ms, p99 %.1f ms\n", run.rb50, run.rb99)
	fmt.Printf("  ioc serve CPU while probing: %.2f cores, RSS %.0f MiB\n\n", run.cores, rssMiB(rig.cmd.Process.Pid))
	fmt.Printf("RESULT bench=ngsild-notify value=%.1f unit=ms ratio=%.2f reference=%.1f p50=%.1f p99=%.1f reference_p50=%.1f subscriptions=%d cpu_cores=%.2f background=%.0f\n",
		run.p99, run.p99/run.rb99, run.rb99, run.p50, run.p99, run.rb50, o.Subscriptions, run.cores, run.background)
	return nil
}
