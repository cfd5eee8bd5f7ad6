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
