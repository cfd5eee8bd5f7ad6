package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics counts the subscriber's work for /metrics.
type metrics struct {
	messages    prometheus.Counter
	readings    *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	connected   prometheus.Gauge
	connLost    prometheus.Counter
	connects    *prometheus.CounterVec
	unacked     prometheus.Counter
	suspect     *prometheus.CounterVec
	// claimConflicts counts the claims of this process's client id by another process.
	claimConflicts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_mqtt_messages_received_total", Help: "MQTT messages received by ingest.",
		}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_readings_total", Help: "Readings decoded, by result: ok (handed to storage) or dead_letter.",
		}, []string{"result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_dead_letters_total", Help: "Rejected payloads and records, by reason.",
		}, []string{"reason"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ioc_mqtt_connected", Help: "1 while the ingest client is connected to the broker.",
		}),
		connLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_mqtt_connection_lost_total", Help: "Times the broker connection was lost.",
		}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_mqtt_connects_total", Help: "Connection attempts to the broker, by result (ok, error); reconnects included.",
		}, []string{"result"}),
		suspect: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_ingest_suspect_readings_total", Help: "Readings stored marked suspect (possible but implausible for their station), by why: step, history, neighbors.",
		}, []string{"why"}),
		claimConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_mqtt_client_id_conflicts_total", Help: "Claims of this process's mqtt.client_id by another ioc process while it ran.",
		}),
		unacked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_mqtt_messages_left_unacknowledged_total", Help: "Messages left unacknowledged at shutdown; the broker redelivers them.",
		}),
	}
	for _, r := range Reasons {
		m.deadLetters.WithLabelValues(string(r))
	}
	m.readings.WithLabelValues("ok")
	m.readings.WithLabelValues("dead_letter")
	m.connects.WithLabelValues("ok")
	m.connects.WithLabelValues("error")
	for _, why := range []string{SuspectStep, SuspectHistory, SuspectNeighbors} {
		m.suspect.WithLabelValues(why)
	}
	reg.MustRegister(m.messages, m.readings, m.deadLetters, m.connected, m.connLost, m.connects, m.unacked, m.suspect, m.claimConflicts)
	return m
}

func (m *metrics) count(d Delivery) {
	m.messages.Inc()
	m.readings.WithLabelValues("ok").Add(float64(len(d.Readings)))
	if len(d.DeadLetters) > 0 {
		m.readings.WithLabelValues("dead_letter").Add(float64(len(d.DeadLetters)))
		for _, dl := range d.DeadLetters {
			m.deadLetters.WithLabelValues(string(dl.Reason)).Inc()
		}
	}
}
