package streams

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Supervisor runs one session per camera of the catalog: sessions start spread over
// streams.start_spread, each reconnects on its own with backoff, and one camera's failure
// (or hostile stream) never touches another's session.
type Supervisor struct {
	cat            *CameraCatalog
	cfg            config.Streams
	sink           Sink
	log            *slog.Logger
	m              *metrics
	limits         Limits
	metadataLimits MetadataLimits

	mu     sync.Mutex
	latest map[string]CameraStatus
}

// NewSupervisor builds the supervisor of cat's cameras, reporting to sink; Run starts it.
func NewSupervisor(cat *CameraCatalog, cfg config.Streams, sink Sink, reg prometheus.Registerer, log *slog.Logger) *Supervisor {
	s := &Supervisor{
		cat: cat, cfg: cfg, sink: sink, log: log.With("component", "streams"),
		limits:         Limits{DegradedShare: cfg.DegradedShare, MaxLoss: cfg.MaxLoss},
		metadataLimits: MetadataLimits{MaxBytes: cfg.MetadataMaxBytes, MaxDepth: DefaultMetadataLimits.MaxDepth, MaxElements: DefaultMetadataLimits.MaxElements},
		latest:         make(map[string]CameraStatus, cat.Len()),
	}
	s.m = newMetrics(reg, s.countStates)
	return s
}

// Run watches every camera until ctx ends, and returns once every session has stopped.
func (s *Supervisor) Run(ctx context.Context) error {
	n := s.cat.Len()
	s.log.Info("watching cameras", "cameras", n, "default_mode", s.cfg.Mode, "start_spread", s.cfg.StartSpread)
	var wg sync.WaitGroup
	for i := range s.cat.Cameras {
		cam := &s.cat.Cameras[i]
		mode := cam.Mode
		if mode == "" {
			mode = s.cfg.Mode
		}
		sess := &session{
			cam: cam, mode: mode, cfg: s.cfg, sup: s,
			log:    s.log.With("camera", cam.ID, "url", cam.URL),
			events: make(chan CameraEvent, 64), // drained at least every second; more is dropped and counted
		}
		delay := time.Duration(0)
		if n > 1 {
			delay = s.cfg.StartSpread * time.Duration(i) / time.Duration(n)
		}
		wg.Add(1)
		go func() { // owned by Run, which waits for it
			defer wg.Done()
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.m.sessions.Inc()
			defer s.m.sessions.Dec()
			sess.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// setLatest records a camera's latest status.
func (s *Supervisor) setLatest(st CameraStatus) {
	s.mu.Lock()
	s.latest[st.Camera] = st
	s.mu.Unlock()
}

// Latest returns every camera's latest status, sorted by camera id; cameras whose session has
// not reported yet are missing.
func (s *Supervisor) Latest() []CameraStatus {
	s.mu.Lock()
	out := make([]CameraStatus, 0, len(s.latest))
	for _, st := range s.latest {
		out = append(out, st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b CameraStatus) int { return strings.Compare(a.Camera, b.Camera) })
	return out
}

// countStates counts cameras by state for the ioc_cameras gauge.
func (s *Supervisor) countStates() map[State]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[State]int{StateOnline: 0, StateDegraded: 0, StateOffline: 0}
	for _, st := range s.latest {
		counts[st.State]++
	}
	return counts
}
