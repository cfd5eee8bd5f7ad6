package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
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
	rig, err := newProbeRig(ctx, "alerts", o.ClickHouse, o.Probes)
	if err != nil {
		return err
	}
	defer rig.close()
	conn := rig.conn

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
	secret := []byte("bench-" + rig.id)
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

	err = rig.serve(ctx, o.IOC, o.Broker, "ingest, alerts, dashboard", fmt.Sprintf(`alerts:
  receivers: [{name: bench-hook, type: webhook, units: [flood_control], url: "http://%s/hook", secret_env: BENCH_HOOK_SECRET}]
http: {listen: %q}
`, hookAddr, rig.listen), "BENCH_HOOK_SECRET="+string(secret))
	if err != nil {
		return err
	}
	listen := rig.listen
	fmt.Printf("alerts: background %d readings/s (%d a message, generic JSON, QoS 1) over 2,000 gauges; %d probes every %s after %s; built-in rules; broker %s, ClickHouse %s\n",
		o.Rate, o.Batch, o.Probes, o.Every, o.Warmup, o.Broker, o.ClickHouse)

	// the reference: a plain subscriber to the probe topics
	stopRef, err := rig.reference(o.Broker, func(subject string, at time.Time) { seen(subject, func(p *probeTimes) { p.broker = at }) })
	if err != nil {
		return err
	}
	defer stopRef()
	stopBackground := rig.background(ctx, o.Broker, o.Rate, o.Batch)
	defer func() { _ = stopBackground() }()
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
	pub, err := rig.publisher(o.Broker)
	if err != nil {
		return err
	}
	defer pub.Disconnect(250)
	for i := 0; i < o.Probes; i++ {
		if err := rig.probe(pub, i, 86.1, func(at time.Time) { mu.Lock(); probes[i].published = at; mu.Unlock() }); err != nil {
			return err
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
	if err := stopBackground(); err != nil {
		return err
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
