package streams

import (
	"context"
	"fmt"
	"time"
)

// State is a camera's health as operators see it.
type State string

// Camera states.
const (
	StateOnline   State = "online"
	StateDegraded State = "degraded"
	StateOffline  State = "offline"
)

// Reasons a camera is degraded or offline, beside those a DESCRIBE gives.
const (
	ReasonStalled          Reason = "stalled"
	ReasonLowFPS           Reason = "low_fps"
	ReasonLowBitrate       Reason = "low_bitrate"
	ReasonPacketLoss       Reason = "packet_loss"
	ReasonWrongCodec       Reason = "wrong_codec"
	ReasonWrongResolution  Reason = "wrong_resolution"
	ReasonBadMetadata      Reason = "bad_metadata"
	ReasonNoMetadataTrack  Reason = "no_metadata_track"
	ReasonSessionEnded     Reason = "session_ended"
	ReasonSessionRejected  Reason = "session_rejected"
	ReasonUnsupportedCodec Reason = "unsupported_codec"
)

// CameraStatus is one camera's state and stream health at one time: stored on every state
// change and every sample interval.
type CameraStatus struct {
	Time   time.Time
	Camera string
	State  State
	// Reason says why the camera is degraded or offline; empty when online.
	Reason Reason
	// Detail is a human-readable explanation; it never holds credentials.
	Detail string
	// Change is true when State or Reason differ from the previous status.
	Change bool
	// Since is when the camera entered State.
	Since time.Time
	Mode  string
	// What the stream is: from the SDP and SPS, then from the packets.
	Codec         string
	Width, Height int
	// Measured over the last window (health and probe modes).
	FPS         float64
	BitrateKbps float64
	// KeyframeInterval is the time between the last two keyframes, in seconds.
	KeyframeInterval float64
	PacketsReceived  uint64 // in the window
	PacketsLost      uint64 // in the window
	JitterMs         float64
	// LastPacketAge is the time since the last RTP packet arrived; -1 when none has.
	LastPacketAge time.Duration
}

// LossRatio is the share of packets lost in the window.
func (s *CameraStatus) LossRatio() float64 {
	if total := s.PacketsReceived + s.PacketsLost; total > 0 {
		return float64(s.PacketsLost) / float64(total)
	}
	return 0
}

// Sink stores what the camera sessions report: statuses, events, and the metadata documents
// they refused (for the dead letters). DeliverCamera may block while the sink is full and
// returns ctx's error when ctx ends first.
type Sink interface {
	DeliverCamera(ctx context.Context, statuses []CameraStatus, events []CameraEvent, refused []RefusedMetadata) error
}

// Limits are what a healthy stream must reach.
type Limits struct {
	// DegradedShare of the expected frame rate and bitrate is the least a healthy stream has.
	DegradedShare float64
	// MaxLoss is the largest share of lost packets a healthy stream has.
	MaxLoss float64
}

// judge says whether a measured window of a playing video stream is healthy: the frame rate
// and bitrate against what exp (or, for the frame rate, the SPS) expects, the loss, and the
// codec and resolution against the catalog.
func judge(s *CameraStatus, exp Expected, spsFPS float64, lim Limits) (State, Reason, string) {
	if exp.Codec != "" && s.Codec != "" && exp.Codec != s.Codec {
		return StateDegraded, ReasonWrongCodec, fmt.Sprintf("codec %s, the catalog expects %s", s.Codec, exp.Codec)
	}
	if exp.Width > 0 && exp.Height > 0 && s.Width > 0 && (s.Width != exp.Width || s.Height != exp.Height) {
		return StateDegraded, ReasonWrongResolution, fmt.Sprintf("resolution %dx%d, the catalog expects %dx%d", s.Width, s.Height, exp.Width, exp.Height)
	}
	wantFPS := exp.FPS
	if wantFPS == 0 {
		wantFPS = spsFPS
	}
	if wantFPS > 0 && s.FPS < lim.DegradedShare*wantFPS {
		return StateDegraded, ReasonLowFPS, fmt.Sprintf("%.1f frames/s, expected %g", s.FPS, wantFPS)
	}
	if exp.BitrateKbps > 0 && s.BitrateKbps < lim.DegradedShare*exp.BitrateKbps {
		return StateDegraded, ReasonLowBitrate, fmt.Sprintf("%.0f kbit/s, expected %g", s.BitrateKbps, exp.BitrateKbps)
	}
	if loss := s.LossRatio(); loss > lim.MaxLoss {
		return StateDegraded, ReasonPacketLoss, fmt.Sprintf("%.1f%% of RTP packets lost", 100*loss)
	}
	return StateOnline, "", ""
}
