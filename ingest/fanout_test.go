package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/streams"
)

// trace records, in order, what each part of a fan-out was handed.
type trace struct{ calls []string }

type traceStore struct {
	t   *trace
	err error
}

func (s traceStore) Deliver(_ context.Context, d Delivery) error {
	s.t.calls = append(s.t.calls, fmt.Sprintf("store %d readings %d dead", len(d.Readings), len(d.DeadLetters)))
	return s.err
}

func (s traceStore) DeliverCamera(_ context.Context, st []streams.CameraStatus, ev []streams.CameraEvent, refused []streams.RefusedMetadata) error {
	s.t.calls = append(s.t.calls, fmt.Sprintf("store %d statuses %d events %d refused", len(st), len(ev), len(refused)))
	return s.err
}

func (s traceStore) Flush(context.Context) error {
	s.t.calls = append(s.t.calls, "store flush")
	return nil
}

type traceObserver struct {
	t    *trace
	name string
	err  error
}

func (o traceObserver) ObserveReadings(_ context.Context, rs []Reading, ev []streams.CameraEvent) error {
	o.t.calls = append(o.t.calls, fmt.Sprintf("%s %d readings %d events", o.name, len(rs), len(ev)))
	return o.err
}

func (o traceObserver) ObserveCameras(_ context.Context, st []streams.CameraStatus, ev []streams.CameraEvent) error {
	o.t.calls = append(o.t.calls, fmt.Sprintf("%s %d statuses %d events", o.name, len(st), len(ev)))
	return o.err
}

// Each delivery goes to the store first, then to each observer in order; the store's refusal
// stops it before the observers (they see only what is on its way to storage), an observer's
// error stops the ones after it; Flush reaches the store.
func TestFanout(t *testing.T) {
	tr := &trace{}
	f := NewFanout(traceStore{t: tr}, prometheus.NewRegistry(),
		NamedObserver{"alerts", traceObserver{t: tr, name: "alerts"}}, NamedObserver{"city", traceObserver{t: tr, name: "city"}})
	ctx := context.Background()
	d := Delivery{Readings: make([]Reading, 3), DeadLetters: make([]DeadLetter, 1), CameraEvents: make([]streams.CameraEvent, 2)}
	if err := f.Deliver(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := f.DeliverCamera(ctx, make([]streams.CameraStatus, 1), nil, make([]streams.RefusedMetadata, 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"store 3 readings 1 dead", "alerts 3 readings 2 events", "city 3 readings 2 events",
		"store 1 statuses 0 events 1 refused", "alerts 1 statuses 0 events", "city 1 statuses 0 events", "store flush"}
	if !slices.Equal(tr.calls, want) {
		t.Errorf("calls\n %q\nwant\n %q", tr.calls, want)
	}

	refused := errors.New("queue closed")
	tr = &trace{}
	f = NewFanout(traceStore{t: tr, err: refused}, prometheus.NewRegistry(), NamedObserver{"alerts", traceObserver{t: tr, name: "alerts"}})
	if err := f.Deliver(ctx, d); !errors.Is(err, refused) || len(tr.calls) != 1 {
		t.Errorf("a refused store: %v, calls %q; want its error and no observer", err, tr.calls)
	}
	tr = &trace{}
	f = NewFanout(traceStore{t: tr}, prometheus.NewRegistry(),
		NamedObserver{"alerts", traceObserver{t: tr, name: "alerts", err: context.Canceled}}, NamedObserver{"city", traceObserver{t: tr, name: "city"}})
	if err := f.Deliver(ctx, d); !errors.Is(err, context.Canceled) || len(tr.calls) != 2 {
		t.Errorf("an observer's error: %v, calls %q; want it returned and the next observer skipped", err, tr.calls)
	}
}
