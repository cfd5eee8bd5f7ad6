package streams

import (
	"math"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// videoMeter measures a video track from its RTP packets without decoding them: packets and
// bytes, access units (a new RTP timestamp starts one), their rate from the RTP clock,
// keyframes from the NAL unit types, loss from sequence numbers and interarrival jitter as
// RFC 3550 §6.4.1 defines it. packet runs on the RTSP client's reader; take on the session's
// loop.
type videoMeter struct {
	h265      bool
	clockRate float64

	mu      sync.Mutex
	packets uint64
	bytes   uint64
	frames  int // access units started in the window
	lastTS  uint32
	haveTS  bool
	// The window's RTP times, unwrapped (each step read as a signed 32-bit difference, so
	// the counter wrapping past 2^32 is one more step), in segments broken where the clock
	// jumps: a restarted camera, a second viewer joining a shared GStreamer pipeline.
	tsNow           int64 // the last access unit's time in the current segment
	segMin, segMax  int64
	segFrames       int   // access units in the current segment
	doneTicks       int64 // RTP ticks spanned by the window's closed segments
	doneIntervals   int   // frame intervals in them
	discontinuities uint64
	lastKeyTS       uint32
	haveKey         bool
	keyGap          float64 // seconds between the last two keyframes
	lastPacket      time.Time
	windowFrom      time.Time
	lost            uint64
	nextSeq         uint16
	haveSeq         bool
	transit         float64 // arrival minus RTP time of the previous packet, in seconds
	jitter          float64 // seconds
	origin          time.Time
}

func newVideoMeter(h265 bool, clockRate int, now time.Time) *videoMeter {
	return &videoMeter{h265: h265, clockRate: float64(clockRate), windowFrom: now, origin: now}
}

// packet accounts one RTP packet that arrived at now.
func (m *videoMeter) packet(p *rtp.Packet, now time.Time) {
	key := isKeyframeStart(p.Payload, m.h265)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastPacket.IsZero() {
		// the first window starts at the first packet: the session's setup before it would
		// count as a stream running slow
		m.windowFrom = now
	}
	m.packets++
	m.bytes += uint64(len(p.Payload))
	m.lastPacket = now
	if m.haveSeq {
		// A jump of more than 3000 is a restarted sender, not loss.
		if gap := p.SequenceNumber - m.nextSeq; gap != 0 && gap < 3000 {
			m.lost += uint64(gap)
		}
	}
	m.nextSeq, m.haveSeq = p.SequenceNumber+1, true
	transit := now.Sub(m.origin).Seconds() - float64(p.Timestamp)/m.clockRate
	if m.packets > 1 {
		d := math.Abs(transit - m.transit)
		if d < 1 { // a timestamp jump (a new sender) is not jitter
			m.jitter += (d - m.jitter) / 16
		}
	}
	m.transit = transit
	if !m.haveTS || p.Timestamp != m.lastTS {
		m.accessUnit(p.Timestamp)
	}
	if key && (!m.haveKey || p.Timestamp != m.lastKeyTS) {
		if m.haveKey {
			if d := int32(p.Timestamp - m.lastKeyTS); d > 0 {
				m.keyGap = float64(d) / m.clockRate
			}
		}
		m.lastKeyTS, m.haveKey = p.Timestamp, true
	}
}

// maxStepBack and maxStepAhead bound, in seconds of RTP time, a step between two access units
// that is still one stream: B-frames step back by a few frames; a longer step back, or a step
// ahead of more than maxStepAhead, is a discontinuity.
const (
	maxStepBack  = 1
	maxStepAhead = 10
)

// accessUnit accounts the start of an access unit at RTP time ts.
func (m *videoMeter) accessUnit(ts uint32) {
	if m.haveTS {
		d := int64(int32(ts - m.lastTS))
		if float64(-d) > maxStepBack*m.clockRate || float64(d) > maxStepAhead*m.clockRate {
			// A discontinuity: the segment so far keeps its measure, a new one starts here,
			// and no keyframe interval is measured across it.
			m.closeSegment()
			m.haveKey = false
			m.discontinuities++
			d = 0
		}
		m.tsNow += d
	}
	m.lastTS, m.haveTS = ts, true
	if m.segFrames == 0 {
		m.segMin, m.segMax = m.tsNow, m.tsNow
	}
	m.segMin, m.segMax = min(m.segMin, m.tsNow), max(m.segMax, m.tsNow)
	m.segFrames++
	m.frames++
}

// closeSegment adds the current segment's span to the window's.
func (m *videoMeter) closeSegment() {
	if m.segFrames >= 2 {
		m.doneTicks += m.segMax - m.segMin
		m.doneIntervals += m.segFrames - 1
	}
	m.segFrames = 0
}

// last is when the last packet arrived (zero before the first).
func (m *videoMeter) last() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastPacket
}

