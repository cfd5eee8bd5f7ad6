package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// Flusher is the part of a Sink that can store what it holds now; the subscriber calls it on
// shutdown, before it disconnects, so that the last acknowledgements still reach the broker.
type Flusher interface {
	Flush(ctx context.Context) error
}

// FlushSink flushes s if it is a Flusher (a sink that wraps another forwards Flush with it);
// nil when it is not.
func FlushSink(ctx context.Context, s Sink) error {
	if f, ok := s.(Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

// Subscriber takes messages from the broker through one persistent MQTT session (fixed client
// id, clean session off, QoS from config) and hands each message's readings and dead letters
// to a Sink, which acknowledges the message once they are stored.
type Subscriber struct {
	cfg      config.MQTT
	topics   []config.Topic
	group    string // MQTT shared-subscription group; empty subscribes plainly
	pipeline Pipeline
	sink     Sink
	log      *slog.Logger
	m        *metrics
	now      func() time.Time

	client     mqtt.Client
	tls        *tlsconf.Files                  // nil on an unencrypted broker
	ctx        atomic.Pointer[context.Context] // intake context; cancelled when shutdown begins
	stopped    atomic.Bool                     // set when shutdown begins
	subscribed atomic.Bool                     // set once the filters are subscribed, cleared when the connection drops
	me         claim                           // this run's claim of the client id
}

// NewSubscriber builds a subscriber whose readings norm checks against the catalog; Run
// connects it.
func NewSubscriber(mc config.MQTT, ic config.Ingest, norm *Normalizer, sink Sink, reg prometheus.Registerer, log *slog.Logger) (*Subscriber, error) {
	if probs := CheckConfig(ic); len(probs) > 0 {
		return nil, probs
	}
	decoders := make([]Decoder, len(ic.Topics))
	for i, t := range ic.Topics {
		dec, err := NewDecoder(t, ic.Profiles, norm.ProfileOf)
		if err != nil {
			return nil, fmt.Errorf("ingest.topics[%d]: %w", i, err)
		}
		decoders[i] = dec
	}
	s := &Subscriber{
		cfg:      mc,
		topics:   ic.Topics,
		group:    ic.SharedGroup,
		pipeline: NewPipeline(ic, norm),
		sink:     sink,
		log:      log.With("component", "ingest"),
		m:        newMetrics(reg),
		now:      time.Now,
		me:       newClaim(),
	}
	s.pipeline.Plausibility.OnSuspect = func(why string) { s.m.suspect.WithLabelValues(why).Inc() }
	opts, tlsFiles, err := ClientOptions(mc, mc.ClientID)
	if err != nil {
		return nil, err
	}
	s.tls = tlsFiles
	opts.
		SetCleanSession(false). // the broker keeps unacknowledged messages while we are away
		SetAutoAckDisabled(true).
		SetOrderMatters(true). // acknowledgements must go out in the order messages came
		SetKeepAlive(mc.KeepAlive).
		SetConnectTimeout(mc.ConnectTimeout).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(mc.MaxReconnectInterval).
		SetBinaryWill(claimTopic(mc.ClientID), []byte{}, 1, true). // a crash clears the claim
		SetOnConnectHandler(s.onConnect).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.subscribed.Store(false)
			s.m.connected.Set(0)
			s.m.connLost.Inc()
			s.log.Warn("mqtt connection lost; reconnecting", "broker", mc.Broker, "err", err)
		}).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			s.log.Debug("mqtt reconnecting", "broker", mc.Broker)
		})
	s.client = mqtt.NewClient(opts)
	// Routes exist before the first connection: a persistent session may deliver queued
	// messages as soon as it is resumed.
	for i, t := range ic.Topics {
		dec := decoders[i]
		s.client.AddRoute(t.Pattern, func(_ mqtt.Client, msg mqtt.Message) { s.handle(msg, dec) })
	}
	s.client.AddRoute(claimTopic(mc.ClientID), s.onClaim)
	return s, nil
}

// ReloadTLS reads mqtt.tls's files again (SIGHUP); the next connection uses them. Without TLS
// it does nothing.
func (s *Subscriber) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.Reload()
}

