package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

type ingestOptions struct {
	N, Rounds          int
	ClickHouse, Broker string
}

// benchIngest measures readings/s from MQTT publish to rows in ClickHouse through ioc's own
// subscriber and writer, and, as the reference, the rate at which a plain paho subscriber
// (QoS 1, acknowledging on receipt, storing nothing) receives the same messages from the same
// publisher on the same broker.
func benchIngest(ctx context.Context, o ingestOptions) error {
	id := randomID()
	payloads := makePayloads(o.N)
	fmt.Printf("ingest-json: %d generic JSON readings per round, %d rounds, broker %s, ClickHouse %s\n", o.N, o.Rounds, o.Broker, o.ClickHouse)

	cfg := config.Default()
	cfg.ClickHouse.Addr = o.ClickHouse
	cfg.ClickHouse.Database = "bench_ingest_" + id
	cfg.MQTT.Broker = o.Broker
	cfg.MQTT.ClientID = "bench-ioc-" + id
	if _, err := analytics.Migrate(ctx, cfg.ClickHouse); err != nil {
		return err
	}
	conn, err := analytics.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.ClickHouse.Database)
		conn.Close()
		forgetSession(o.Broker, cfg.MQTT.ClientID)
	}()

	var refRates, ourRates []float64
	for round := 1; round <= o.Rounds; round++ {
		ref, err := referenceRound(ctx, o.Broker, fmt.Sprintf("bench-%s/ref%d", id, round), payloads)
		if err != nil {
			return fmt.Errorf("reference round %d: %w", round, err)
		}
		if err := conn.Exec(ctx, "TRUNCATE TABLE readings"); err != nil {
			return err
		}
		ours, err := iocRound(ctx, cfg, conn, fmt.Sprintf("bench-%s/ioc%d", id, round), payloads)
		if err != nil {
			return fmt.Errorf("ioc round %d: %w", round, err)
		}
		fmt.Printf("  round %d: reference %.0f msg/s, ioc %.0f readings/s stored (%.2f)\n", round, ref, ours, ours/ref)
		refRates, ourRates = append(refRates, ref), append(ourRates, ours)
	}
	ref, ours := median(refRates), median(ourRates)
	fmt.Printf("peak RSS of the benchmark process (publisher, both subscribers, writer): %.0f MiB\n", peakRSSMiB())
	fmt.Printf("RESULT bench=ingest-json value=%.0f unit=readings/s ratio=%.3f reference=%.0f\n", ours, ours/ref, ref)
	return nil
}

// makePayloads renders n generic JSON readings of 2,000 sensors, one message each.
func makePayloads(n int) [][]byte {
	base := time.Now().UTC().Add(-time.Hour).UnixMilli()
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"sensor":"s-%04d","ts":%d,"metric":"water_level","value":%.2f,"unit":"m"}`,
			i%2000, base+int64(i/2000)*1000, 80+float64(i%1000)/100)
	}
	return out
}

func topicFor(prefix string, i int) string {
	return fmt.Sprintf("%s/district-%d/river_gauge/s-%04d", prefix, i%10, i%2000)
}

// publishers is how many connections publish at once: one paho client alone cannot fill
// the broker.
var publishers = 4

// publishAll publishes every payload with QoS 1 as fast as the broker takes them, spread over
// several connections.
func publishAll(broker, prefix string, payloads [][]byte) error {
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		go func() { errs <- publishShare(broker, prefix, payloads, p) }()
	}
	var first error
	for p := 0; p < publishers; p++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// publishShare publishes every publishers-th payload, starting at share.
func publishShare(broker, prefix string, payloads [][]byte, share int) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-pub-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publisher: connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(250)
	var toks []mqtt.Token
	for i := share; i < len(payloads); i += publishers {
		toks = append(toks, c.Publish(topicFor(prefix, i), 1, false, payloads[i]))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publish: %v", tok.Error())
		}
	}
	return nil
}

// referenceRound: a plain paho subscriber that only counts.
func referenceRound(ctx context.Context, broker, prefix string, payloads [][]byte) (float64, error) {
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(len(payloads))
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-ref-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, fmt.Errorf("connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(250)
	tok := c.Subscribe(prefix+"/+/+/+", 1, func(mqtt.Client, mqtt.Message) {
		if got.Add(1) == n {
			close(done)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, fmt.Errorf("subscribe: %v", tok.Error())
	}
	start := time.Now()
	if err := publishAll(broker, prefix, payloads); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("received %d of %d", got.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// iocRound: ioc's subscriber and writer, timed from the first publish until ClickHouse holds
// every reading.
func iocRound(ctx context.Context, cfg config.Config, conn driver.Conn, prefix string, payloads [][]byte) (float64, error) {
	cfg.MQTT.ClientID = "bench-ioc-" + randomID()
	defer forgetSession(cfg.MQTT.Broker, cfg.MQTT.ClientID)
	cfg.Ingest.Topics = []config.Topic{{Pattern: prefix + "/+/+/+", Format: "json", QoS: 1}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	writer := analytics.NewWriter(conn, nil, cfg.Writer, cfg.ClickHouse.QueryTimeout, reg, log)
	norm := ingest.NewNormalizer(benchCatalog(), ingest.NewUnitConverter(nil), false)
	sub, err := ingest.NewSubscriber(cfg.MQTT, cfg.Ingest, norm, writer, reg, log)
	if err != nil {
		return 0, err
	}
	subCtx, stopSub := context.WithCancel(ctx)
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	subDone, writerDone := make(chan error, 1), make(chan error, 1)
	go func() { subDone <- sub.Run(subCtx) }()
	go func() { writerDone <- writer.Run(writerCtx) }()
	defer func() {
		stopSub()
		<-subDone
		stopWriter()
		<-writerDone
	}()
	for deadline := time.Now().Add(30 * time.Second); sub.Check(ctx) != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("subscriber not ready: %v", sub.Check(ctx))
		}
	}

	n := uint64(len(payloads))
	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- publishAll(cfg.MQTT.Broker, prefix, payloads) }()
	var stored uint64
	for deadline := start.Add(5 * time.Minute); stored < n; time.Sleep(20 * time.Millisecond) {
		if err := conn.QueryRow(ctx, "SELECT count() FROM readings").Scan(&stored); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("stored %d of %d readings", stored, n)
		}
	}
	elapsed := time.Since(start)
	if err := <-published; err != nil {
		return 0, err
	}
	if stored != n {
		return 0, fmt.Errorf("stored %d readings, published %d", stored, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// peakRSSMiB reads VmHWM, the process's peak resident set, from /proc.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

func forgetSession(broker, clientID string) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		c.Disconnect(0)
	}
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// benchCatalog is a catalog of the 2,000 river gauges s-0000 … s-1999 that the payloads name.
func benchCatalog() *ingest.Catalog {
	var b strings.Builder
	b.WriteString("sensors:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "  - {id: s-%04d, name: Gauge %d, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 21.5, lon: 105.5}, district: d%d, owner_unit: flood_control, alarm_levels: {i: 85, ii: 87, iii: 89}}\n", i, i, i%10)
	}
	cat, err := ingest.ParseCatalog([]byte(b.String()), nil)
	if err != nil {
		panic(err) // the text above is fixed
	}
	return cat
}
