// Package relay carries the live view between the ioc processes of one deployment through the
// MQTT broker, so that every dashboard's live hub shows the whole city whichever process took
// a reading in, watched a camera or ran the alert engine.
//
// A process that accepts data (ingest, streams, the leading alert engine) coalesces what it
// accepted, the latest value per sensor and metric and the latest status per camera, and
// publishes it with every alert event, in batches under <topic>/<process> every flush
// interval (QoS 1). A dashboard process subscribes to <topic>/+ and hands the other processes'
// batches to its live city. The relay is a view: what it carries is already stored, or on its
// way, by the process that accepted it.
//
// Measured against the alternative of polling ClickHouse (docs/OPERATIONS.md): the relay
// shows a reading in another process's hub within the flush interval plus a broker hop, and
// costs each producer one small message per interval; polling would add the writer's flush
// and a query per interval per dashboard, and scan the newest parts of readings each time.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// Batch is one message of the relay: what one process accepted since its last batch.
type Batch struct {
	// From is the process that sent it (its instance name).
	From     string                 `json:"from"`
	Readings []ingest.Reading       `json:"readings,omitempty"`
	Cameras  []streams.CameraStatus `json:"cameras,omitempty"`
	Alerts   []alerts.Event         `json:"alerts,omitempty"`
}

// Sink is where a dashboard process puts the other processes' batches (dashboard.City).
type Sink interface {
	Readings(rs []ingest.Reading)
	CameraStatuses(ss []streams.CameraStatus)
	AlertChanged(e alerts.Event)
}

// Options configure a relay.
type Options struct {
	// Topic is the relay's topic root (http.live.relay); each process publishes under
	// <Topic>/<Instance>.
	Topic string
	// Instance names this process, unique in the deployment.
	Instance string
	// Flush is how often the coalesced batch goes out.
	Flush time.Duration
	// MaxItems caps the items of one message; a larger batch goes out in several.
	MaxItems int
	// Sink, when set, receives the other processes' batches (a dashboard process); nil only
	// publishes.
	Sink Sink
}

// Relay is one process's end of the relay: it publishes what this process accepts and, with a
// Sink, receives what the others accept.
type Relay struct {
	opts   Options
	client mqtt.Client
	log    *slog.Logger
	m      *metrics

	mu       sync.Mutex
	readings map[[2]string]ingest.Reading
	cameras  map[string]streams.CameraStatus
	events   []alerts.Event
	// maxEvents bounds the alert events waiting while the broker is away; older ones go
	// (counted): the live view catches up from the next ones.
	maxEvents int
}

// New builds a relay on the broker of mc, under client id <mqtt.client_id>-live-<instance>.
func New(mc config.MQTT, opts Options, reg prometheus.Registerer, log *slog.Logger) (*Relay, error) {
	if opts.Topic == "" || strings.ContainsAny(opts.Topic, "+#") || strings.Contains(opts.Instance, "/") || opts.Instance == "" {
		return nil, fmt.Errorf("live relay: topic %q and instance %q: want a topic root without wildcards and an instance without /", opts.Topic, opts.Instance)
	}
	if opts.Flush <= 0 {
		opts.Flush = 250 * time.Millisecond
	}
	if opts.MaxItems <= 0 {
		opts.MaxItems = 2000
	}
	r := &Relay{opts: opts, log: log.With("component", "live_relay"), m: newMetrics(reg),
		readings: map[[2]string]ingest.Reading{}, cameras: map[string]streams.CameraStatus{}, maxEvents: 10000}
	mo, _, err := ingest.ClientOptions(mc, mc.ClientID+"-live-"+opts.Instance)
	if err != nil {
		return nil, fmt.Errorf("live relay: %w", err)
	}
	mo.SetCleanSession(true).
		SetKeepAlive(mc.KeepAlive).
		SetConnectTimeout(mc.ConnectTimeout).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(mc.MaxReconnectInterval).
		SetOnConnectHandler(r.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			r.m.connected.Set(0)
			r.m.reconnects.Inc()
			r.log.Warn("live relay: broker connection lost; reconnecting", "err", err)
		})
	r.client = mqtt.NewClient(mo)
	return r, nil
}

// onConnect subscribes to the other processes' batches (with a Sink).
func (r *Relay) onConnect(c mqtt.Client) {
	r.m.connected.Set(1)
	if r.opts.Sink == nil {
		return
	}
	tok := c.Subscribe(r.opts.Topic+"/+", 1, r.receive)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		r.log.Error("live relay: subscribe failed; this dashboard shows only what its own process accepts until the next reconnection",
			"topic", r.opts.Topic+"/+", "err", tok.Error())
		return
	}
	r.log.Info("live relay: receiving the other processes' live data", "topic", r.opts.Topic+"/+")
}

// receive hands another process's batch to the sink; a batch of its own is skipped, a batch
// that does not decode is counted and dropped (the relay carries only ioc's own messages).
func (r *Relay) receive(_ mqtt.Client, msg mqtt.Message) {
	if strings.TrimPrefix(msg.Topic(), r.opts.Topic+"/") == r.opts.Instance {
		return
	}
	var b Batch
	if err := json.Unmarshal(msg.Payload(), &b); err != nil {
		r.m.dropped.WithLabelValues("malformed").Inc()
		r.log.Warn("live relay: a batch that does not decode, dropped", "topic", msg.Topic(), "bytes", len(msg.Payload()), "err", err)
		return
	}
	sink := r.opts.Sink
	if len(b.Readings) > 0 {
		sink.Readings(b.Readings)
	}
	if len(b.Cameras) > 0 {
		sink.CameraStatuses(b.Cameras)
	}
	for _, e := range b.Alerts {
		sink.AlertChanged(e)
	}
	r.m.received.WithLabelValues("reading").Add(float64(len(b.Readings)))
	r.m.received.WithLabelValues("camera").Add(float64(len(b.Cameras)))
	r.m.received.WithLabelValues("alert").Add(float64(len(b.Alerts)))
}

