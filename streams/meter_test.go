package streams

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// The first window starts at the first packet: a session that took 300 ms to set up before its
// 10 fps began does not measure as a slow stream.
func TestMeterFirstWindowStartsAtTheFirstPacket(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	m := newVideoMeter(false, 90000, t0)
	first := t0.Add(300 * time.Millisecond)
	for i := range 6 { // frames 100 ms apart, 90 kHz RTP clock
		m.packet(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 9000)}, Payload: []byte{0x41, 0x9a, 0, 0}},
			first.Add(time.Duration(i)*100*time.Millisecond))
	}
	w := m.take(first.Add(600 * time.Millisecond))
	if math.Abs(w.fps-10) > 0.5 {
		t.Errorf("first window: %.2f fps, want about 10 (the setup before the first packet is not the stream's)", w.fps)
	}
}

// feed gives the meter one single-packet access unit per RTP timestamp, 100 ms apart in wall
// time from `from`, a keyframe every tenth; it returns the wall time after the last.
func feed(m *videoMeter, seq *uint16, from time.Time, ts ...uint32) time.Time {
	for i, t := range ts {
		payload := []byte{0x41, 0x9a, 0, 0} // a non-IDR slice
		if i%10 == 0 {
			payload = []byte{0x65, 0x88, 0, 0} // an IDR slice
		}
		m.packet(&rtp.Packet{Header: rtp.Header{SequenceNumber: *seq, Timestamp: t}, Payload: payload}, from)
		*seq++
		from = from.Add(100 * time.Millisecond)
	}
	return from
}

// stamps are n RTP timestamps of a 10 fps stream on a 90 kHz clock from start (wrapping past
// 2^32 as the counter does).
func stamps(start uint32, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = start + uint32(i)*9000
	}
	return out
}

// A timestamp counter that wraps past 2^32 mid-window is one more frame interval, not a
// backwards jump of 13 hours.
func TestMeterRTPTimestampWrapAround(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	m := newVideoMeter(false, 90000, t0)
	var seq uint16
	end := feed(m, &seq, t0, stamps(math.MaxUint32-5*9000, 30)...)
	w := m.take(end)
	if math.Abs(w.fps-10) > 0.5 {
		t.Errorf("across the wrap: %.3f fps, want about 10", w.fps)
	}
	if math.Abs(w.keyframeInterval-1) > 0.01 {
		t.Errorf("across the wrap: keyframe interval %.3f s, want 1", w.keyframeInterval)
	}
	if w.discontinuities != 0 {
		t.Errorf("a wrap counted as %d discontinuities, want 0", w.discontinuities)
	}
}

// A clock that jumps backwards (a second viewer joining a shared GStreamer pipeline, a
// restarted camera) or far ahead starts a new segment: the frame rate is measured on each side,
// the keyframe interval is never measured across the jump.
func TestMeterRTPTimestampDiscontinuity(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump uint32 // the second half's start
	}{
		{"backwards", 1_000_000},
		{"backwards past zero", math.MaxUint32 - 500_000},
		{"far ahead", 3_000_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
			m := newVideoMeter(false, 90000, t0)
			var seq uint16
			mid := feed(m, &seq, t0, stamps(2_000_000_000, 15)...)
			end := feed(m, &seq, mid, stamps(tc.jump, 15)...)
			w := m.take(end)
			if math.Abs(w.fps-10) > 0.5 {
				t.Errorf("%.3f fps, want about 10 on both sides of the jump", w.fps)
			}
			if w.keyframeInterval < 0 || w.keyframeInterval > 1.01 {
				t.Errorf("keyframe interval %.3f s, want at most 1 (never measured across the jump)", w.keyframeInterval)
			}
			if w.discontinuities != 1 {
				t.Errorf("%d discontinuities, want 1", w.discontinuities)
			}
			// the next window measures as usual
			end = feed(m, &seq, end, stamps(tc.jump+15*9000, 20)...)
			if w := m.take(end); math.Abs(w.fps-10) > 0.5 || math.Abs(w.keyframeInterval-1) > 0.01 || w.discontinuities != 0 {
				t.Errorf("the window after: %.3f fps, keyframe interval %.3f s, %d discontinuities; want 10, 1, 0", w.fps, w.keyframeInterval, w.discontinuities)
			}
		})
	}
}

// B-frames step the RTP time back by a frame or two: still one stream.
func TestMeterBFramesAreNotDiscontinuities(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	m := newVideoMeter(false, 90000, t0)
	var seq uint16
	var ts []uint32
	for g := range 10 { // decode order I P B B: 0, 3, 1, 2 frames
		base := uint32(g * 3 * 9000)
		ts = append(ts, base, base+3*9000, base+9000, base+2*9000)
	}
	end := feed(m, &seq, t0, ts...)
	w := m.take(end)
	if w.discontinuities != 0 {
		t.Errorf("B-frames counted as %d discontinuities", w.discontinuities)
	}
	if w.fps <= 0 {
		t.Errorf("%.3f fps", w.fps)
	}
}
