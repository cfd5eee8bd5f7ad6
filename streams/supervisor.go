package streams

import (
	"context"
	"crypto/tls"
	"log/slog"
	"reflect"
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
	// tls checks rtsps:// cameras (streams.tls); nil uses the system's roots.
	tls *tls.Config

	mu       sync.Mutex
	latest   map[string]CameraStatus
	sessions map[string]*running
	gen      uint64
	runCtx   context.Context // Run's; nil before Run
	wg       sync.WaitGroup
}

// NewSupervisor builds the supervisor of cat's cameras, reporting to sink; Run starts it.
func NewSupervisor(cat *CameraCatalog, cfg config.Streams, sink Sink, reg prometheus.Registerer, log *slog.Logger) *Supervisor {
	s := &Supervisor{
		cat: cat, cfg: cfg, sink: sink, log: log.With("component", "streams"),
		limits:         Limits{DegradedShare: cfg.DegradedShare, MaxLoss: cfg.MaxLoss},
		metadataLimits: MetadataLimits{MaxBytes: cfg.MetadataMaxBytes, MaxDepth: DefaultMetadataLimits.MaxDepth, MaxElements: DefaultMetadataLimits.MaxElements},
		latest:         make(map[string]CameraStatus, cat.Len()),
		sessions:       make(map[string]*running, cat.Len()),
	}
	s.m = newMetrics(reg, s.countStates)
	return s
}

// SetTLS sets what checks rtsps:// cameras' certificates (and the client certificate they may
// ask for); call it before Run.
func (s *Supervisor) SetTLS(tc *tls.Config) { s.tls = tc }

// Run watches every camera until ctx ends, and returns once every session has stopped and
// their states are forgotten; it may run again (a process that watches the cameras only while
// its alert engine leads).
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	n := s.cat.Len()
	s.log.Info("watching cameras", "cameras", n, "default_mode", s.cfg.Mode, "start_spread", s.cfg.StartSpread)
	s.runCtx = ctx
	for i := range s.cat.Cameras {
		delay := time.Duration(0)
		if n > 1 {
			delay = s.cfg.StartSpread * time.Duration(i) / time.Duration(n)
		}
		s.startLocked(s.cat.Cameras[i], delay)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.wg.Wait()
	s.mu.Lock()
	clear(s.sessions)
	clear(s.latest)
	s.mu.Unlock()
	return nil
}

// running is a camera's session as the supervisor holds it.
type running struct {
	cam    Camera
	gen    uint64 // which start of the camera this is: statuses of an older one are ignored
	cancel context.CancelFunc
}

// startLocked starts cam's session after delay; s.mu is held.
func (s *Supervisor) startLocked(cam Camera, delay time.Duration) {
	ctx, cancel := context.WithCancel(s.runCtx)
	s.gen++
	r := &running{cam: cam, gen: s.gen, cancel: cancel}
	s.sessions[cam.ID] = r
	mode := cam.Mode
	if mode == "" {
		mode = s.cfg.Mode
	}
	sess := &session{
		cam: &r.cam, gen: r.gen, mode: mode, cfg: s.cfg, sup: s,
		log:     s.log.With("camera", cam.ID, "url", cam.URL),
		events:  make(chan CameraEvent, 64), // drained at least every second; more is dropped and counted
		refused: make(chan RefusedMetadata, 16),
	}
	s.wg.Add(1)
	go func() { // owned by Run, which waits for it; Reload or ctx stops it
		defer s.wg.Done()
		defer cancel()
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

// Reload watches the cameras of cat from now on: new cameras start at once, removed ones stop
// (and leave Latest), changed ones (URL, credentials, mode, expectations…) restart. Before Run
// it only replaces the catalog.
func (s *Supervisor) Reload(cat *CameraCatalog) (started, stopped, restarted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cat = cat
	if s.runCtx == nil {
		return 0, 0, 0
	}
	for id, r := range s.sessions {
		if cat.Lookup(id) == nil {
			r.cancel()
			delete(s.sessions, id)
			delete(s.latest, id)
			stopped++
		}
	}
	for _, cam := range cat.Cameras {
		r, ok := s.sessions[cam.ID]
		switch {
		case !ok:
			s.startLocked(cam, 0)
			started++
		case !reflect.DeepEqual(r.cam, cam):
			r.cancel()
			delete(s.latest, cam.ID)
			s.startLocked(cam, 0)
			restarted++
		}
	}
	s.log.Info("camera catalog reloaded", "cameras", cat.Len(), "started", started, "stopped", stopped, "restarted", restarted)
	return started, stopped, restarted
}

// setLatest records a camera's latest status, from the gen'th start of its session; a session
// that Reload stopped or replaced is not heard any more.
func (s *Supervisor) setLatest(st CameraStatus, gen uint64) {
	s.mu.Lock()
	if r := s.sessions[st.Camera]; r != nil && r.gen == gen {
		s.latest[st.Camera] = st
	}
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
