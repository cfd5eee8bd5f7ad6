package analytics

import "github.com/prometheus/client_golang/prometheus"

type writerMetrics struct {
	rows         *prometheus.CounterVec
	batches      *prometheus.CounterVec
	flushSeconds *prometheus.HistogramVec
	unstored     prometheus.Counter
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
	}
	for _, t := range []string{"readings", "dead_letters"} {
		m.rows.WithLabelValues(t)
		m.batches.WithLabelValues(t, "ok")
		m.batches.WithLabelValues(t, "error")
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ioc_writer_queue_length", Help: "Messages waiting for the writer.",
	}, queueLen)
	reg.MustRegister(m.rows, m.batches, m.flushSeconds, m.unstored, queue)
	return m
}
