package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// Writer stores deliveries in ClickHouse in batches: it flushes when BatchSize rows wait or
// FlushInterval has passed, appends column by column, and acknowledges each delivery only
// after its rows are stored. One batch fills while the previous one is being stored.
//
// A batch that ClickHouse does not take within Spool.After goes to the disk spool (if there is
// one) and is acknowledged once there; while the spool holds anything, new batches follow it
// there, and a replayer stores the spool's batches in order as soon as ClickHouse answers.
// Without a spool, or when it is full, a batch is retried with backoff until it is stored or
// shutdown gives up on it, in which case its messages stay unacknowledged and the broker
// redelivers them.
type Writer struct {
	conn         driver.Conn
	spool        *Spool
	cfg          config.Writer
	queryTimeout time.Duration
	in           chan queued
	room         *semaphore.Weighted // rows the queue may still take
	queuedRows   atomic.Int64
	flushReq     chan chan error
	m            *writerMetrics
	log          *slog.Logger
	// spoolLog rate-limits noteSpooled's lines: when the last was, and batches since. Only
	// the batching loop touches it.
	spoolLog struct {
		last time.Time
		n    int
	}
	// failing is the insert failure in progress (nil while inserts succeed), for readiness.
	failing atomic.Pointer[insertFailure]
	// storedBy names this process in readings.stored_by (SetStoredBy), for its rollups.
	storedBy atomic.Pointer[string]
}

// insertFailure is when ClickHouse started refusing the writer's inserts, and its last error.
type insertFailure struct {
	since time.Time
	err   error
}

// tableReadOnly is ClickHouse's TABLE_IS_READ_ONLY: a replicated table without its
// coordination service (ZooKeeper or Keeper).
const tableReadOnly = 242

