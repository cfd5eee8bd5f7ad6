package dashboard

import "github.com/prometheus/client_golang/prometheus"

type apiMetrics struct {
	unauthenticated, denied, limited, throttled, liveFrames prometheus.Counter
	forwarded, forwardFailed, videoTokens                   prometheus.Counter
	liveClients                                             prometheus.Gauge
	videoAuth, stills, citizen                              *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		unauthenticated: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_unauthenticated_total", Help: "API calls and live connections refused for a missing, unknown, forged or expired token."}),
		denied:          prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_forbidden_total", Help: "API calls and live subscriptions refused to the caller's role."}),
		limited:         prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_rate_limited_total", Help: "API calls refused by the per-token rate limit."}),
		throttled:       prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_throttled_total", Help: "API calls and live connections answered 429 because their address sent too many refused tokens this minute."}),
		liveFrames:      prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_live_frames_sent_total", Help: "Frames written to live clients."}),
		liveClients:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_live_connections", Help: "Open live WebSocket connections."}),
		forwarded:       prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_forwarded_total", Help: "Alert requests sent on to the process whose alert engine leads."}),
		forwardFailed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_api_forward_failed_total", Help: "Alert requests the leading process did not answer (answered 503 no_leader)."}),
		videoTokens:     prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_video_tokens_issued_total", Help: "Short-lived tokens given to browsers to watch a camera through MediaMTX."}),
		videoAuth:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_video_auth_total", Help: "MediaMTX's questions whether a reader may watch a camera, by answer (allowed, refused, malformed)."}, []string{"answer"}),
		citizen:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_citizen_reports_total", Help: "Citizen reports submitted, by result (accepted, duplicate, refused, limited)."}, []string{"result"}),
		stills:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_camera_stills_total", Help: "Camera stills answered, by source (onvif, recording) and result (fetched, cached, failed)."}, []string{"source", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.unauthenticated, m.denied, m.limited, m.throttled, m.liveFrames, m.liveClients, m.forwarded, m.forwardFailed, m.videoTokens, m.videoAuth, m.stills, m.citizen)
	}
	return m
}
