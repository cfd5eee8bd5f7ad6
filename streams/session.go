package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
)

// session watches one camera for as long as its context lives: it connects, plays what its
// mode asks for, measures, reports state changes and samples to the supervisor, and
// reconnects with backoff when the camera fails.
type session struct {
	cam  *Camera
	gen  uint64 // the supervisor's number of this start
	mode string
	cfg  config.Streams
	sup  *Supervisor
	log  *slog.Logger

	// The current state, owned by the session's goroutine.
	state      State
	reason     Reason
	since      time.Time
	lastStored time.Time
	stream     CameraStatus // what the stream was last seen to be (codec, size, figures)

	spsFPS  float64          // the frame rate the SPS announces, 0 when it does not
	events  chan CameraEvent // from the RTSP reader to the session loop
	refused chan RefusedMetadata
	objects map[string]bool // object ids already reported; the RTSP reader's own
}

var (
	// errStalled ends a session whose camera stopped sending.
	errStalled = errors.New("no packet within the stall timeout")
	// errNoMetadataTrack turns a metadata-mode session on a camera without one into probes.
	errNoMetadataTrack = errors.New("no ONVIF metadata track")
)

// run watches the camera until ctx ends.
func (s *session) run(ctx context.Context) {
	retry := backoff.Backoff{Initial: s.cfg.ReconnectMin, Max: s.cfg.ReconnectMax}
	for ctx.Err() == nil {
		var err error
		started := time.Now()
		switch s.mode {
		case ModeProbe:
			err = s.probe(ctx)
		default:
			err = s.play(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errNoMetadataTrack) {
			s.log.Info("the camera offers no ONVIF metadata track; it is probed instead")
			s.mode = ModeProbe
			continue
		}
		wait := retry.Next()
		if err == nil { // a probe that succeeded: the next one comes after the interval
			retry = backoff.Backoff{Initial: s.cfg.ReconnectMin, Max: s.cfg.ReconnectMax}
			wait = s.probeInterval()
			wait += time.Duration(rand.Int64N(int64(wait/10) + 1)) // spread probes apart
		} else {
			s.fail(ctx, err)
			if time.Since(started) > s.cfg.ReconnectMax { // it ran a good while: start backoff afresh
				retry = backoff.Backoff{Initial: s.cfg.ReconnectMin, Max: s.cfg.ReconnectMax}
				wait = retry.Next()
			}
			if s.mode == ModeProbe {
				wait = min(wait, s.probeInterval())
			}
			s.sup.m.reconnects.Inc()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// take ends the meter's window at now and counts its RTP clock's jumps.
func (s *session) take(meter *videoMeter, now time.Time) meterWindow {
	w := meter.take(now)
	s.sup.m.rtpJumps.Add(float64(w.discontinuities))
	return w
}

func (s *session) probeInterval() time.Duration {
	if s.cam.ProbeInterval > 0 {
		return s.cam.ProbeInterval
	}
	return s.cfg.ProbeInterval
}

// failure is an error with the reason it puts on the camera's state.
type failure struct {
	reason Reason
	err    error
}

func (f *failure) Error() string { return fmt.Sprintf("%s: %v", f.reason, f.err) }
func (f *failure) Unwrap() error { return f.err }

func fail(r Reason, err error) error { return &failure{reason: r, err: err} }

// fail records the camera as offline for err's reason.
func (s *session) fail(ctx context.Context, err error) {
	reason := ReasonError
	var f *failure
	if errors.As(err, &f) {
		reason = f.reason
	}
	st := s.stream
	st.LastPacketAge = -1
	s.report(ctx, &st, StateOffline, reason, scrub(err, s.cam.DialURL()).Error())
}

// report stores the camera's status when its state changed or a sample is due.
func (s *session) report(ctx context.Context, st *CameraStatus, state State, reason Reason, detail string) {
	now := time.Now().UTC()
	changed := state != s.state || reason != s.reason
	if !changed && now.Sub(s.lastStored) < s.cfg.SampleInterval {
		s.sup.setLatest(s.statusOf(st, now, false, detail), s.gen)
		return
	}
	if changed {
		if state != s.state {
			s.since = now
		}
		if state != "" {
			s.sup.m.stateChanges.WithLabelValues(string(state)).Inc()
		}
		s.log.Info("camera state", "state", state, "reason", reason, "detail", detail, "previous", s.state)
		s.state, s.reason = state, reason
	}
	out := s.statusOf(st, now, changed, detail)
	s.lastStored = now
	s.sup.setLatest(out, s.gen)
	if err := s.sup.sink.DeliverCamera(ctx, []CameraStatus{out}, nil, nil); err != nil && ctx.Err() == nil {
		s.log.Warn("camera status not stored", "err", err)
	}
}

func (s *session) statusOf(st *CameraStatus, now time.Time, changed bool, detail string) CameraStatus {
	out := *st
	out.Time, out.Camera, out.Mode = now, s.cam.ID, s.mode
	out.State, out.Reason, out.Detail, out.Change, out.Since = s.state, s.reason, detail, changed, s.since
	return out
}

// connect opens an RTSP client on the camera and describes it.
func (s *session) connect(ctx context.Context) (*gortsplib.Client, *description.Session, func(), error) {
	var transport *gortsplib.Transport
	switch s.cfg.Transport {
	case "tcp":
		t := gortsplib.TransportTCP
		transport = &t
	case "udp":
		t := gortsplib.TransportUDP
		transport = &t
	}
	c, desc, closeAll, err := dial(ctx, s.cam.DialURL(), s.cfg.RequestTimeout, transport, func(error) { s.sup.m.decodeErrors.Inc() }, s.sup.tls)
	if err != nil {
		return nil, nil, nil, err
	}
	s.sup.m.connects.Inc()
	return c, desc, closeAll, nil
}

// tracksOf finds the video and metadata formats of a description.
func tracksOf(desc *description.Session) (vm *description.Media, vf format.Format, mm *description.Media, mf format.Format) {
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			switch {
			case vm == nil && m.Type == description.MediaTypeVideo:
				vm, vf = m, f
			case mm == nil && strings.Contains(strings.ToLower(f.RTPMap()), "onvif.metadata"):
				mm, mf = m, f
			}
		}
	}
	return
}

// play runs one long session (health or metadata mode) until the camera fails or ctx ends.
func (s *session) play(ctx context.Context) error {
	c, desc, closeAll, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	vm, vf, mm, mf := tracksOf(desc)
	info, err := videoInfo(vf)
	if err != nil {
		return fail(ReasonBadSDP, err)
	}
	s.stream = CameraStatus{LastPacketAge: -1}
	if info != nil {
		s.stream.Codec, s.stream.Width, s.stream.Height = info.Codec, info.Width, info.Height
		s.spsFPS = info.FPS
	}
	var meter *videoMeter
	var lastMeta lastPacket
	now := time.Now()
	switch {
	case s.mode == ModeHealth && vm == nil:
		return fail(ReasonNoVideoTrack, errors.New("the camera offers no video track"))
	case s.mode == ModeHealth:
		if info.Codec != "H264" && info.Codec != "H265" {
			return fail(ReasonUnsupportedCodec, fmt.Errorf("video codec %s is not measured (H264 and H265 are)", info.Codec))
		}
		meter = newVideoMeter(info.Codec == "H265", vf.ClockRate(), now)
		if _, err := c.Setup(desc.BaseURL, vm, 0, 0); err != nil {
			return fail(ReasonSessionRejected, err)
		}
		c.OnPacketRTP(vm, vf, func(p *rtp.Packet) {
			meter.packet(p, time.Now())
			s.sup.m.packets.Inc()
		})
	case mm == nil:
		return errNoMetadataTrack
	}
	var asm *metadataAssembler
	var docErrs errCount
	if mm != nil {
		if _, err := c.Setup(desc.BaseURL, mm, 0, 0); err != nil {
			return fail(ReasonSessionRejected, err)
		}
		asm = &metadataAssembler{maxBytes: s.cfg.MetadataMaxBytes}
		c.OnPacketRTP(mm, mf, func(p *rtp.Packet) {
			lastMeta.set(time.Now())
			s.metadataPacket(asm, p, &docErrs)
		})
	}
	if _, err := c.Play(nil); err != nil {
		return fail(ReasonSessionRejected, err)
	}
	// the stall clock starts at PLAY; the camera is online once its first packet arrives
	return s.watch(ctx, c, meter, &lastMeta, &docErrs, time.Now())
}

// watch judges a playing session every window and delivers its events, until it fails. The
// camera is reported online once a packet has arrived since PLAY (playAt): a camera that
// accepts the session and then sends nothing stays offline (stalled) instead of flapping.
func (s *session) watch(ctx context.Context, c *gortsplib.Client, meter *videoMeter, lastMeta *lastPacket, docErrs *errCount, playAt time.Time) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }() // ends when the client closes; play's deferred close does
	window := time.NewTicker(s.cfg.Window)
	defer window.Stop()
	check := time.NewTicker(min(time.Second, s.cfg.StallTimeout/4))
	defer check.Stop()
	var pending delivery
	flowing := false // a packet arrived since PLAY
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			if age := s.packetAge(meter, lastMeta, playAt, time.Now()); age >= s.cfg.StallTimeout/2 {
				return fail(ReasonStalled, fmt.Errorf("%w (%s without a packet): %v", errStalled, age.Round(time.Millisecond), err))
			}
			return fail(ReasonSessionEnded, err)
		case e := <-s.events:
			pending.events = append(pending.events, e)
			if len(pending.events) >= 256 {
				s.deliverEvents(ctx, &pending)
			}
		case r := <-s.refused:
			pending.refused = append(pending.refused, r)
		case now := <-check.C:
			s.deliverEvents(ctx, &pending)
			if age := s.packetAge(meter, lastMeta, playAt, now); age > s.cfg.StallTimeout {
				return fail(ReasonStalled, fmt.Errorf("%w (%s without a packet)", errStalled, age.Round(time.Millisecond)))
			}
			if !flowing && s.lastPacket(meter, lastMeta).After(playAt) {
				flowing = true
				s.report(ctx, &s.stream, StateOnline, "", "")
			}
		case now := <-window.C:
			s.deliverEvents(ctx, &pending)
			if !flowing {
				continue // nothing to judge yet
			}
			st := s.stream
			state, reason, detail := StateOnline, Reason(""), ""
			if meter != nil {
				w := s.take(meter, now)
				w.fill(&st, now)
				state, reason, detail = judge(&st, s.cam.Expected, s.spsFPS, s.sup.limits)
			} else {
				st.LastPacketAge = ageOf(lastMeta.get(), now)
			}
			if n, last := docErrs.take(); n > 0 && state == StateOnline {
				state, reason, detail = StateDegraded, ReasonBadMetadata, fmt.Sprintf("%d metadata documents refused, the last: %v", n, last)
			}
			s.stream = st
			s.report(ctx, &st, state, reason, detail)
		}
	}
}

