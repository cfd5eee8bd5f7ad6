package alerts

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/outbox"
)

// metrics are the engine's and notifiers' Prometheus metrics.
type metrics struct {
	events        *prometheus.CounterVec
	active        *prometheus.GaugeVec
	unevaluable   *prometheus.CounterVec
	queue         prometheus.GaugeFunc
	evalSeconds   prometheus.Histogram
	outboxRows    *prometheus.GaugeVec
	outboxDropped *prometheus.CounterVec
	outboxWritten *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	notifications *prometheus.CounterVec
	notifyQueue   *prometheus.GaugeVec
	notifyDropped *prometheus.CounterVec
	notifySeconds *prometheus.HistogramVec
	capMessages   *prometheus.CounterVec
	capDrafts     prometheus.Gauge
}

// outbox returns the metrics of the outbox of table.
func (m *metrics) outbox(table string) outbox.Metrics {
	return outbox.Metrics{Queued: m.outboxRows.WithLabelValues(table), Dropped: m.outboxDropped.WithLabelValues(table),
		Errors: m.storeErrors.WithLabelValues(table), Written: m.outboxWritten.WithLabelValues(table)}
}

func newMetrics(reg prometheus.Registerer, queueLen func() float64) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alert_events_total",
			Help: "Alert transitions, by kind (pending, firing, updated, acknowledged, assigned, commented, escalated, resolved)."}, []string{"kind"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ioc_alerts_active",
			Help: "Live alerts, by state and severity."}, []string{"state", "severity"}),
		unevaluable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alerts_unevaluable_total",
			Help: "Readings or events a rule could not evaluate, by rule and reason."}, []string{"rule", "reason"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_alerts_queue_length",
			Help: "Observations and commands waiting for the engine."}, queueLen),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ioc_alerts_evaluation_seconds",
			Help: "Time to evaluate one batch of readings or events.", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}),
		outboxRows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ioc_alerts_store_queue_rows",
			Help: "Rows waiting to be written to the alert tables."}, []string{"table"}),
		outboxDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alerts_store_dropped_total",
			Help: "Rows dropped because the alert store's queue was full."}, []string{"table"}),
		outboxWritten: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alerts_store_rows_total",
			Help: "Rows written to the alert tables."}, []string{"table"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alerts_store_errors_total",
			Help: "Failed writes to the alert tables (each retried)."}, []string{"table"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alert_notifications_total",
			Help: "Notification attempts, by receiver and status (ok, retry, failed)."}, []string{"receiver", "status"}),
		notifyQueue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ioc_alert_notify_queue_length",
			Help: "Notifications waiting for each receiver."}, []string{"receiver"}),
		notifyDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_alert_notify_dropped_total",
			Help: "Notifications dropped because a receiver's queue was full."}, []string{"receiver"}),
		notifySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ioc_alert_notify_seconds",
			Help: "Time of one delivery attempt.", Buckets: prometheus.DefBuckets}, []string{"receiver"}),
		capDrafts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_cap_drafts_pending",
			Help: "Public warnings waiting for people to approve them."}),
		capMessages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_cap_messages_total",
			Help: "Public warnings published on the CAP feed, by message type (Alert, Update, Cancel)."}, []string{"msg_type"}),
	}
	for _, k := range []EventKind{EventPending, EventFiring, EventUpdated, EventAcknowledged, EventAssigned, EventCommented, EventEscalated, EventResolved} {
		m.events.WithLabelValues(string(k))
	}
	reg.MustRegister(m.events, m.active, m.unevaluable, m.queue, m.evalSeconds, m.outboxRows, m.outboxDropped,
		m.outboxWritten, m.storeErrors, m.notifications, m.notifyQueue, m.notifyDropped, m.notifySeconds, m.capMessages, m.capDrafts)
	return m
}
