package ingest

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/streams"
)

// Store keeps what was accepted: the writer, which acknowledges a message once its readings
// are in ClickHouse or in its spool.
type Store interface {
	Sink
	streams.Sink
	Flusher
}

// Observer sees what was accepted once it is on its way to the store: the alert engine, the
// live city, a simulated clock. It must not wait for ClickHouse: an observer that needs to
// queue keeps its own bounded queue, and blocks only while that is full.
type Observer interface {
	ObserveReadings(ctx context.Context, readings []Reading, events []streams.CameraEvent) error
	ObserveCameras(ctx context.Context, statuses []streams.CameraStatus, events []streams.CameraEvent) error
}

// NamedObserver is an observer with the name its metrics carry.
type NamedObserver struct {
	Name string
	Observer
}

// Fanout is the accepted data's one path, built in one place (ioc serve): each delivery of
// ingest's subscriber and of the camera sessions goes to the store first, then to every
// observer in turn. It implements Sink, streams.Sink and Flusher.
type Fanout struct {
	store     Store
	observers []NamedObserver
	seconds   *prometheus.HistogramVec
}

// NewFanout builds the path from the store to the observers, in their order;
// ioc_pipeline_observer_seconds{observer} tells how long each takes a delivery.
func NewFanout(store Store, reg prometheus.Registerer, observers ...NamedObserver) *Fanout {
	f := &Fanout{store: store, observers: observers, seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ioc_pipeline_observer_seconds", Help: "Time an observer of accepted data (alerts, live city, simulated clock) takes to take one delivery; a queue that is full shows here.",
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12),
	}, []string{"observer"})}
	for _, o := range observers {
		f.seconds.WithLabelValues(o.Name)
	}
	reg.MustRegister(f.seconds)
	return f
}

// Deliver stores a message's readings and dead letters, then shows its readings and camera
// events to the observers.
func (f *Fanout) Deliver(ctx context.Context, d Delivery) error {
	if err := f.store.Deliver(ctx, d); err != nil {
		return err
	}
	return f.each(func(o Observer) error { return o.ObserveReadings(ctx, d.Readings, d.CameraEvents) })
}

// DeliverCamera stores camera statuses, events and refused documents, then shows the statuses
// and events to the observers.
func (f *Fanout) DeliverCamera(ctx context.Context, statuses []streams.CameraStatus, events []streams.CameraEvent, refused []streams.RefusedMetadata) error {
	if err := f.store.DeliverCamera(ctx, statuses, events, refused); err != nil {
		return err
	}
	return f.each(func(o Observer) error { return o.ObserveCameras(ctx, statuses, events) })
}

// Flush stores everything delivered so far (the subscriber's last acknowledgements wait for it).
func (f *Fanout) Flush(ctx context.Context) error { return f.store.Flush(ctx) }

func (f *Fanout) each(observe func(Observer) error) error {
	for _, o := range f.observers {
		start := time.Now()
		err := observe(o.Observer)
		f.seconds.WithLabelValues(o.Name).Observe(time.Since(start).Seconds())
		if err != nil {
			return err
		}
	}
	return nil
}