// delivery is what the session loop holds for the sink between deliveries.
type delivery struct {
	events  []CameraEvent
	refused []RefusedMetadata
}

func (s *session) deliverEvents(ctx context.Context, pending *delivery) {
	if len(pending.events) == 0 && len(pending.refused) == 0 {
		return
	}
	if err := s.sup.sink.DeliverCamera(ctx, nil, pending.events, pending.refused); err != nil && ctx.Err() == nil {
		s.log.Warn("camera events not stored", "events", len(pending.events), "refused_documents", len(pending.refused), "err", err)
	}
	*pending = delivery{}
}

// lastPacket is when the last packet of the tracks played arrived (zero before the first).
func (s *session) lastPacket(meter *videoMeter, lastMeta *lastPacket) time.Time {
	last := lastMeta.get()
	if meter != nil {
		if v := meter.last(); v.After(last) {
			last = v
		}
	}
	return last
}

// packetAge is the time since the last packet of the tracks played, or since PLAY (playAt)
// before the first.
func (s *session) packetAge(meter *videoMeter, lastMeta *lastPacket, playAt, now time.Time) time.Duration {
	last := s.lastPacket(meter, lastMeta)
	if last.Before(playAt) {
		last = playAt
	}
	return now.Sub(last)
}

// fill puts the window's figures in st.
func (w meterWindow) fill(st *CameraStatus, now time.Time) {
	st.FPS, st.BitrateKbps, st.KeyframeInterval, st.JitterMs = w.fps, w.bitrateKbps, w.keyframeInterval, w.jitterMs
	st.PacketsReceived, st.PacketsLost = w.packets, w.lost
	st.LastPacketAge = ageOf(w.lastPacket, now)
}

