package hub

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	published, coalesced, flushed, lagged, dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, h *Hub) *metrics {
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_items_published_total", Help: "Live items published to the hub."}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_items_coalesced_total", Help: "Live items replaced by a newer state of their key before being sent."}),
		flushed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_items_flushed_total", Help: "Live items sent out by a flush."}),
		lagged:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_client_lagged_total", Help: "Times a slow client's queue was full and it was sent the current state instead."}),
		dropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_frames_dropped_total", Help: "Frames dropped from slow clients' queues."}),
	}
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_live_clients", Help: "Connected live clients."}, func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return float64(len(h.clients))
	})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_live_frames_queued", Help: "Frames waiting in clients' queues."}, func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := 0
		for c := range h.clients {
			n += len(c.frames)
		}
		return float64(n)
	})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ioc_live_items_pending", Help: "Changed live items waiting for their next send."}, func() float64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return float64(len(h.dirty) + len(h.waiting))
	})
	if reg != nil {
		reg.MustRegister(m.published, m.coalesced, m.flushed, m.lagged, m.dropped, clients, queued, pending)
	}
	return m
}
