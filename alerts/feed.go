package alerts

import (
	"context"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// Feed sits between the producers (ingest's subscriber, streams' supervisor) and the writer:
// each delivery goes to the writer first, then to the engine, so that the engine sees what
// ingest accepted.
type Feed struct {
	Readings ingest.Sink
	Cameras  streams.Sink
	Engine   *Engine
}

// Deliver passes a message's readings and dead letters on to the writer, then its readings
// and camera events to the engine.
func (f *Feed) Deliver(ctx context.Context, d ingest.Delivery) error {
	if err := f.Readings.Deliver(ctx, d); err != nil {
		return err
	}
	return f.Engine.Observe(ctx, d.Readings, d.CameraEvents)
}

// Flush implements ingest.Flusher: it flushes the writer.
func (f *Feed) Flush(ctx context.Context) error { return ingest.FlushSink(ctx, f.Readings) }

// DeliverCamera passes camera statuses and events on to the writer, then to the engine.
func (f *Feed) DeliverCamera(ctx context.Context, statuses []streams.CameraStatus, events []streams.CameraEvent, refused []streams.RefusedMetadata) error {
	if err := f.Cameras.DeliverCamera(ctx, statuses, events, refused); err != nil {
		return err
	}
	return f.Engine.ObserveCameras(ctx, statuses, events)
}
