package streams

import "testing"

func TestJudge(t *testing.T) {
	lim := Limits{DegradedShare: 0.5, MaxLoss: 0.05}
	exp := Expected{Codec: "H264", Width: 1920, Height: 1080, FPS: 25, BitrateKbps: 4000}
	healthy := CameraStatus{Codec: "H264", Width: 1920, Height: 1080, FPS: 24.8, BitrateKbps: 3900, PacketsReceived: 1000}
	cases := []struct {
		name   string
		edit   func(*CameraStatus)
		exp    Expected
		spsFPS float64
		state  State
		reason Reason
	}{
		{"healthy", func(*CameraStatus) {}, exp, 0, StateOnline, ""},
		{"H.265 where H.264 is expected", func(s *CameraStatus) { s.Codec = "H265" }, exp, 0, StateDegraded, ReasonWrongCodec},
		{"the substream instead of the main stream", func(s *CameraStatus) { s.Width, s.Height = 640, 360 }, exp, 0, StateDegraded, ReasonWrongResolution},
		{"half the frame rate is still enough", func(s *CameraStatus) { s.FPS = 12.5 }, exp, 0, StateOnline, ""},
		{"under half the frame rate", func(s *CameraStatus) { s.FPS = 12 }, exp, 0, StateDegraded, ReasonLowFPS},
		{"frame rate against the SPS when the catalog gives none", func(s *CameraStatus) { s.FPS = 6 }, Expected{}, 15, StateDegraded, ReasonLowFPS},
		{"no expectation, no SPS rate", func(s *CameraStatus) { s.FPS = 1 }, Expected{}, 0, StateOnline, ""},
		{"low bitrate", func(s *CameraStatus) { s.BitrateKbps = 1500 }, exp, 0, StateDegraded, ReasonLowBitrate},
		{"loss over the limit", func(s *CameraStatus) { s.PacketsLost = 60 }, exp, 0, StateDegraded, ReasonPacketLoss},
		{"loss at the limit", func(s *CameraStatus) { s.PacketsReceived, s.PacketsLost = 950, 50 }, exp, 0, StateOnline, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := healthy
			c.edit(&st)
			state, reason, detail := judge(&st, c.exp, c.spsFPS, lim)
			if state != c.state || reason != c.reason || (reason != "" && detail == "") {
				t.Errorf("judge = %s %s %q, want %s %s", state, reason, detail, c.state, c.reason)
			}
		})
	}
}
