package outbox

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

func metrics() Metrics {
	return Metrics{Queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "q"}), Dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "d"}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "e"}), Written: prometheus.NewCounter(prometheus.CounterOpts{Name: "w"})}
}

// store is a table that fails while down is set.
type store struct {
	mu   sync.Mutex
	down bool
	rows []int
}

func (s *store) write(_ context.Context, rows []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errors.New("clickhouse away")
	}
	s.rows = append(s.rows, rows...)
	return nil
}

func (s *store) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *store) got() []int { s.mu.Lock(); defer s.mu.Unlock(); return slices.Clone(s.rows) }

// Rows are written in order; while the store fails they wait, are retried, and keep their
// order ahead of newer rows; past max the oldest are dropped, counted; Add never blocks.
func TestOutboxKeepsOrderThroughFailuresAndBoundsItsRows(t *testing.T) {
	s := &store{}
	m := metrics()
	o := New("t", 5, s.write, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx, time.Second) }()
	defer func() { cancel(); <-done }()

	o.Add(1, 2)
	testenv.WaitFor(t, "the first rows written", 10*time.Second, func() bool { return len(s.got()) == 2 })
	s.set(true)
	o.Add(3, 4)
	testenv.WaitFor(t, "a failed write counted", 10*time.Second, func() bool { return testutil.ToFloat64(m.Errors) >= 1 })
	o.Add(5, 6, 7, 8) // 6 queued, max 5: 3 is dropped
	if q := testutil.ToFloat64(m.Queued); q != 5 {
		t.Errorf("queued %g, want 5", q)
	}
	s.set(false)
	testenv.WaitFor(t, "the rest written", 10*time.Second, func() bool { return len(s.got()) == 7 })
	if got := s.got(); !slices.Equal(got, []int{1, 2, 4, 5, 6, 7, 8}) {
		t.Errorf("written %v, want 1 2 then 4-8 in order (3 dropped)", got)
	}
	if d := testutil.ToFloat64(m.Dropped); d != 1 {
		t.Errorf("dropped %g, want 1", d)
	}
	if w := testutil.ToFloat64(m.Written); w != 7 {
		t.Errorf("written %g, want 7", w)
	}
}

// At shutdown the outbox writes what it holds, within the drain time.
func TestOutboxDrainsAtShutdown(t *testing.T) {
	s := &store{}
	o := New("t", 100, s.write, metrics(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already ending: only the drain writes
	o.Add(1, 2, 3)
	o.Run(ctx, time.Second)
	if got := s.got(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("written at shutdown %v, want 1 2 3", got)
	}
}
