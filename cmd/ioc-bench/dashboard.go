package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/haidang-ioc/ioc/dashboard/auth"
)

type dashboardOptions struct {
	IOC, ClickHouse, Broker string
	Clients                 int           // WebSocket clients
	Walls                   int           // of them, those also watching every sensor (the live wall)
	Rate                    int           // background readings/s
	Batch                   int           // readings per background message
	Probes                  int           // probe readings, each on a sensor of its own
	Every                   time.Duration // between probes
	Warmup                  time.Duration
}

// benchDashboard measures the live hub: Clients WebSocket clients of an `ioc serve` (ingest and
// dashboard roles), each watching the KPIs, every alert and one of ten districts (Walls of them
// also every sensor: the operations room's wall), while Rate readings/s of 2,000 gauges flow.
// Probe readings, one per sensor of their own spread over the districts, are timed from their
// MQTT publish to their arrival at every client watching their district. The reference is the
// broker's round trip to a plain subscriber in the same run; the server's CPU is read from
// /proc.
func benchDashboard(ctx context.Context, o dashboardOptions) error {
	rig, err := newProbeRig(ctx, "dashboard", o.ClickHouse, o.Probes)
	if err != nil {
		return err
	}
	defer rig.close()
	token := auth.NewToken()
	err = rig.serve(ctx, o.IOC, o.Broker, "ingest, dashboard", fmt.Sprintf(`http:
  listen: %q
  rate_limit: 0
  auth: {api_keys: [{id: bench, name: bench, role: viewer, hash: %q}]}
`, rig.listen, auth.HashToken(token)))
	if err != nil {
		return err
	}
	listen := rig.listen
	fmt.Printf("dashboard: %d WebSocket clients (%d also watching every sensor), background %d readings/s (%d a message) over 2,000 gauges in 10 districts; %d probes every %s after %s\n",
		o.Clients, o.Walls, o.Rate, o.Batch, o.Probes, o.Every, o.Warmup)

	f := newFanOut(o.Probes)
	probeOf := func(key []byte) int { // r/p-0042/water_level
		subject, _, _ := strings.Cut(strings.TrimPrefix(string(key), "r/"), "/")
		return f.probeIndex(subject)
	}

	// the clients
	cctx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var wg sync.WaitGroup
	ready := make(chan error, o.Clients)
	for c := 0; c < o.Clients; c++ {
		topics := []string{"kpi", "alerts", fmt.Sprintf("district.d%d", c%10)}
		if c < o.Walls {
			topics = append(topics, "sensors")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, _, err := websocket.DefaultDialer.DialContext(cctx, "ws://"+listen+"/api/v1/live", nil)
			if err != nil {
				ready <- err
				return
			}
			defer conn.Close()
			go func() { <-cctx.Done(); conn.Close() }() // ends the read below
			if err := conn.WriteJSON(map[string]any{"type": "auth", "token": token}); err != nil {
				ready <- err
				return
			}
			if err := conn.WriteJSON(map[string]any{"type": "subscribe", "topics": topics}); err != nil {
				ready <- err
				return
			}
			ready <- nil
			seen := map[int]bool{}
			for {
				_, frame, err := conn.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now()
				// The probes' keys are found by scanning, not by decoding the frame: the walls'
				// frames carry every sensor, and 50 clients decoding them at once loaded the
				// machine whose latency is being measured.
				for _, key := range probeKeys(frame) {
					if i := probeOf(key); i >= 0 && !seen[i] {
						seen[i] = f.arrived(i, now)
					}
				}
			}
		}()
	}
	for c := 0; c < o.Clients; c++ {
		if err := <-ready; err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}

	stopBackground := rig.background(ctx, o.Broker, o.Rate, o.Batch)
	defer func() { _ = stopBackground() }()
	// the clients a probe of district d reaches: those watching d, and the walls
	expect := make([]int, 10)
	for c := 0; c < o.Clients; c++ {
		for d := range expect {
			if c%10 == d || c < o.Walls {
				expect[d]++
			}
		}
	}
	run, err := rig.fanOut(ctx, f, o.Warmup, o.Every, expect, "clients", stopBackground)
	if err != nil {
		return err
	}
	stopClients()
	wg.Wait()
	m := run.metrics
	fmt.Printf("  background stored by ioc while probing: %.0f readings/s\n", run.background)
	fmt.Printf("  deliveries timed: %d (%d probes, each to the clients of its district and the walls); frames sent %.0f, slow-client resyncs %.0f, items coalesced %.0f\n",
		run.deliveries, o.Probes, m["ioc_live_frames_sent_total"], m["ioc_live_client_lagged_total"], m["ioc_live_items_coalesced_total"])
	fmt.Printf("  broker round trip (plain subscriber): p50 %.1f ms, p99 %.1f ms\n", run.rb50, run.rb99)
	fmt.Printf("  ioc serve CPU while probing: %.2f cores, RSS %.0f MiB\n\n", run.cores, rssMiB(rig.cmd.Process.Pid))
	fmt.Printf("RESULT bench=dashboard-live value=%.1f unit=ms ratio=%.2f reference=%.1f p50=%.1f p99=%.1f reference_p50=%.1f clients=%d cpu_cores=%.2f background=%.0f\n",
		run.p99, run.p99/run.rb99, run.rb99, run.p50, run.p99, run.rb50, o.Clients, run.cores, run.background)
	return nil
}

// probeKeys returns the probe readings' keys ("r/p-…") of a frame's items, found by scanning
// for the hub's encoding of an item key (`"key":"r/p-…"`; keys hold no escapes).
func probeKeys(frame []byte) [][]byte {
	var keys [][]byte
	marker := []byte(`"key":"r/p-`)
	for {
		at := bytes.Index(frame, marker)
		if at < 0 {
			return keys
		}
		frame = frame[at+len(`"key":"`):]
		end := bytes.IndexByte(frame, '"')
		if end < 0 {
			return keys
		}
		keys = append(keys, frame[:end])
		frame = frame[end:]
	}
}
