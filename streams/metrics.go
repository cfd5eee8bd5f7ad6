package streams

import "github.com/prometheus/client_golang/prometheus"

// metrics counts the camera sessions' work for /metrics. Labels never name a camera's URL.
type metrics struct {
	sessions       prometheus.Gauge
	connects       prometheus.Counter
	reconnects     prometheus.Counter
	stateChanges   *prometheus.CounterVec
	packets        prometheus.Counter
	decodeErrors   prometheus.Counter
	events         *prometheus.CounterVec
	eventsDropped  prometheus.Counter
	metadataErrors *prometheus.CounterVec
	clockSkew      prometheus.Counter
	rtpJumps       prometheus.Counter
	refusedDropped prometheus.Counter
}

// stateCounter reports the cameras in each state when /metrics is read.
type stateCounter struct {
	desc  *prometheus.Desc
	count func() map[State]int
}

func (c stateCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c stateCounter) Collect(ch chan<- prometheus.Metric) {
	for state, n := range c.count() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(state))
	}
}

func newMetrics(reg prometheus.Registerer, count func() map[State]int) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ioc_camera_sessions", Help: "Camera sessions running (one per camera once started).",
		}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_connects_total", Help: "RTSP connections that described a camera.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_reconnects_total", Help: "Failed camera sessions, each followed by a reconnect after backoff.",
		}),
		stateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_camera_state_changes_total", Help: "Camera state changes, by the state entered.",
		}, []string{"state"}),
		packets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_video_packets_total", Help: "Video RTP packets measured (health mode).",
		}),
		decodeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_rtp_decode_errors_total", Help: "RTP/RTCP packets the RTSP client could not decode.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_camera_events_total", Help: "Camera analytics events read from ONVIF metadata tracks, by kind.",
		}, []string{"kind"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_events_dropped_total", Help: "Camera events dropped because the session's queue was full.",
		}),
		metadataErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ioc_camera_metadata_errors_total", Help: "ONVIF metadata documents refused, by stage: reassembly (lost packet, oversized) or parse.",
		}, []string{"stage"}),
		clockSkew: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_event_clock_skew_total", Help: "Camera events stamped further from the server clock than streams.max_clock_skew, stored at their arrival time.",
		}),
		rtpJumps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_rtp_discontinuities_total", Help: "Jumps of a video track's RTP clock (a restarted camera, a new viewer of a shared pipeline); the frame rate is measured on each side apart.",
		}),
		refusedDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ioc_camera_refused_metadata_dropped_total", Help: "Refused ONVIF metadata documents not kept as dead letters because the session's queue was full (each is still counted in ioc_camera_metadata_errors_total).",
		}),
	}
	for _, s := range []State{StateOnline, StateDegraded, StateOffline} {
		m.stateChanges.WithLabelValues(string(s))
	}
	m.metadataErrors.WithLabelValues("reassembly")
	m.metadataErrors.WithLabelValues("parse")
	reg.MustRegister(m.sessions, m.connects, m.reconnects, m.stateChanges, m.packets, m.decodeErrors,
		m.events, m.eventsDropped, m.metadataErrors, m.clockSkew, m.rtpJumps, m.refusedDropped,
		stateCounter{desc: prometheus.NewDesc("ioc_cameras", "Cameras by their latest state.", []string{"state"}, nil), count: count})
	return m
}
