package provincesim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// Clock is simulated time: it stands at its start until Begin, then runs Speed times as fast
// as the wall clock. With Speed 1, begun at once from now, it is the wall clock.
//
// A paced clock (Pace) also waits for the server: it runs at most its lead past the latest
// reading the server has taken in (Delivered), so that a pause of the pipeline (a busy machine,
// a slow insert, a broker restart) stretches the simulation instead of making every sensor seem
// silent for the pause times the speed. Time it waits is lost, never caught up with a jump.
type Clock struct {
	speed float64
	mu    sync.Mutex
	sim   time.Time // simulated time as of wall
	wall  time.Time // zero until Begin
	lead  time.Duration
	hold  time.Duration
	mark  time.Time // the latest delivered reading's time (paced clocks)
	moved time.Time // wall time the mark last moved
}

// NewClock makes a clock standing at start that will run speed times as fast as the wall clock.
func NewClock(start time.Time, speed float64) *Clock {
	return &Clock{sim: start.UTC(), speed: speed}
}

// Pace makes the clock wait for the server: it runs at most lead past the latest Delivered
// time (or past its start, until the first delivery), unless nothing at all was delivered for
// hold of wall time (a scenario that silences every sensor must not stop time). Call it before
// Begin.
func (c *Clock) Pace(lead, hold time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lead, c.hold, c.mark = lead, hold, c.sim
}

// Delivered tells a paced clock that the server has taken in a reading of simulated time t.
func (c *Clock) Delivered(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.mark) {
		c.mark, c.moved = t, time.Now()
	}
}

// Begin starts the clock (once; later calls do nothing). The server's parts read the clock
// from their start; the simulator begins it when ingest is subscribed, so that nothing it
// publishes is missed and no sensor seems silent at the start.
func (c *Clock) Begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall.IsZero() {
		c.wall, c.moved = time.Now(), time.Now()
	}
}

// Now is the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall.IsZero() {
		return c.sim
	}
	wall := time.Now()
	next := c.sim.Add(time.Duration(float64(wall.Sub(c.wall)) * c.speed))
	if c.lead > 0 && wall.Sub(c.moved) < c.hold {
		if bound := c.mark.Add(c.lead); next.After(bound) {
			next = bound
		}
	}
	if next.After(c.sim) {
		c.sim = next
	}
	c.wall = wall
	return c.sim
}

// Speed is the acceleration factor.
func (c *Clock) Speed() float64 { return c.speed }

// waitUntil waits until the clock reaches t (a paced clock may take longer than the wall time
// t is away); false when ctx ends first.
func (c *Clock) waitUntil(ctx context.Context, t time.Time) bool {
	for {
		wait := time.Duration(float64(t.Sub(c.Now())) / c.speed)
		if wait <= 0 {
			return ctx.Err() == nil
		}
		select {
		case <-time.After(max(wait, time.Millisecond)):
		case <-ctx.Done():
			return false
		}
	}
}

// Options are a simulator's settings.
type Options struct {
	// Interval is every sensor's reporting interval in simulated time.
	Interval time.Duration
	// BadShare is the share (0..1) of deliberately malformed payloads.
	BadShare float64
	// Profiles are ingest's LoRaWAN profiles, for the uplinks' payload fields.
	Profiles map[string]config.Profile
	// Ready, when set, waits until the receiving side is ready (ingest subscribed); the clock
	// begins after it.
	Ready func(ctx context.Context) error
	// SetCameraFault, when set, is called as a scenario's camera events start (on) and end.
	SetCameraFault func(id, fault string, on bool) error
	// TopicPrefix, when set, goes before every topic (with a "/").
	TopicPrefix string
}

// Simulator publishes a province's devices over MQTT on a clock.
type Simulator struct {
	p      *Province
	clock  *Clock
	opts   Options
	client mqtt.Client
	broker string
	log    *slog.Logger
}

// New builds a simulator of p that publishes to the broker of mc under its own client id.
func New(p *Province, clock *Clock, mc config.MQTT, opts Options, log *slog.Logger) (*Simulator, error) {
	mo, _, err := ingest.ClientOptions(mc, fmt.Sprintf("ioc-sim-%s-%d", p.Name, p.Seed))
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	mo.SetCleanSession(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetAutoReconnect(true)
	return &Simulator{p: p, clock: clock, opts: opts, client: mqtt.NewClient(mo), broker: mc.Broker,
		log: log.With("component", "simulator", "province", p.Name)}, nil
}

// Run publishes every sensor's reading at each interval of simulated time, applies the
// scenario's camera faults as they come, and stops when ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	tok := s.client.Connect() // retries by itself until connected
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("simulator: connect to %s: %w", s.broker, err)
		}
	case <-ctx.Done():
		s.client.Disconnect(0)
		return nil
	}
	defer s.client.Disconnect(250)
	if s.opts.Ready != nil {
		if err := s.opts.Ready(ctx); err != nil {
			return nil // ctx ended while waiting
		}
	}
	s.clock.Begin()
	s.log.Info("simulated province publishing", "sensors", len(s.p.sensors), "interval", s.opts.Interval.String(),
		"speed", s.clock.Speed(), "bad_share", s.opts.BadShare, "sim_time", s.clock.Now().In(local).Format(time.RFC3339))
	at := s.clock.Now().Truncate(s.opts.Interval)
	cams := newCameraPlay(s.p.events)
	prefix := ""
	if s.opts.TopicPrefix != "" {
		prefix = s.opts.TopicPrefix + "/"
	}
	for {
		for _, m := range append(s.p.Messages(at, s.opts.Interval, s.opts.BadShare, s.opts.Profiles), s.p.frigate(at, s.opts.Interval)...) {
			s.client.Publish(prefix+m.Topic, 1, false, m.Payload) // paho queues it; QoS 1 to the broker
		}
		cams.apply(at, s.opts.SetCameraFault, s.log)
		s.p.logEvents(at, s.opts.Interval, s.log)
		at = at.Add(s.opts.Interval)
		if !s.clock.waitUntil(ctx, at) {
			return nil
		}
	}
}

