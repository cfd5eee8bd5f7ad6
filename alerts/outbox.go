package alerts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/backoff"
)

// outbox holds rows for the store (alert events, delivery log) and writes them in batches
// from its own goroutine, retrying with backoff while the store fails, so that a slow or
// absent ClickHouse never holds up evaluation or notifiers. It keeps at most max rows; past
// that it drops the oldest, counted.
type outbox[T any] struct {
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

func newOutbox[T any](name string, max int, write func(context.Context, []T) error, m *metrics, log *slog.Logger) *outbox[T] {
	return &outbox[T]{name: name, write: write, max: max, log: log, wake: make(chan struct{}, 1),
		queued: m.outboxRows.WithLabelValues(name), dropped: m.outboxDropped.WithLabelValues(name),
		errors: m.storeErrors.WithLabelValues(name), written: m.outboxWritten.WithLabelValues(name)}
}

// add queues rows; it never blocks.
func (o *outbox[T]) add(rows ...T) {
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

// run writes until ctx ends, then tries once more for up to drain.
func (o *outbox[T]) run(ctx context.Context, drain time.Duration) {
	bo := backoff.Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second}
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			defer cancel()
			if err := o.flush(dctx); err != nil {
				o.log.Error("alert store: rows not written at shutdown", "table", o.name, "rows", o.len(), "err", err)
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
				o.log.Warn("alert store: write failed; retrying", "table", o.name, "rows", o.len(), "err", err)
				bo.Wait(ctx)
				continue
			}
			bo = backoff.Backoff{Initial: bo.Initial, Max: bo.Max}
		}
	}
}

func (o *outbox[T]) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rows)
}

// flush writes what is queued; on failure the rows stay queued, ahead of newer ones.
func (o *outbox[T]) flush(ctx context.Context) error {
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