// Run checks that no other running process holds the client id (ErrClientIDInUse if one
// does), connects (retrying with backoff until ctx ends), subscribes, and takes messages until
// ctx ends. Then it stops intake, asks the sink to flush (if it can) so that stored messages
// are acknowledged, releases the client id and disconnects.
func (s *Subscriber) Run(ctx context.Context) error {
	intake, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntake()
	s.ctx.Store(&intake)
	if err := s.checkClaim(ctx); err != nil {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	renewing := make(chan struct{})
	go func() { defer close(renewing); s.watchClaims(ctx) }()
	<-ctx.Done()
	<-renewing

	s.stopped.Store(true)
	stopIntake() // a handler blocked on a full sink gives up; its message stays unacknowledged
	fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	if err := FlushSink(fctx, s.sink); err != nil {
		s.log.Warn("final flush before disconnect failed; the broker will redeliver what was not acknowledged", "err", err)
	}
	cancel()
	s.releaseClaim()
	s.client.Disconnect(500) // ms to let queued acknowledgements leave
	s.m.connected.Set(0)
	s.log.Info("mqtt disconnected", "broker", s.cfg.Broker)
	return nil
}

// connect tries until the first connection succeeds; later losses are paho's to repair.
func (s *Subscriber) connect(ctx context.Context) error {
	retry := backoff.Backoff{Initial: 500 * time.Millisecond, Max: s.cfg.MaxReconnectInterval}
	for attempt := 1; ; attempt++ {
		tok := s.client.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return nil
		}
		err := tok.Error()
		if err == nil {
			return nil
		}
		s.m.connects.WithLabelValues("error").Inc()
		s.log.Error(ConnectProblem(err), "broker", s.cfg.Broker, "attempt", attempt, "err", err)
		if !retry.Wait(ctx) {
			return nil
		}
	}
}

// onConnect subscribes, retrying with backoff while the connection lasts. Paho runs it in a
// goroutine of its own after every (re)connection.
func (s *Subscriber) onConnect(c mqtt.Client) {
	s.m.connects.WithLabelValues("ok").Inc()
	filters := make(map[string]byte, len(s.topics))
	for _, t := range s.topics {
		filters[SubscriptionFilter(s.group, t.Pattern)] = byte(t.QoS)
	}
	// The claim first, then its subscription: the retained claim heard back is this run's.
	s.renewClaim(c)
	filters[claimTopic(s.cfg.ClientID)] = 0 // QoS 0: nothing of it waits in the session for the next run
	retry := backoff.Backoff{Initial: 500 * time.Millisecond, Max: s.cfg.MaxReconnectInterval}
	for c.IsConnectionOpen() && !s.stopped.Load() {
		tok := c.SubscribeMultiple(filters, nil)
		err := errors.New("no answer from the broker")
		if tok.WaitTimeout(s.cfg.ConnectTimeout) {
			err = tok.Error()
		}
		if err == nil {
			s.subscribed.Store(true)
			s.m.connected.Set(1)
			s.log.Info("mqtt connected and subscribed", "broker", s.cfg.Broker, "client_id", s.cfg.ClientID, "topics", len(s.topics), "shared_group", s.group)
			return
		}
		s.log.Error("mqtt subscribe failed; retrying", "broker", s.cfg.Broker, "err", err)
		time.Sleep(retry.Next())
	}
}

// handle runs one message through the pipeline and hands it to the sink, which acknowledges it
// once stored. During shutdown it leaves the message unacknowledged for the broker to redeliver.
func (s *Subscriber) handle(msg mqtt.Message, dec Decoder) {
	d := s.pipeline.Process(msg.Topic(), msg.Payload(), dec, s.now())
	s.m.count(d)
	d.Ack = msg.Ack
	ctx := s.ctx.Load()
	if s.stopped.Load() || ctx == nil {
		s.m.unacked.Inc()
		return
	}
	if err := s.sink.Deliver(*ctx, d); err != nil {
		s.m.unacked.Inc()
	}
}

// SetClock sets the clock readings are received and judged by (the wall clock unless a
// simulation runs the server on its own time); call it before Run.
func (s *Subscriber) SetClock(now func() time.Time) { s.now = now }

// Check reports the broker connection's state for /healthz: up once connected and subscribed.
func (s *Subscriber) Check(context.Context) error {
	switch {
	case !s.client.IsConnectionOpen():
		return fmt.Errorf("not connected to %s", s.cfg.Broker)
	case !s.subscribed.Load():
		return fmt.Errorf("connected to %s, not subscribed yet", s.cfg.Broker)
	}
	return nil
}

// SubscriptionFilter is the filter subscribed for pattern: $share/<group>/<pattern> in a
// shared-subscription group (MQTT 5, and Mosquitto and EMQX on 3.1.1), pattern itself without.
func SubscriptionFilter(group, pattern string) string {
	if group == "" {
		return pattern
	}
	return "$share/" + group + "/" + pattern
}
