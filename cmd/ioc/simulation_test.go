package main

import (
	"context"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

// flushCounter is a sink that counts its flushes.
type flushCounter struct{ flushes int }

func (f *flushCounter) Deliver(context.Context, ingest.Delivery) error { return nil }
func (f *flushCounter) Flush(context.Context) error                    { f.flushes++; return nil }

// The sinks serve puts in front of the writer (the pacing of a simulated clock, the live city,
// the alert engine's feed) pass the subscriber's final flush on to it, so that the last
// acknowledgements reach the broker before it disconnects.
func TestSinkChainForwardsFlush(t *testing.T) {
	writer := &flushCounter{}
	feed := &alerts.Feed{Readings: writer}
	watch := &dashboard.Watch{Readings: feed}
	clock := provincesim.NewClock(time.Now(), 100)
	sim := &simulation{clock: clock, interval: time.Minute, scenario: &provincesim.Scenario{}}
	if err := ingest.FlushSink(context.Background(), sim.pace(watch)); err != nil {
		t.Fatal(err)
	}
	if writer.flushes != 1 {
		t.Fatalf("the writer was flushed %d times through the chain, want 1", writer.flushes)
	}
}
