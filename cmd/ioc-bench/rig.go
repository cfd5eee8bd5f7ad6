package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/internal/config"
)

// probeRig is what the latency benchmarks (alerts, dashboard) share: a scratch database, a
// catalog of the 2,000 background gauges and one probe gauge per probe (p-0000…, spread over
// districts d0-d9), an `ioc serve` of its own, the reference subscriber and the background
// publishers.
type probeRig struct {
	id, dir, prefix, listen, catalog, broker string
	db                                       config.ClickHouse
	conn                                     driver.Conn
	drop                                     func()
	cmd                                      *exec.Cmd
}

// newProbeRig makes the database, the folder and the catalog.
func newProbeRig(ctx context.Context, name, clickhouse string, probes int) (*probeRig, error) {
	r := &probeRig{id: randomID()}
	r.prefix = "bench-" + name + "-" + r.id
	var err error
	if r.db, r.conn, r.drop, err = scratchDatabase(ctx, clickhouse, "bench_"+name+"_"+r.id); err != nil {
		return nil, err
	}
	if r.dir, err = os.MkdirTemp("", "ioc-bench-"+name+"-"); err != nil {
		r.drop()
		return nil, err
	}
	catalog := benchCatalog()
	for i := 0; i < probes; i++ {
		catalog = fmt.Appendf(catalog, "  - {id: p-%04d, name: Probe %d, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 21.5, lon: 105.5}, district: d%d, owner_unit: flood_control, alarm_levels: {i: 85, ii: 87, iii: 89}}\n", i, i, i%10)
	}
	r.catalog = filepath.Join(r.dir, "catalog.yaml")
	if r.listen, err = freeAddr(); err == nil {
		err = os.WriteFile(r.catalog, catalog, 0o600)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// serve starts `ioc serve` with roles, the rig's database, broker, catalog and listen address,
// and extra config (YAML under the top level), then waits until it is healthy.
func (r *probeRig) serve(ctx context.Context, ioc, broker, roles, extra string, env ...string) error {
	r.broker = broker
	cfgPath, err := r.config(roles, broker, "bench-ioc-"+r.id, extra)
	if err != nil {
		return err
	}
	r.cmd, err = startServe(ctx, ioc, cfgPath, r.listen, env...)
	return err
}

// config writes the config file of an `ioc serve` of the rig with roles and clientID (its
// spool beside it), and extra config (YAML under the top level); it returns its path.
func (r *probeRig) config(roles, broker, clientID, extra string) (string, error) {
	body := fmt.Sprintf(`roles: [%s]
log: {level: warn}
clickhouse: {addr: %q, database: %s, migrate_on_start: false}
mqtt: {broker: %q, client_id: %s}
ingest:
  topics: [{pattern: "%s/#", format: json, qos: 1}]
  catalog: %q
writer:
  spool: {dir: %q}
%s`, roles, r.db.Addr, r.db.Database, broker, clientID, r.prefix, r.catalog, filepath.Join(r.dir, "spool-"+clientID), extra)
	path := filepath.Join(r.dir, clientID+".yaml")
	return path, os.WriteFile(path, []byte(body), 0o600)
}

// close stops ioc and removes the database and the folder.
func (r *probeRig) close() {
	if r.cmd != nil {
		stopServe(r.cmd)
		forgetSession(r.broker, "bench-ioc-"+r.id) // the broker keeps no session of the run
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
	r.drop()
}

// reference subscribes a plain MQTT client to the probe topics; seen gets each probe's
// subject and arrival time.
func (r *probeRig) reference(broker string, seen func(subject string, at time.Time)) (func(), error) {
	ref := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-ref-" + r.id).SetCleanSession(true))
	if tok := ref.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("reference subscriber: connect: %v", tok.Error())
	}
	if tok := ref.Subscribe(r.prefix+"/probe/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		now := time.Now()
		seen(m.Topic()[strings.LastIndexByte(m.Topic(), '/')+1:], now)
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		ref.Disconnect(250)
		return nil, fmt.Errorf("reference subscriber: subscribe: %v", tok.Error())
	}
	return func() { ref.Disconnect(250) }, nil
}

// background starts the publishers of rate readings/s; stop ends them and returns their
// error (it may be called again: later calls return the first call's error).
func (r *probeRig) background(ctx context.Context, broker string, rate, batch int) (stop func() error) {
	bctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- background(bctx, broker, rate, batch, r.prefix, p) }()
	}
	return sync.OnceValue(func() error {
		cancel()
		wg.Wait()
		for p := 0; p < publishers; p++ {
			if err := <-errs; err != nil {
				return fmt.Errorf("background: %w", err)
			}
		}
		return nil
	})
}