// logEvents logs the scenario's events that begin or end in the interval ending at t.
func (p *Province) logEvents(t time.Time, interval time.Duration, log *slog.Logger) {
	in := func(x time.Time) bool { return !x.After(t) && x.After(t.Add(-interval)) }
	for i := range p.events {
		e := &p.events[i]
		switch {
		case in(e.Begin()):
			log.Info("scenario event begins", "scenario", p.scenario.Name, "event", i, "what", e.describe(), "sim_time", t.In(local).Format(time.RFC3339))
		case in(e.End()):
			log.Info("scenario event ends", "scenario", p.scenario.Name, "event", i, "what", e.describe(), "sim_time", t.In(local).Format(time.RFC3339))
		}
		if in(p.scenario.Start.Add(p.scenario.Duration)) && i == 0 {
			log.Info("scenario finished", "scenario", p.scenario.Name, "sim_time", t.In(local).Format(time.RFC3339))
		}
	}
}

// describe names what an event does, for the log.
func (e *Event) describe() string {
	switch {
	case e.Rain != nil:
		return fmt.Sprintf("rain %g mm/h over %v", e.Rain.Peak, e.Rain.Districts)
	case e.Salinity != nil:
		return fmt.Sprintf("salinity intrusion +%g", e.Salinity.Rise)
	case e.Traffic != nil:
		return fmt.Sprintf("traffic jam at %s (%g km/h)", e.Traffic.Sensor, e.Traffic.Speed)
	case e.Outage != nil:
		return fmt.Sprintf("outage of gateway %q sensors %v", e.Outage.Gateway, e.Outage.Sensors)
	case e.Camera != nil:
		return fmt.Sprintf("camera %s %s", e.Camera.ID, e.Camera.Fault)
	default:
		return fmt.Sprintf("fire alarm at %s", e.Fire.Sensor)
	}
}

// cameraPlay applies a scenario's camera faults once each as simulated time passes them.
type cameraPlay struct {
	events []*Event
	state  []int // 0 not begun, 1 fault set, 2 cleared
}

func newCameraPlay(events []Event) *cameraPlay {
	cp := &cameraPlay{}
	for i := range events {
		if events[i].Camera != nil {
			cp.events = append(cp.events, &events[i])
		}
	}
	cp.state = make([]int, len(cp.events))
	return cp
}

func (cp *cameraPlay) apply(t time.Time, set func(id, fault string, on bool) error, log *slog.Logger) {
	for i, e := range cp.events {
		var on bool
		switch {
		case cp.state[i] == 0 && !t.Before(e.Begin()):
			on = true
		case cp.state[i] == 1 && !t.Before(e.End()):
		default:
			continue
		}
		cp.state[i]++
		if set == nil {
			continue
		}
		if err := set(e.Camera.ID, e.Camera.Fault, on); err != nil {
			log.Error("scenario camera fault not applied", "camera", e.Camera.ID, "fault", e.Camera.Fault, "on", on, "err", err)
		}
	}
}

// frigate are the Frigate NVR's events for the province's security and tourism cameras in the
// interval ending at t: now and then a person or a car seen in a zone, by day.
func (p *Province) frigate(t time.Time, interval time.Duration) []Message {
	h := hourOfDay(t)
	if h < 7 || h > 20 {
		return nil
	}
	var out []Message
	for _, c := range p.Cameras {
		if c.Purpose != "security" && c.Purpose != "tourism" {
			continue
		}
		// about one object every 20 minutes of simulated time per camera
		if unit(p.Seed, c.ID, "frigate", t.UnixMilli()) >= interval.Minutes()/20 {
			continue
		}
		label, zone := "person", "loi_di"
		if unit(p.Seed, c.ID, "label", t.UnixMilli()) < 0.3 {
			label, zone = "car", "bai_xe"
		}
		start := float64(t.UnixMilli()) / 1000
		id := fmt.Sprintf("%.3f-%s", start, c.ID)
		obj := map[string]any{"id": id, "camera": c.ID, "label": label, "score": 0.82, "top_score": 0.88,
			"false_positive": false, "start_time": start, "frame_time": start, "current_zones": []string{zone}}
		b, _ := json.Marshal(map[string]any{"type": "new", "before": obj, "after": obj}) // plain maps
		out = append(out, Message{"frigate/events", b, "frigate"})
	}
	return out
}