// ObserveReadings keeps each sensor metric's latest accepted reading for the next batch
// (ingest.Observer).
func (r *Relay) ObserveReadings(_ context.Context, rs []ingest.Reading, _ []streams.CameraEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rd := range rs {
		k := [2]string{rd.Sensor, rd.Metric}
		if old, ok := r.readings[k]; ok && old.Time.After(rd.Time) {
			continue
		}
		rd.Topic, rd.Received = "", time.Time{}
		r.readings[k] = rd
	}
	return nil
}

// ObserveCameras keeps each camera's latest status for the next batch (ingest.Observer).
func (r *Relay) ObserveCameras(_ context.Context, ss []streams.CameraStatus, _ []streams.CameraEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range ss {
		r.cameras[s.Camera] = s
	}
	return nil
}

// AlertChanged queues an alert event for the next batch (alerts.Live).
func (r *Relay) AlertChanged(e alerts.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) >= r.maxEvents {
		r.events = r.events[1:]
		r.m.dropped.WithLabelValues("queue_full").Inc()
	}
	r.events = append(r.events, e)
}

// Run connects and publishes a batch every flush interval until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	r.client.Connect() // retried in the background until it succeeds (SetConnectRetry)
	defer r.client.Disconnect(250)
	tick := time.NewTicker(r.opts.Flush)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			r.flush(ctx)
		}
	}
}

// flush publishes what was kept since the last batch, in messages of at most MaxItems items.
// While the broker is away the readings and statuses keep coalescing and the events wait.
func (r *Relay) flush(ctx context.Context) {
	if !r.client.IsConnectionOpen() {
		return
	}
	r.mu.Lock()
	b := Batch{From: r.opts.Instance}
	for _, rd := range r.readings {
		b.Readings = append(b.Readings, rd)
	}
	for _, s := range r.cameras {
		b.Cameras = append(b.Cameras, s)
	}
	b.Alerts = r.events
	clear(r.readings)
	clear(r.cameras)
	r.events = nil
	r.mu.Unlock()
	for _, part := range b.split(r.opts.MaxItems) {
		if err := r.publish(ctx, part); err != nil {
			r.m.dropped.WithLabelValues("publish_failed").Add(float64(len(part.Readings) + len(part.Cameras) + len(part.Alerts)))
			r.log.Warn("live relay: a batch was not published; the other dashboards catch up from the next ones", "err", err)
		}
	}
}

// publish sends one message and waits for the broker's acknowledgement.
func (r *Relay) publish(ctx context.Context, b Batch) error {
	body, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	tok := r.client.Publish(r.opts.Topic+"/"+r.opts.Instance, 1, false, body)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return errors.New("no acknowledgement from the broker within 5s")
	}
	if err := tok.Error(); err != nil {
		return err
	}
	r.m.batches.Inc()
	r.m.bytes.Add(float64(len(body)))
	r.m.published.WithLabelValues("reading").Add(float64(len(b.Readings)))
	r.m.published.WithLabelValues("camera").Add(float64(len(b.Cameras)))
	r.m.published.WithLabelValues("alert").Add(float64(len(b.Alerts)))
	return nil
}

// split cuts b into batches of at most n items, alert events last and in their order; an
// empty batch gives none.
func (b Batch) split(n int) []Batch {
	var out []Batch
	cur := Batch{From: b.From}
	size := 0
	add := func(f func(*Batch)) {
		if size == n {
			out, cur, size = append(out, cur), Batch{From: b.From}, 0
		}
		f(&cur)
		size++
	}
	for _, rd := range b.Readings {
		add(func(c *Batch) { c.Readings = append(c.Readings, rd) })
	}
	for _, s := range b.Cameras {
		add(func(c *Batch) { c.Cameras = append(c.Cameras, s) })
	}
	for _, e := range b.Alerts {
		add(func(c *Batch) { c.Alerts = append(c.Alerts, e) })
	}
	if size > 0 {
		out = append(out, cur)
	}
	return out
}

type metrics struct {
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	batches    prometheus.Counter
	bytes      prometheus.Counter
	published  *prometheus.CounterVec
	received   *prometheus.CounterVec
	dropped    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_live_relay_connected",
			Help: "1 while the live relay is connected to the broker."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_relay_connection_lost_total",
			Help: "Live relay connections to the broker lost (each is reconnected)."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_relay_batches_total",
			Help: "Live relay messages published."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_relay_bytes_total",
			Help: "Bytes of live relay messages published."}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_live_relay_published_total",
			Help: "Items published to the other processes' live hubs, by kind (reading, camera, alert)."}, []string{"kind"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_live_relay_received_total",
			Help: "Items received from the other processes for this live hub, by kind."}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_live_relay_dropped_total",
			Help: "Live relay items dropped, by reason (malformed, queue_full, publish_failed)."}, []string{"reason"}),
	}
	reg.MustRegister(m.connected, m.reconnects, m.batches, m.bytes, m.published, m.received, m.dropped)
	return m
}
