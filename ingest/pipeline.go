package ingest

import (
	"context"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// Delivery is what one MQTT message produced, handed to a Sink as one unit.
type Delivery struct {
	Readings    []Reading
	DeadLetters []DeadLetter
	// CameraEvents are the events of an NVR's message (Frigate).
	CameraEvents []streams.CameraEvent
	// Ack acknowledges the message to the broker. The sink calls it once the readings and dead
	// letters above are durable, never before; nil for messages that need no acknowledgement.
	Ack func()
}

// Sink stores deliveries. Deliver may block while the sink is full (that is the backpressure
// that slows intake down) and returns ctx's error when ctx ends first.
type Sink interface {
	Deliver(ctx context.Context, d Delivery) error
}

// Decoder turns one payload, which came on topic at now, into readings (Time, Sensor, Metric,
// Value or Text, and the Unit as sent), and a Rejection for each record it cannot read.
type Decoder interface {
	Decode(topic string, payload []byte, now time.Time) ([]Reading, []Rejection)
}

// Check is one validation step applied to every decoded reading; nil means it passes.
type Check interface {
	Check(r *Reading, now time.Time) *Rejection
}

// Pipeline turns a message into a Delivery: payload checks, decoding, then each Check on every
// reading. Rejected payloads and records become dead letters with their reasons.
type Pipeline struct {
	// MaxPayloadBytes rejects larger payloads whole.
	MaxPayloadBytes int
	// DeadLetterPayloadBytes bounds the copy of rejected bytes kept in a dead letter.
	DeadLetterPayloadBytes int
	Checks                 []Check
	// EventTimes bounds the times of camera events (NVR messages).
	EventTimes TimeWindow
	// Plausibility, when set, marks suspect the readings that passed the checks but are
	// implausible for their station.
	Plausibility *Plausibility
}

// NewPipeline is ingest's pipeline as ic configures it: its payload limits, and the checks of
// finite values, of the time window and of norm (the catalog, units and ranges).
func NewPipeline(ic config.Ingest, norm *Normalizer) Pipeline {
	window := TimeWindow{MaxFuture: ic.MaxFutureSkew, MaxAge: ic.MaxAge}
	return Pipeline{
		MaxPayloadBytes:        ic.MaxPayloadBytes,
		DeadLetterPayloadBytes: ic.DeadLetterPayloadBytes,
		Checks:                 []Check{FiniteValue{}, window, norm},
		EventTimes:             window,
		Plausibility:           NewPlausibility(norm.Catalog),
	}
}

// Process runs payload from topic, received at now, through the pipeline.
func (p *Pipeline) Process(topic string, payload []byte, dec Decoder, now time.Time) Delivery {
	now = now.UTC()
	var d Delivery
	reject := func(rej Rejection) {
		d.DeadLetters = append(d.DeadLetters, p.deadLetter(topic, rej, now))
	}
	switch {
	case len(payload) > p.MaxPayloadBytes:
		reject(Rejection{Reason: ReasonOversized, Record: payload,
			Detail: fmt.Sprintf("payload of %d bytes is over the limit of %d", len(payload), p.MaxPayloadBytes)})
		return d
	case !utf8.Valid(payload):
		reject(Rejection{Reason: ReasonInvalidUTF8, Record: payload, Detail: "payload is not valid UTF-8"})
		return d
	}
	if ed, ok := dec.(EventDecoder); ok {
		events, rejections := ed.DecodeEvents(topic, payload, now)
		for _, rej := range rejections {
			reject(rej)
		}
		for _, e := range events {
			if rej := p.EventTimes.check(e.Time, now); rej != nil {
				rej.Detail = fmt.Sprintf("camera %s event: %s", e.Camera, rej.Detail)
				rej.Record = payload
				reject(*rej)
				continue
			}
			d.CameraEvents = append(d.CameraEvents, e)
		}
		return d
	}
	readings, rejections := dec.Decode(topic, payload, now)
	for _, rej := range rejections {
		reject(rej)
	}
	d.Readings = readings[:0]
	for i := range readings {
		r := readings[i]
		if rej := p.check(&r, now); rej != nil {
			rej.Detail = fmt.Sprintf("sensor %s metric %s: %s", r.Sensor, r.Metric, rej.Detail)
			rej.Record = payload
			reject(*rej)
			continue
		}
		r.Received, r.Topic = now, topic
		if r.Quality == "" {
			r.Quality = QualityGood
		}
		if p.Plausibility != nil {
			p.Plausibility.Judge(&r)
		}
		d.Readings = append(d.Readings, r)
	}
	return d
}

func (p *Pipeline) check(r *Reading, now time.Time) *Rejection {
	for _, c := range p.Checks {
		if rej := c.Check(r, now); rej != nil {
			return rej
		}
	}
	return nil
}

func (p *Pipeline) deadLetter(topic string, rej Rejection, now time.Time) DeadLetter {
	keep := rej.Record
	if len(keep) > p.DeadLetterPayloadBytes {
		keep = keep[:p.DeadLetterPayloadBytes]
	}
	return DeadLetter{
		Time:        now,
		Source:      "mqtt",
		Topic:       topic,
		Reason:      rej.Reason,
		Detail:      rej.Detail,
		Payload:     append([]byte(nil), keep...), // the transport may reuse its buffer
		PayloadSize: len(rej.Record),
	}
}

// FiniteValue rejects NaN and infinite values, whatever decoder produced them.
type FiniteValue struct{}

// Check implements Check.
func (FiniteValue) Check(r *Reading, _ time.Time) *Rejection {
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return &Rejection{Reason: ReasonNonFinite, Detail: fmt.Sprintf("value %v is not finite", r.Value)}
	}
	return nil
}

// TimeWindow rejects readings stamped too far in the future or older than the horizon.
type TimeWindow struct {
	MaxFuture time.Duration
	MaxAge    time.Duration
}

// Check implements Check.
func (w TimeWindow) Check(r *Reading, now time.Time) *Rejection { return w.check(r.Time, now) }

func (w TimeWindow) check(t, now time.Time) *Rejection {
	switch {
	case t.Unix() < 0 || t.Year() > 2105:
		return &Rejection{Reason: ReasonBadTimestamp,
			Detail: fmt.Sprintf("timestamp %s is outside 1970-2105, the range storage holds", t.Format(time.RFC3339))}
	case t.After(now.Add(w.MaxFuture)):
		return &Rejection{Reason: ReasonFutureTimestamp,
			Detail: fmt.Sprintf("timestamp %s is %s ahead of the server clock (limit %s)", t.Format(time.RFC3339), t.Sub(now).Round(time.Second), w.MaxFuture)}
	case t.Before(now.Add(-w.MaxAge)):
		return &Rejection{Reason: ReasonStaleTimestamp,
			Detail: fmt.Sprintf("timestamp %s is older than the horizon of %s", t.Format(time.RFC3339), w.MaxAge)}
	}
	return nil
}
