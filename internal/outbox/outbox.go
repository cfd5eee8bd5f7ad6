// Package outbox queues rows for a store and writes them in batches from its own goroutine,
// retrying with backoff while the store fails, so that a slow or absent ClickHouse never holds
// up the caller. It keeps a bounded number of rows; past that it drops the oldest, counted.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/backoff"
)

// Metrics are an outbox's gauges and counters (the caller labels them with the table).
type Metrics struct {
	Queued                   prometheus.Gauge
	Dropped, Errors, Written prometheus.Counter
}

// NewMetrics makes an outbox's metrics: <prefix>_queue_rows, <prefix>_dropped_total,
// <prefix>_store_errors_total and the counter of rows written, named written; what names the
// rows in their help. reg may be nil (not registered).
func NewMetrics(reg prometheus.Registerer, prefix, written, what string) Metrics {
	m := Metrics{
		Queued:  prometheus.NewGauge(prometheus.GaugeOpts{Name: prefix + "_queue_rows", Help: what + " waiting for ClickHouse."}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_dropped_total", Help: what + " dropped because the queue was full."}),
		Errors:  prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "_store_errors_total", Help: "Failed writes of " + what + " (retried)."}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{Name: written, Help: what + " written."}),
	}
	if reg != nil {
		reg.MustRegister(m.Queued, m.Dropped, m.Errors, m.Written)
	}
	return m
}

// Outbox holds rows for one table (alert events, delivery log, audit log) and writes them in
// batches. It keeps at most max rows; past that it drops the oldest, counted.
type Outbox[T any] struct {
	name  string
	write func(context.Context, []T) error
	max   int
	log   *slog.Logger

	mu      sync.Mutex
	rows    []T
	wake    chan struct{}
	queued  prometheus.Gauge
	dropped prometheus.Counter
	errors  prometheus.Counter
	written prometheus.Counter
}

// New builds an outbox writing to table name with write.
func New[T any](name string, max int, write func(context.Context, []T) error, m Metrics, log *slog.Logger) *Outbox[T] {
	return &Outbox[T]{name: name, write: write, max: max, log: log, wake: make(chan struct{}, 1),
		queued: m.Queued, dropped: m.Dropped, errors: m.Errors, written: m.Written}
}

// Add queues rows; it never blocks.
func (o *Outbox[T]) Add(rows ...T) {
	if len(rows) == 0 {
		return
	}
	o.mu.Lock()
	o.rows = append(o.rows, rows...)
	if over := len(o.rows) - o.max; over > 0 {
		o.rows = o.rows[over:]
		o.dropped.Add(float64(over))
	}
	o.queued.Set(float64(len(o.rows)))
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run writes until ctx ends, then tries once more for up to drain.
func (o *Outbox[T]) Run(ctx context.Context, drain time.Duration) {
	bo := backoff.Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second}
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			if err := o.flush(dctx); err != nil {
				o.log.Error("store: rows not written at shutdown", "table", o.name, "rows", o.len(), "err", err)
			}
			return
		case <-o.wake:
		}
		for o.len() > 0 {
			if err := o.flush(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				o.errors.Inc()
				o.log.Warn("store: write failed; retrying", "table", o.name, "rows", o.len(), "err", err)
				bo.Wait(ctx)
				continue
			}
			bo = backoff.Backoff{Initial: bo.Initial, Max: bo.Max}
		}
	}
}

func (o *Outbox[T]) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rows)
}

// flush writes what is queued; on failure the rows stay queued, ahead of newer ones.
func (o *Outbox[T]) flush(ctx context.Context) error {
	o.mu.Lock()
	rows := o.rows
	o.rows = nil
	o.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	if err := o.write(ctx, rows); err != nil {
		o.mu.Lock()
		o.rows = append(rows, o.rows...)
		if over := len(o.rows) - o.max; over > 0 {
			o.rows = o.rows[over:]
			o.dropped.Add(float64(over))
		}
		o.queued.Set(float64(len(o.rows)))
		o.mu.Unlock()
		return err
	}
	o.written.Add(float64(len(rows)))
	o.mu.Lock()
	o.queued.Set(float64(len(o.rows)))
	o.mu.Unlock()
	return nil
}