func ageOf(last, now time.Time) time.Duration {
	if last.IsZero() {
		return -1
	}
	return max(now.Sub(last), 0) // a packet may arrive after the tick that reads it
}

// metadataPacket reassembles and parses the metadata track; it runs on the RTSP reader.
func (s *session) metadataPacket(asm *metadataAssembler, p *rtp.Packet, docErrs *errCount) {
	doc, err := asm.push(p)
	if err != nil {
		s.sup.m.metadataErrors.WithLabelValues("reassembly").Inc()
		docErrs.add(err)
		s.refuse(RefusedReassembly, err, nil)
	}
	if doc == nil {
		return
	}
	now := time.Now().UTC()
	events, err := ParseMetadata(doc, s.cam.ID, now, s.sup.metadataLimits)
	if err != nil {
		s.sup.m.metadataErrors.WithLabelValues("parse").Inc()
		docErrs.add(err)
		reason := RefusedMalformed
		var me *MetadataError
		if errors.As(err, &me) {
			reason = me.Reason
		}
		s.refuse(reason, err, doc)
		return
	}
	for _, e := range events {
		if e.Kind == EventObject && !s.newObject(e.ObjectID) {
			continue // the same object in the next frame
		}
		if skew := e.Time.Sub(now); skew > s.cfg.MaxClockSkew || skew < -s.cfg.MaxClockSkew {
			e.Data = append(e.Data, KV{Name: "camera_time", Value: e.Time.Format(time.RFC3339Nano)})
			e.Time = now
			s.sup.m.clockSkew.Inc()
		}
		select {
		case s.events <- e:
			s.sup.m.events.WithLabelValues(string(e.Kind)).Inc()
		default:
			s.sup.m.eventsDropped.Inc()
		}
	}
}

