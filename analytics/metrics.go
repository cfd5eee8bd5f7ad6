package analytics

import "github.com/prometheus/client_golang/prometheus"

type writerMetrics struct {
	rows         *prometheus.CounterVec
	batches      *prometheus.CounterVec
	flushSeconds *prometheus.HistogramVec
	unstored     prometheus.Counter
	spooledRows  prometheus.Counter
	spooled      *prometheus.CounterVec
	replayedRows prometheus.Counter
}

func newWriterMetrics(reg prometheus.Registerer, queueLen func() float64) *writerMetrics {
	m := &writerMetrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_writer_rows_written_total", Help: "Rows stored in ClickHouse, by table.",
		}, []string{"table"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_writer_batches_total", Help: "INSERT attempts, by table and result (ok, error); retries count again.",
		}, []string{"table", "result"}),
		flushSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ioc_writer_flush_seconds", Help: "Time to store one batch in one table.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"table"}),
		unstored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_writer_messages_unstored_total", Help: "Messages whose batch was given up at shutdown; left unacknowledged for the broker to redeliver.",
		}),
		spooledRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_writer_rows_spooled_total", Help: "Rows written to the disk spool instead of ClickHouse.",
		}),
		replayedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_writer_rows_replayed_total", Help: "Rows replayed from the disk spool into ClickHouse.",
		}),
		spooled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_writer_batches_spooled_total", Help: "Batches written to the disk spool, by why: clickhouse (not taken within writer.spool.after: an error or a timeout), behind (older batches wait in the spool), forced.",
		}, []string{"reason"}),
	}
	for _, r := range []string{spoolClickHouse, spoolBehind, spoolForced} {
		m.spooled.WithLabelValues(r)
	}
	for _, t := range []string{"readings", "dead_letters"} {
		m.rows.WithLabelValues(t)
		m.batches.WithLabelValues(t, "ok")
		m.batches.WithLabelValues(t, "error")
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ioc_writer_queue_rows", Help: "Readings and dead letters waiting for the writer (bounded by writer.queue_size).",
	}, queueLen)
	reg.MustRegister(m.rows, m.batches, m.flushSeconds, m.unstored, m.spooledRows, m.spooled, m.replayedRows, queue)
	return m
}

type spoolMetrics struct {
	appended prometheus.Counter
	replayed prometheus.Counter
	corrupt  prometheus.Counter
	full     prometheus.Counter
	errors   prometheus.Counter
}

func newSpoolMetrics(reg prometheus.Registerer, s *Spool) *spoolMetrics {
	m := &spoolMetrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_spool_batches_appended_total", Help: "Batches written to the disk spool (ClickHouse unreachable or slow, or spool forced).",
		}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_spool_replays_total", Help: "Groups of spooled batches stored in ClickHouse and committed.",
		}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_spool_corrupt_records_total", Help: "Damaged or torn spool records found on replay; moved aside, never replayed.",
		}),
		full: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_spool_full_total", Help: "Appends refused because the spool held writer.spool.max_bytes; intake waits.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_spool_io_errors_total", Help: "Spool write or fsync errors.",
		}),
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ioc_spool_pending_bytes", Help: "Bytes in the disk spool waiting to be replayed into ClickHouse.",
	}, func() float64 { return float64(s.Pending()) })
	reg.MustRegister(m.appended, m.replayed, m.corrupt, m.full, m.errors, pending)
	return m
}