// publisher connects the probes' publisher.
func (r *probeRig) publisher(broker string) (mqtt.Client, error) {
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-probe-" + r.id).SetCleanSession(true))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("probe publisher: connect: %v", tok.Error())
	}
	return pub, nil
}

// probe publishes one probe reading of value on gauge i, noting when at published.
func (r *probeRig) probe(pub mqtt.Client, i int, value float64, published func(time.Time)) error {
	subject := fmt.Sprintf("p-%04d", i)
	payload := fmt.Appendf(nil, `{"sensor":%q,"ts":%d,"metric":"water_level","value":%g,"unit":"m"}`, subject, time.Now().UnixMilli(), value)
	published(time.Now())
	if tok := pub.Publish(r.prefix+"/probe/"+subject, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("probe %d: publish: %v", i, tok.Error())
	}
	return nil
}

// fanOut is a latency run in which each probe reaches several ends (WebSocket clients,
// subscriptions' endpoints): when each probe was published and reached the broker's plain
// subscriber, and every arrival at an end.
type fanOut struct {
	mu        sync.Mutex
	published []time.Time
	brokerAt  []time.Time
	got       []int
	delivered []float64 // ms, every (probe, end) pair
}

func newFanOut(probes int) *fanOut {
	return &fanOut{published: make([]time.Time, probes), brokerAt: make([]time.Time, probes), got: make([]int, probes)}
}

// probeIndex is the index of the probe a subject (p-0042) names, or -1.
func (f *fanOut) probeIndex(subject string) int {
	var i int
	if _, err := fmt.Sscanf(subject, "p-%04d", &i); err != nil || i < 0 || i >= len(f.published) {
		return -1
	}
	return i
}

// arrived notes probe i reaching an end at now; it reports whether it counted (the probe was
// published in the timed run).
func (f *fanOut) arrived(i int, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.published[i].IsZero() {
		return false
	}
	f.delivered = append(f.delivered, ms(now.Sub(f.published[i])))
	f.got[i]++
	return true
}

// fanOutRun is what a fan-out run measured.
type fanOutRun struct {
	p50, p99, rb50, rb99 float64 // ms: to the ends, and the broker's round trip
	deliveries           int
	cores, background    float64 // ioc's CPU while probing, and the readings/s it stored
	metrics              map[string]float64
}

// fanOut runs the timed part of a fan-out benchmark on the rig's ioc, the background
// running: after warmup, probes published every `every`, until each probe i has reached
// expect[i%10] ends (what names them in the error); then it stops the background.
func (r *probeRig) fanOut(ctx context.Context, f *fanOut, warmup, every time.Duration, expect []int, what string, stopBackground func() error) (fanOutRun, error) {
	var run fanOutRun
	stopRef, err := r.reference(r.broker, func(subject string, at time.Time) {
		if i := f.probeIndex(subject); i >= 0 {
			f.mu.Lock()
			f.brokerAt[i] = at
			f.mu.Unlock()
		}
	})
	if err != nil {
		return run, err
	}
	defer stopRef()
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
		return run, ctx.Err()
	}
	pid := r.cmd.Process.Pid
	cpu0, t0 := cpuSeconds(pid), time.Now()
	written0, _ := rowsWritten(r.listen)
	pub, err := r.publisher(r.broker)
	if err != nil {
		return run, err
	}
	defer pub.Disconnect(250)
	for i := range f.published {
		if err := r.probe(pub, i, 80.5, func(at time.Time) { f.mu.Lock(); f.published[i] = at; f.mu.Unlock() }); err != nil {
			return run, err
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return run, ctx.Err()
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		f.mu.Lock()
		short := -1
		for i := range f.got {
			if f.got[i] < expect[i%10] || f.brokerAt[i].IsZero() {
				short = i
				break
			}
		}
		got := 0
		if short >= 0 {
			got = f.got[short]
		}
		f.mu.Unlock()
		if short < 0 {
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("probe p-%04d reached %d of its %d %s within 30 s of the last probe", short, got, expect[short%10], what)
		}
	}
	run.cores = (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	written1, _ := rowsWritten(r.listen)
	run.background = (written1 - written0) / time.Since(t0).Seconds()
	run.metrics, _ = scrape(r.listen)
	if err := stopBackground(); err != nil {
		return run, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var brokerMS []float64
	for i := range f.published {
		brokerMS = append(brokerMS, ms(f.brokerAt[i].Sub(f.published[i])))
	}
	run.rb50, run.rb99 = percentile(brokerMS, 50), percentile(brokerMS, 99)
	run.p50, run.p99, run.deliveries = percentile(f.delivered, 50), percentile(f.delivered, 99), len(f.delivered)
	return run, nil
}