// Check reports, for /readyz, ClickHouse refusing the writer's inserts (taken in all the same:
// they wait in the queue and the spool), and says when replicated tables turned read-only.
func (w *Writer) Check(context.Context) error {
	f := w.failing.Load()
	if f == nil {
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(f.err, &ex) && ex.Code == tableReadOnly {
		return fmt.Errorf("ClickHouse's replicated tables are read-only since %s (its ZooKeeper or Keeper is lost): readings are kept in the spool and stored when it is back",
			f.since.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("ClickHouse refuses inserts since %s: %v", f.since.UTC().Format(time.RFC3339), f.err)
}

// NewWriter builds a writer on conn with spool (nil for none); Run starts it. The caller
// closes the spool after Run returns.
func NewWriter(conn driver.Conn, spool *Spool, cfg config.Writer, queryTimeout time.Duration, reg prometheus.Registerer, log *slog.Logger) *Writer {
	w := &Writer{
		conn:         conn,
		spool:        spool,
		cfg:          cfg,
		queryTimeout: queryTimeout,
		in:           make(chan queued, cfg.QueueSize),
		room:         semaphore.NewWeighted(int64(cfg.QueueSize)),
		flushReq:     make(chan chan error),
		log:          log.With("component", "writer"),
	}
	w.m = newWriterMetrics(reg, func() float64 { return float64(w.queuedRows.Load()) })
	return w
}

// SetStoredBy names the process in the readings it stores from then on (readings.stored_by):
// its rollups rebuild their hours from what it stored.
func (w *Writer) SetStoredBy(name string) { w.storedBy.Store(&name) }

// Stored returns once everything delivered before the call is in ClickHouse, not only in the
// spool (the rollups load an hour from the raw table only then), or when ctx ends.
func (w *Writer) Stored(ctx context.Context) error {
	if err := w.Flush(ctx); err != nil {
		return err
	}
	if w.spool == nil {
		return nil
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for mark := w.spool.appendedTo(); !w.spool.reached(mark); {
		select {
		case <-ctx.Done():
			return fmt.Errorf("batches still wait in the spool: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// queued is a delivery in the queue and the room it takes there.
type queued struct {
	d        ingest.Delivery
	statuses []streams.CameraStatus
	rows     int64
}

// Deliver queues d for storage, waiting while the queue holds QueueSize rows: the queue is
// bounded in rows, not messages, so that memory stays bounded whether a message carries one
// reading or a pack of a hundred. It implements ingest.Sink.
func (w *Writer) Deliver(ctx context.Context, d ingest.Delivery) error {
	return w.enqueue(ctx, queued{d: d})
}

// DeliverCamera queues camera statuses and events for storage, like Deliver, and the refused
// metadata documents as dead letters (source onvif, topic the camera's id). It implements
// streams.Sink.
func (w *Writer) DeliverCamera(ctx context.Context, statuses []streams.CameraStatus, events []streams.CameraEvent, refused []streams.RefusedMetadata) error {
	d := ingest.Delivery{CameraEvents: events}
	for _, r := range refused {
		d.DeadLetters = append(d.DeadLetters, ingest.DeadLetter{Time: r.Time, Source: "onvif", Topic: r.Camera,
			Reason: ingest.Reason(r.Reason), Detail: r.Detail, Payload: r.Document, PayloadSize: r.Size})
	}
	return w.enqueue(ctx, queued{d: d, statuses: statuses})
}

func (w *Writer) enqueue(ctx context.Context, q queued) error {
	d := q.d
	n := len(d.Readings) + len(d.DeadLetters) + len(d.CameraEvents) + len(q.statuses)
	q.rows = int64(min(max(n, 1), w.cfg.QueueSize))
	if err := w.room.Acquire(ctx, q.rows); err != nil {
		return err
	}
	w.queuedRows.Add(q.rows)
	w.in <- q // never blocks: each entry holds at least one row of room
	return nil
}

// take moves a queued delivery into b and frees its room.
func (w *Writer) take(b *batch, q queued) {
	b.add(q)
	w.queuedRows.Add(-q.rows)
	w.room.Release(q.rows)
}

// Flush stores everything delivered so far and returns once it is stored and acknowledged.
// It implements ingest.Flusher.
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case w.flushReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run stores deliveries until ctx ends, then stores what is queued, within ShutdownTimeout.
func (w *Writer) Run(ctx context.Context) error {
	// storeCtx outlives ctx by ShutdownTimeout, so the last batches can still be stored.
	storeCtx, cancelStore := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStore()
	stopTimer := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.ShutdownTimeout, cancelStore) })
	defer stopTimer()

	full := make(chan *batch, 1)
	free := make(chan *batch, 2)
	free <- newBatch(w.cfg.BatchSize)
	free <- newBatch(w.cfg.BatchSize)
	stored := make(chan struct{})
	go func() { // the storer: owned by Run, which waits for it below
		defer close(stored)
		for b := range full {
			w.store(storeCtx, b)
			b.reset()
			free <- b
		}
	}()
	replayed := make(chan struct{})
	go func() { // the replayer: owned by Run, which waits for it below
		defer close(replayed)
		if w.spool != nil {
			w.replay(ctx)
		}
	}()

	w.accumulate(ctx, full, free)
	close(full)
	<-stored
	<-replayed
	return nil
}

// accumulate fills batches from the queue and hands them to the storer until ctx ends.
func (w *Writer) accumulate(ctx context.Context, full chan<- *batch, free <-chan *batch) {
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	b := <-free
	send := func() {
		if b.empty() {
			return
		}
		full <- b
		b = <-free
	}
	for {
		select {
		case q := <-w.in:
			w.take(b, q)
			if b.rows() >= w.cfg.BatchSize {
				send()
			}
		case <-ticker.C:
			send()
		case done := <-w.flushReq:
			w.drain(b)
			b.done = append(b.done, done)
			full <- b
			b = <-free
		case <-ctx.Done():
			w.drain(b)
			send()
			return
		}
	}
}

// drain moves every queued delivery into b without waiting.
func (w *Writer) drain(b *batch) {
	for {
		select {
		case q := <-w.in:
			w.take(b, q)
		default:
			return
		}
	}
}

// store makes b durable (in ClickHouse or the spool), then acknowledges b's deliveries.
func (w *Writer) store(ctx context.Context, b *batch) {
	var err error
	switch {
	case b.empty():
	case w.spool == nil:
		err = w.insertAll(ctx, b)
	default:
		err = w.storeOrSpool(ctx, b)
	}
	if err != nil {
		w.m.unstored.Add(float64(len(b.acks)))
		w.log.Error("gave up storing a batch at shutdown; its messages stay unacknowledged and the broker redelivers them",
			"readings", b.readings.len(), "dead_letters", b.dead.len(), "messages", len(b.acks), "err", err)
	} else {
		for _, ack := range b.acks {
			if ack != nil {
				ack()
			}
		}
	}
	for _, done := range b.done {
		done <- err
	}
}

// insertAll writes b's tables, retrying each until stored or ctx ends. A table already stored
// is not written again, so a retry never duplicates it.
func (w *Writer) insertAll(ctx context.Context, b *batch) error {
	err := w.storeTable(ctx, "readings", b.readings.len(), &b.readingsStored, func(ctx context.Context) error {
		by := ""
		if p := w.storedBy.Load(); p != nil {
			by = *p
		}
		return w.insert(ctx, insertReadings, b.readings.insertColumns(&b.boxes, by))
	})
	if err == nil {
		err = w.storeTable(ctx, "dead_letters", b.dead.len(), &b.deadStored, func(ctx context.Context) error {
			return w.insert(ctx, insertDeadLetters, b.dead.columns())
		})
	}
	if err == nil {
		err = w.storeTable(ctx, "camera_status", b.status.len(), &b.statusStored, func(ctx context.Context) error {
			return w.insert(ctx, insertCameraStatus, b.status.columns())
		})
	}
	if err == nil {
		err = w.storeTable(ctx, "camera_events", b.events.len(), &b.eventsStored, func(ctx context.Context) error {
			return w.insert(ctx, insertCameraEvents, b.events.columns())
		})
	}
	return err
}

// storeOrSpool inserts b, or spools what of it is not stored when ClickHouse does not take it
// within Spool.After, or at once while the spool holds older batches (order is kept) or when
// it is forced. When the spool refuses (full, or a disk error) it tries ClickHouse again, with
// backoff, until one of them takes the batch or ctx ends.
func (w *Writer) storeOrSpool(ctx context.Context, b *batch) error {
	retry := backoff.Backoff{Initial: 100 * time.Millisecond, Max: w.cfg.MaxRetryInterval}
	for {
		var why string
		var chErr error
		switch {
		case w.cfg.Spool.Force:
			why = spoolForced
		case w.spool.Pending() > 0:
			why = spoolBehind
		default:
			tctx, cancel := context.WithTimeout(ctx, w.cfg.Spool.After)
			chErr = w.insertAll(tctx, b)
			cancel()
			if chErr == nil || ctx.Err() != nil {
				return chErr
			}
			why = spoolClickHouse
		}
		err := w.spool.Append(encodeSpoolRecord(b))
		if err == nil {
			w.m.spooledRows.Add(float64(b.rows()))
			w.m.spooled.WithLabelValues(why).Inc()
			if why == spoolClickHouse {
				w.noteSpooled(b.rows(), chErr)
			}
			return nil
		}
		w.log.Warn("the spool refused a batch; trying ClickHouse again", "rows", b.rows(), "err", err)
		if !retry.Wait(ctx) {
			return fmt.Errorf("spool a batch of %d rows: %w", b.rows(), errors.Join(err, ctx.Err()))
		}
	}
}

// Why a batch went to the spool (ioc_writer_batches_spooled_total's reason).
const (
	spoolClickHouse = "clickhouse" // not taken within spool.after: an error, or a timeout
	spoolBehind     = "behind"     // older batches wait in the spool: order is kept
	spoolForced     = "forced"     // writer.spool.force
)

// spoolLogEvery bounds the log lines of batches spooled because ClickHouse did not take them:
// the first says so at once, the next at most this often, with how many went since.
const spoolLogEvery = 10 * time.Second

// noteSpooled logs (rate-limited) a batch of rows that ClickHouse did not take, for err, and
// that went to the spool instead.
func (w *Writer) noteSpooled(rows int, err error) {
	now := time.Now()
	w.spoolLog.n++
	if !w.spoolLog.last.IsZero() && now.Sub(w.spoolLog.last) < spoolLogEvery {
		return
	}
	w.log.Warn("clickhouse did not take a batch within writer.spool.after; spooled to disk, replayed when it answers",
		"rows", rows, "after", w.cfg.Spool.After, "batches_spooled", w.spoolLog.n, "err", err)
	w.spoolLog.last, w.spoolLog.n = now, 0
}

// replay stores the spool's batches in ClickHouse, oldest first, and commits each group once
// stored, until ctx ends. What is left stays on disk for the next run.
func (w *Writer) replay(ctx context.Context) {
	const readBytes = 8 << 20
	b := newBatch(w.cfg.BatchSize)
	intern := map[string]string{}
	idle := time.NewTicker(w.cfg.Spool.FsyncInterval)
	defer idle.Stop()
	for {
		recs, next, err := w.spool.Read(readBytes)
		if err != nil {
			w.log.Error("spool: read failed", "err", err)
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.spool.Appended():
			case <-idle.C:
				if err := w.spool.Sync(); err != nil {
					w.log.Error("spool: fsync failed", "err", err)
				}
			}
			continue
		}
		b.reset()
		for _, rec := range recs {
			if err := decodeSpoolRecord(rec, b, intern); err != nil {
				w.log.Error("spool: unreadable batch skipped", "err", err)
			}
		}
		if err := w.insertAll(ctx, b); err != nil {
			return // ctx ended; the records stay in the spool
		}
		if err := w.spool.Commit(next); err != nil {
			w.log.Warn("spool: could not save the replay position; those batches may be replayed again", "err", err)
		}
		w.m.replayedRows.Add(float64(b.rows()))
	}
}

func (w *Writer) storeTable(ctx context.Context, table string, rows int, stored *bool, insert func(context.Context) error) error {
	if *stored || rows == 0 {
		return nil
	}
	retry := backoff.Backoff{Initial: 100 * time.Millisecond, Max: w.cfg.MaxRetryInterval}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		qctx, cancel := context.WithTimeout(ctx, w.queryTimeout)
		err := insert(qctx)
		cancel()
		if err == nil {
			w.failing.Store(nil)
			w.m.flushSeconds.WithLabelValues(table).Observe(time.Since(start).Seconds())
			w.m.batches.WithLabelValues(table, "ok").Inc()
			w.m.rows.WithLabelValues(table).Add(float64(rows))
			*stored = true
			if attempt > 1 {
				w.log.Info("batch stored after retries", "table", table, "rows", rows, "attempts", attempt)
			}
			return nil
		}
		w.m.batches.WithLabelValues(table, "error").Inc()
		since := start
		if f := w.failing.Load(); f != nil {
			since = f.since
		}
		w.failing.Store(&insertFailure{since: since, err: err})
		if ctx.Err() != nil {
			return fmt.Errorf("store %d rows in %s: %w", rows, table, errors.Join(err, ctx.Err()))
		}
		if attempt == 1 || attempt%10 == 0 {
			w.log.Warn("clickhouse refused a batch; retrying", "table", table, "rows", rows, "attempt", attempt, "err", err)
		}
		if !retry.Wait(ctx) {
			return fmt.Errorf("store %d rows in %s: %w", rows, table, errors.Join(err, ctx.Err()))
		}
	}
}

// insert sends one INSERT with its columns appended whole, in the order the statement names them.
func (w *Writer) insert(ctx context.Context, stmt string, cols []any) (err error) {
	b, err := w.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = b.Abort()
		}
	}()
	for i, col := range cols {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return b.Send()
}
