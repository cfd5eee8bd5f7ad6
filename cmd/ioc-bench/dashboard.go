package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
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
	id := randomID()
	cfg, _, drop, err := scratchDatabase(ctx, o.ClickHouse, "bench_dashboard_"+id)
	if err != nil {
		return err
	}
	defer drop()
	dir, err := os.MkdirTemp("", "ioc-bench-dashboard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	catalog := benchCatalog()
	for i := 0; i < o.Probes; i++ {
		catalog = fmt.Appendf(catalog, "  - {id: p-%04d, name: Probe %d, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 21.5, lon: 105.5}, district: d%d, owner_unit: flood_control, alarm_levels: {i: 85, ii: 87, iii: 89}}\n", i, i, i%10)
	}
	catalogPath := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(catalogPath, catalog, 0o600); err != nil {
		return err
	}
	token := auth.NewToken()
	prefix := "bench-dash-" + id
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	clientID := "bench-ioc-" + id
	defer forgetSession(o.Broker, clientID)
	cfgPath := filepath.Join(dir, "ioc.yaml")
	body := fmt.Sprintf(`roles: [ingest, dashboard]
log: {level: warn}
clickhouse: {addr: %q, database: %s, migrate_on_start: false}
mqtt: {broker: %q, client_id: %s}
ingest:
  topics: [{pattern: "%s/#", format: json, qos: 1}]
  catalog: %q
writer:
  spool: {dir: %q}
http:
  listen: %q
  rate_limit: 0
  auth: {api_keys: [{id: bench, name: bench, role: viewer, hash: %q}]}
`, o.ClickHouse, cfg.Database, o.Broker, clientID, prefix, catalogPath, filepath.Join(dir, "spool"), listen, auth.HashToken(token))
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.IOC, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s (make build): %w", o.IOC, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := waitHealthy(ctx, listen); err != nil {
		return err
	}
	fmt.Printf("dashboard: %d WebSocket clients (%d also watching every sensor), background %d readings/s (%d a message) over 2,000 gauges in 10 districts; %d probes every %s after %s\n",
		o.Clients, o.Walls, o.Rate, o.Batch, o.Probes, o.Every, o.Warmup)

	var mu sync.Mutex
	published := make([]time.Time, o.Probes)
	brokerAt := make([]time.Time, o.Probes)
	var delivered []float64 // ms, every (probe, client) pair
	got := make([]int, o.Probes)
	probeOf := func(key []byte) int {
		var i int
		if _, err := fmt.Sscanf(string(key), "r/p-%04d/", &i); err != nil || i < 0 || i >= o.Probes {
			return -1
		}
		return i
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
				if !bytes.Contains(frame, []byte(`"r/p-`)) {
					continue
				}
				var f struct {
					Items []struct {
						Key string `json:"key"`
					} `json:"items"`
				}
				if json.Unmarshal(frame, &f) != nil {
					continue
				}
				for _, it := range f.Items {
					if i := probeOf([]byte(it.Key)); i >= 0 && !seen[i] {
						seen[i] = true
						mu.Lock()
						if !published[i].IsZero() {
							delivered = append(delivered, ms(now.Sub(published[i])))
							got[i]++
						}
						mu.Unlock()
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

	// the reference subscriber and the background
	ref := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID("bench-ref-" + id).SetCleanSession(true))
	if tok := ref.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("reference subscriber: connect: %v", tok.Error())
	}
	defer ref.Disconnect(250)
	if tok := ref.Subscribe(prefix+"/probe/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		now := time.Now()
		if i := probeOf([]byte("r/" + m.Topic()[strings.LastIndexByte(m.Topic(), '/')+1:] + "/")); i >= 0 {
			mu.Lock()
			brokerAt[i] = now
			mu.Unlock()
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("reference subscriber: subscribe: %v", tok.Error())
	}
	bctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	var bgWG sync.WaitGroup
	bgErr := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		bgWG.Add(1)
		go func() { defer bgWG.Done(); bgErr <- background(bctx, o.Broker, o.Rate, o.Batch, prefix, p) }()
	}
	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
		return ctx.Err()
	}

	pid := cmd.Process.Pid
	cpu0, t0 := cpuSeconds(pid), time.Now()
	written0, _ := rowsWritten(listen)
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID("bench-probe-" + id).SetCleanSession(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("probe publisher: connect: %v", tok.Error())
	}
	defer pub.Disconnect(250)
	for i := 0; i < o.Probes; i++ {
		subject := fmt.Sprintf("p-%04d", i)
		payload := fmt.Appendf(nil, `{"sensor":%q,"ts":%d,"metric":"water_level","value":80.5,"unit":"m"}`, subject, time.Now().UnixMilli())
		mu.Lock()
		published[i] = time.Now()
		mu.Unlock()
		if tok := pub.Publish(prefix+"/probe/"+subject, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("probe %d: publish: %v", i, tok.Error())
		}
		select {
		case <-time.After(o.Every):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// the clients a probe of district d reaches: those watching d, and the walls
	expect := make([]int, 10)
	for c := 0; c < o.Clients; c++ {
		for d := range expect {
			if c%10 == d || c < o.Walls {
				expect[d]++
			}
		}
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
			return fmt.Errorf("probe p-%04d reached %d of its %d clients within 30 s of the last probe", short, got[short], expect[short%10])
		}
		time.Sleep(50 * time.Millisecond)
	}
	cores := (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	written1, _ := rowsWritten(listen)
	bgRate := (written1 - written0) / time.Since(t0).Seconds()
	m, _ := scrape(listen)
	stopBackground()
	bgWG.Wait()
	for p := 0; p < publishers; p++ {
		if err := <-bgErr; err != nil {
			return fmt.Errorf("background: %w", err)
		}
	}
	stopClients()
	wg.Wait()

	var brokerMS []float64
	for i := range published {
		brokerMS = append(brokerMS, ms(brokerAt[i].Sub(published[i])))
	}
	rb50, rb99 := percentile(brokerMS, 50), percentile(brokerMS, 99)
	p50, p99 := percentile(delivered, 50), percentile(delivered, 99)
	fmt.Printf("  background stored by ioc while probing: %.0f readings/s\n", bgRate)
	fmt.Printf("  deliveries timed: %d (%d probes, each to the clients of its district and the walls); frames sent %.0f, slow-client resyncs %.0f, items coalesced %.0f\n",
		len(delivered), o.Probes, m["ioc_live_frames_sent_total"], m["ioc_live_client_lagged_total"], m["ioc_live_items_coalesced_total"])
	fmt.Printf("  broker round trip (plain subscriber): p50 %.1f ms, p99 %.1f ms\n", rb50, rb99)
	fmt.Printf("  ioc serve CPU while probing: %.2f cores, RSS %.0f MiB\n\n", cores, rssMiB(pid))
	fmt.Printf("RESULT bench=dashboard-live value=%.1f unit=ms ratio=%.2f reference=%.1f p50=%.1f p99=%.1f reference_p50=%.1f clients=%d cpu_cores=%.2f background=%.0f\n",
		p99, p99/rb99, rb99, p50, p99, rb50, o.Clients, cores, bgRate)
	return nil
}