// refusedKeepBytes bounds the copy of a refused document kept in its dead letter.
const refusedKeepBytes = 4 << 10

// refuse hands a refused metadata document to the session loop for the dead letters; it runs
// on the RTSP reader. When the loop is behind, the refusal is dropped and counted (the
// document was counted in ioc_camera_metadata_errors_total already).
func (s *session) refuse(reason string, err error, doc []byte) {
	r := RefusedMetadata{Time: time.Now().UTC(), Camera: s.cam.ID, Reason: reason, Detail: err.Error(), Size: len(doc),
		Document: append([]byte(nil), doc[:min(len(doc), refusedKeepBytes)]...)} // the reader reuses its buffers
	select {
	case s.refused <- r:
	default:
		s.sup.m.refusedDropped.Inc()
	}
}

// probe checks the camera once: DESCRIBE, then PLAY of the video track for ProbePlay.
func (s *session) probe(ctx context.Context) error {
	c, desc, closeAll, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	vm, vf, _, _ := tracksOf(desc)
	if vm == nil {
		return fail(ReasonNoVideoTrack, errors.New("the camera offers no video track"))
	}
	info, err := videoInfo(vf)
	if err != nil {
		return fail(ReasonBadSDP, err)
	}
	st := CameraStatus{Codec: info.Codec, Width: info.Width, Height: info.Height, LastPacketAge: -1}
	if info.Codec != "H264" && info.Codec != "H265" {
		s.stream = st
		s.report(ctx, &st, StateOnline, "", fmt.Sprintf("video codec %s is described, not measured", info.Codec))
		return nil
	}
	start := time.Now()
	meter := newVideoMeter(info.Codec == "H265", vf.ClockRate(), start)
	if _, err := c.Setup(desc.BaseURL, vm, 0, 0); err != nil {
		return fail(ReasonSessionRejected, err)
	}
	c.OnPacketRTP(vm, vf, func(p *rtp.Packet) { meter.packet(p, time.Now()) })
	if _, err := c.Play(nil); err != nil {
		return fail(ReasonSessionRejected, err)
	}
	t := time.NewTimer(s.cfg.ProbePlay)
	defer t.Stop()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-done:
		return fail(ReasonSessionEnded, err)
	case <-t.C:
	}
	now := time.Now()
	w := s.take(meter, now)
	if w.packets == 0 {
		return fail(ReasonStalled, fmt.Errorf("%w: none in a %s probe", errStalled, s.cfg.ProbePlay))
	}
	w.fill(&st, now)
	s.spsFPS = info.FPS
	state, reason, detail := judge(&st, s.cam.Expected, s.spsFPS, s.sup.limits)
	s.stream = st
	s.report(ctx, &st, state, reason, detail)
	return nil
}

// newObject tells whether an object id is seen for the first time; objects without an id
// are always new. It remembers up to 4096 ids, then starts afresh.
func (s *session) newObject(id string) bool {
	if id == "" {
		return true
	}
	if s.objects[id] {
		return false
	}
	if s.objects == nil || len(s.objects) >= 4096 {
		s.objects = make(map[string]bool)
	}
	s.objects[id] = true
	return true
}

// lastPacket is the arrival time of a track's last packet, shared by reader and loop.
type lastPacket struct {
	mu sync.Mutex
	t  time.Time
}

func (l *lastPacket) set(t time.Time) { l.mu.Lock(); l.t = t; l.mu.Unlock() }

func (l *lastPacket) get() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.t }

// errCount counts errors and keeps the last, shared by reader and loop.
type errCount struct {
	mu   sync.Mutex
	n    int
	last error
}

func (e *errCount) add(err error) { e.mu.Lock(); e.n++; e.last = err; e.mu.Unlock() }

func (e *errCount) take() (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, last := e.n, e.last
	e.n, e.last = 0, nil
	return n, last
}
