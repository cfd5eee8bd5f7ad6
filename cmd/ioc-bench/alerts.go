package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/alerts"
)

type alertOptions struct {
	IOC, ClickHouse, Broker string
	Rate                    int           // background readings/s
	Batch                   int           // background readings per message (generic JSON array)
	Probes                  int           // readings that cross báo động I, one per probe gauge
	Every                   time.Duration // between probes
	Warmup                  time.Duration // background alone before the first probe
}

// probeTimes are the moments one probe reading was published and seen at each end.
type probeTimes struct {
	published, broker, stored, webhook time.Time
}

// benchAlerts measures how long a reading that crosses a flood alarm level takes, under a
// background load of ordinary readings, from its MQTT publish to (a) the alert's firing event
// stored in ClickHouse and (b) the signed webhook received, through an `ioc serve` process of
// its own running the built-in rules. The reference, in the same run, is the broker's own
// round trip: a plain paho subscriber receiving the same probe message.
func benchAlerts(ctx context.Context, o alertOptions) error {
	id := randomID()
	cfg, conn, drop, err := scratchDatabase(ctx, o.ClickHouse, "bench_alerts_"+id)
	if err != nil {
		return err
	}
	defer drop()
	dir, err := os.MkdirTemp("", "ioc-bench-alerts-")
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

	var mu sync.Mutex
	probes := make([]probeTimes, o.Probes)
	seen := func(subject string, set func(*probeTimes)) {
		var i int
		if _, err := fmt.Sscanf(subject, "p-%04d", &i); err != nil || i < 0 || i >= len(probes) {
			return
		}
		mu.Lock()
		set(&probes[i])
		mu.Unlock()
	}

	// the webhook receiver: checks each signature, notes when each probe's alert arrives
	secret := []byte("bench-" + id)
	hookAddr, err := freeAddr()
	if err != nil {
		return err
	}
	var badSignatures atomic.Int64
	hook := &http.Server{Addr: hookAddr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-IOC-Signature") != alerts.Sign(secret, r.Header.Get("X-IOC-Timestamp"), body) {
			badSignatures.Add(1)
		}
		var m alerts.WebhookMessage
		if json.Unmarshal(body, &m) == nil {
			for _, n := range m.Notifications {
				if n.Kind == alerts.EventFiring {
					seen(n.Alert.Subject, func(p *probeTimes) { p.webhook = now })
				}
			}
		}
	})}
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		return err
	}
	go func() { _ = hook.Serve(ln) }() // stopped below
	defer hook.Close()

	prefix := "bench-alerts-" + id
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	clientID := "bench-ioc-" + id
	defer forgetSession(o.Broker, clientID)
	cfgPath := filepath.Join(dir, "ioc.yaml")
	body := fmt.Sprintf(`roles: [ingest, alerts, dashboard]
log: {level: warn}
clickhouse: {addr: %q, database: %s, migrate_on_start: false}
mqtt: {broker: %q, client_id: %s}
ingest:
  topics: [{pattern: "%s/#", format: json, qos: 1}]
  catalog: %q
writer:
  spool: {dir: %q}
alerts:
  receivers: [{name: bench-hook, type: webhook, units: [flood_control], url: "http://%s/hook", secret_env: BENCH_HOOK_SECRET}]
http: {listen: %q}
`, o.ClickHouse, cfg.Database, o.Broker, clientID, prefix, catalogPath, filepath.Join(dir, "spool"), hookAddr, listen)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.IOC, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "BENCH_HOOK_SECRET="+string(secret))
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
	fmt.Printf("alerts: background %d readings/s (%d a message, generic JSON, QoS 1) over 2,000 gauges; %d probes every %s after %s; built-in rules; broker %s, ClickHouse %s\n",
		o.Rate, o.Batch, o.Probes, o.Every, o.Warmup, o.Broker, o.ClickHouse)

	// the reference: a plain subscriber to the probe topics
	ref := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID("bench-ref-" + id).SetCleanSession(true))
	if tok := ref.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("reference subscriber: connect: %v", tok.Error())
	}
	defer ref.Disconnect(250)
	if tok := ref.Subscribe(prefix+"/probe/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		now := time.Now()
		seen(m.Topic()[strings.LastIndexByte(m.Topic(), '/')+1:], func(p *probeTimes) { p.broker = now })
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
	// the stored-event watcher: polls alert_events for the probes' firing rows every 10 ms (its
	// own load on ClickHouse is part of the run; polling more often loads the server whose
	// insert is timed, polling ioc's /metrics instead loads ioc)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	go func() {
		defer watchWG.Done()
		for wctx.Err() == nil {
			rows, err := conn.Query(wctx, "SELECT subject FROM alert_events WHERE kind = 'firing' AND startsWith(subject, 'p-')")
			if err == nil {
				now := time.Now()
				for rows.Next() {
					var s string
					if rows.Scan(&s) == nil {
						seen(s, func(p *probeTimes) {
							if p.stored.IsZero() {
								p.stored = now
							}
						})
					}
				}
				rows.Close()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	select {
	case <-time.After(o.Warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	written0, _ := rowsWritten(listen)
	bgStart := time.Now()
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID("bench-probe-" + id).SetCleanSession(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("probe publisher: connect: %v", tok.Error())
	}
	defer pub.Disconnect(250)
	for i := 0; i < o.Probes; i++ {
		subject := fmt.Sprintf("p-%04d", i)
		payload := fmt.Appendf(nil, `{"sensor":%q,"ts":%d,"metric":"water_level","value":86.1,"unit":"m"}`, subject, time.Now().UnixMilli())
		now := time.Now()
		mu.Lock()
		probes[i].published = now
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
	// every probe must arrive at all three ends
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		missing := slices.IndexFunc(probes, func(p probeTimes) bool { return p.broker.IsZero() || p.stored.IsZero() || p.webhook.IsZero() })
		mu.Unlock()
		if missing < 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("probe p-%04d not seen everywhere within 30 s of the last probe: %+v", missing, probes[missing])
		}
		time.Sleep(50 * time.Millisecond)
	}
	written1, _ := rowsWritten(listen)
	bgRate := (written1 - written0) / time.Since(bgStart).Seconds()
	stopBackground()
	bgWG.Wait()
	for p := 0; p < publishers; p++ {
		if err := <-bgErr; err != nil {
			return fmt.Errorf("background: %w", err)
		}
	}
	stopWatch()
	watchWG.Wait()
	if n := badSignatures.Load(); n > 0 {
		return fmt.Errorf("%d webhook requests had a bad signature", n)
	}

	var brokerMS, storedMS, hookMS []float64
	for _, p := range probes {
		brokerMS = append(brokerMS, ms(p.broker.Sub(p.published)))
		storedMS = append(storedMS, ms(p.stored.Sub(p.published)))
		hookMS = append(hookMS, ms(p.webhook.Sub(p.published)))
	}
	rb50, rb99 := percentile(brokerMS, 50), percentile(brokerMS, 99)
	fmt.Printf("  background stored by ioc while probing: %.0f readings/s\n", bgRate)
	fmt.Printf("  broker round trip (plain subscriber): p50 %.1f ms, p99 %.1f ms\n", rb50, rb99)
	fmt.Println("  (stored: found by polling alert_events every 10 ms, so up to 10 ms above the true time)")
	fmt.Println()
	for _, r := range []struct {
		name string
		xs   []float64
	}{{"alerts-stored", storedMS}, {"alerts-webhook", hookMS}} {
		p50, p99 := percentile(r.xs, 50), percentile(r.xs, 99)
		fmt.Printf("RESULT bench=%s value=%.1f unit=ms ratio=%.2f reference=%.1f p50=%.1f p99=%.1f reference_p50=%.1f background=%.0f\n",
			r.name, p99, p99/rb99, rb99, p50, p99, rb50, bgRate)
	}
	return nil
}

// background publishes rate/publishers readings a second of the 2,000 bench gauges, in
// messages of batch, values below every alarm level, until ctx ends.
func background(ctx context.Context, broker string, rate, batch int, prefix string, share int) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-bg-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(250)
	const tick = 10 * time.Millisecond
	perTick := float64(rate) / float64(publishers) / float64(time.Second/tick) / float64(batch) // messages
	t := time.NewTicker(tick)
	defer t.Stop()
	var owed float64
	var toks []mqtt.Token
	seq := share
	for {
		select {
		case <-ctx.Done():
			for _, tok := range toks {
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					return fmt.Errorf("publish: %v", tok.Error())
				}
			}
			return nil
		case <-t.C:
		}
		owed += perTick
		now := time.Now().UnixMilli()
		for ; owed >= 1; owed-- {
			p := []byte{'['}
			for k := 0; k < batch; k++ {
				if k > 0 {
					p = append(p, ',')
				}
				p = fmt.Appendf(p, `{"sensor":"s-%04d","ts":%d,"metric":"water_level","value":%.2f,"unit":"m"}`, seq%2000, now, 80+float64(seq%2000%300)/100)
				seq += publishers
			}
			p = append(p, ']')
			toks = append(toks, c.Publish(fmt.Sprintf("%s/bg/%d", prefix, share), 1, false, p))
		}
		toks = slices.DeleteFunc(toks, func(tok mqtt.Token) bool {
			select {
			case <-tok.Done():
				return tok.Error() == nil
			default:
				return false
			}
		})
		if len(toks) > 100_000 {
			return errors.New("the broker takes the background load more slowly than it is published")
		}
	}
}