// meterWindow is what a meter measured since the previous take.
type meterWindow struct {
	fps, bitrateKbps, keyframeInterval, jitterMs float64
	packets, lost                                uint64
	// discontinuities are the jumps of the RTP clock in the window (restarted sender, a
	// shared pipeline's new viewer), each starting a new segment of measure.
	discontinuities uint64
	lastPacket      time.Time
}

// take returns the window's figures at now and starts a new window.
func (m *videoMeter) take(now time.Time) meterWindow {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := meterWindow{packets: m.packets, lost: m.lost, keyframeInterval: m.keyGap, lastPacket: m.lastPacket, jitterMs: m.jitter * 1000}
	secs := now.Sub(m.windowFrom).Seconds()
	if secs > 0 {
		w.bitrateKbps = float64(m.bytes) * 8 / 1000 / secs
	}
	// The frame rate comes from the RTP clock: the frame intervals of the window's segments
	// over the RTP time they span. With too few frames for that, count them in wall time.
	m.closeSegment()
	span := float64(m.doneTicks) / m.clockRate
	switch {
	case m.doneIntervals >= 2 && span > 0:
		w.fps = float64(m.doneIntervals) / span
		// A stream that stopped before the window ended runs slower than its timestamps say.
		if wall := float64(m.frames) / secs; secs > 0 && wall < w.fps {
			w.fps = wall
		}
	case secs > 0:
		w.fps = float64(m.frames) / secs
	}
	m.packets, m.bytes, m.frames, m.lost = 0, 0, 0, 0
	w.discontinuities = m.discontinuities
	m.doneTicks, m.doneIntervals, m.discontinuities = 0, 0, 0
	m.windowFrom = now
	return w
}

// isKeyframeStart tells whether an RTP payload starts (or is) an IDR picture (H.264) or an
// IRAP picture (H.265).
func isKeyframeStart(payload []byte, h265 bool) bool {
	if len(payload) < 2 {
		return false
	}
	if h265 {
		typ := (payload[0] >> 1) & 0x3f
		switch {
		case typ == 48: // aggregation packet: the first NAL unit's header follows its size
			if len(payload) >= 5 {
				return isH265Key((payload[4] >> 1) & 0x3f)
			}
		case typ == 49: // fragmentation unit: start bit and type in the FU header
			if len(payload) >= 3 && payload[2]&0x80 != 0 {
				return isH265Key(payload[2] & 0x3f)
			}
		default:
			return isH265Key(typ)
		}
		return false
	}
	typ := payload[0] & 0x1f
	switch typ {
	case 24: // STAP-A: NAL units, each after a 16-bit size
		for i := 1; i+2 < len(payload); {
			size := int(payload[i])<<8 | int(payload[i+1])
			if isH264Key(payload[i+2] & 0x1f) {
				return true
			}
			i += 2 + size
		}
	case 28: // FU-A: start bit and type in the FU header
		return payload[1]&0x80 != 0 && isH264Key(payload[1]&0x1f)
	default:
		return isH264Key(typ)
	}
	return false
}

func isH264Key(t byte) bool { return t == 5 }

func isH265Key(t byte) bool { return t >= 16 && t <= 21 }
