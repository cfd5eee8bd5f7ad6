package streams

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Reason is the stable code of why a camera could not be described.
type Reason string

// Reasons a DESCRIBE fails.
const (
	ReasonAuthFailed   Reason = "auth_failed"
	ReasonTimeout      Reason = "timeout"
	ReasonRefused      Reason = "refused"
	ReasonNotFound     Reason = "not_found"
	ReasonBadURL       Reason = "bad_url"
	ReasonBadSDP       Reason = "bad_sdp"
	ReasonNoVideoTrack Reason = "no_video_track"
	ReasonError        Reason = "error"
)

// DescribeError is a failed DESCRIBE: its reason, and a message that holds no credentials.
type DescribeError struct {
	Reason Reason
	URL    string // redacted
	Err    error
}

func (e *DescribeError) Error() string {
	return fmt.Sprintf("camera %s: describe: %s: %v", e.URL, e.Reason, e.Err)
}

func (e *DescribeError) Unwrap() error { return e.Err }

// Video is what the SDP says of a camera's video track.
type Video struct {
	Codec  string
	Width  int
	Height int
	// FPS from the SPS timing information, 0 when the camera does not send it.
	FPS float64
}

// StreamInfo is what one camera offers.
type StreamInfo struct {
	URL string // redacted
	// Video is the first video track; nil when there is none.
	Video *Video
	// Metadata tells whether an ONVIF metadata track (application/vnd.onvif.metadata) is offered.
	Metadata bool
}

// Describe sends DESCRIBE to the camera at rawURL and reports its tracks; tc checks an rtsps://
// camera's certificate (nil: the system's roots). A camera without a video track is an error
// with reason no_video_track, with the info still filled.
func Describe(ctx context.Context, rawURL string, timeout time.Duration, tc *tls.Config) (StreamInfo, error) {
	info := StreamInfo{URL: RedactURL(rawURL)}
	fail := func(r Reason, err error) (StreamInfo, error) {
		return info, &DescribeError{Reason: r, URL: info.URL, Err: scrub(err, rawURL)}
	}
	_, desc, closeAll, err := dial(ctx, rawURL, timeout, nil, nil, tc)
	if err != nil {
		var f *failure
		if errors.As(err, &f) {
			return fail(f.reason, f.err)
		}
		return fail(ReasonError, err)
	}
	defer closeAll()
	info.Video, info.Metadata, err = tracks(desc)
	switch {
	case err != nil:
		return fail(ReasonBadSDP, err)
	case info.Video == nil:
		return fail(ReasonNoVideoTrack, errors.New("the camera offers no video track"))
	}
	return info, nil
}

// dial opens an RTSP client on rawURL and describes the stream, for Describe and the camera
// sessions alike. Errors are failures with their reason; a cancelled ctx is a timeout. The
// caller closes the client with the returned func. transport nil lets gortsplib choose; tc
// (cloned: gortsplib writes the server name into it) checks an rtsps:// camera.
// gortsplib's default callbacks for decode errors and lost packets print to the standard
// logger: decode errors go to onDecodeError (nil ignores them), and loss is measured from
// sequence numbers instead (videoMeter).
func dial(ctx context.Context, rawURL string, timeout time.Duration, transport *gortsplib.Transport, onDecodeError func(error), tc *tls.Config) (*gortsplib.Client, *description.Session, func(), error) {
	u, err := base.ParseURL(rawURL)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
		return nil, nil, nil, fail(ReasonBadURL, errors.New("want rtsp://[user:password@]host[:port]/path"))
	}
	if onDecodeError == nil {
		onDecodeError = func(error) {}
	}
	// gortsplib keeps an RTSP-over-TCP session's last frame time in whole seconds and ends the
	// session when that is ReadTimeout old: with a timeout of 1 s a healthy stream is cut
	// whenever no frame has arrived yet in the current second. A second more keeps the
	// configured timeout as the least. (Silent streams are our StallTimeout's to judge.)
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: timeout + time.Second, WriteTimeout: timeout, Transport: transport,
		OnDecodeError: onDecodeError, OnPacketsLost: func(uint64) {}}
	if tc != nil {
		c.TLSConfig = tc.Clone()
	}
	if err := c.Start2(); err != nil {
		return nil, nil, nil, fail(classify(err), err)
	}
	stop := context.AfterFunc(ctx, c.Close) // the client's calls take no context
	closeAll := func() { stop(); c.Close() }
	desc, _, err := c.Describe(u)
	if err != nil {
		closeAll()
		if ctx.Err() != nil {
			return nil, nil, nil, fail(ReasonTimeout, ctx.Err())
		}
		return nil, nil, nil, fail(classify(err), err)
	}
	return c, desc, closeAll, nil
}

// tracks reads the video track's codec and resolution, and whether a metadata track is there.
func tracks(desc *description.Session) (*Video, bool, error) {
	_, vf, _, mf := tracksOf(desc)
	video, err := videoInfo(vf)
	return video, mf != nil, err
}

// videoInfo reads a video format's codec, and resolution and frame rate from its SPS; nil for
// no format.
func videoInfo(f format.Format) (*Video, error) {
	if f == nil {
		return nil, nil
	}
	v := &Video{Codec: f.Codec()}
	var err error
	switch f := f.(type) {
	case *format.H264:
		err = v.readSPS(f.SPS, &h264.SPS{})
	case *format.H265:
		err = v.readSPS(f.SPS, &h265.SPS{})
	}
	if err != nil {
		return nil, fmt.Errorf("%s SPS: %w", v.Codec, err)
	}
	return v, nil
}

// sps is what H.264 and H.265 sequence parameter sets both tell.
type sps interface {
	Unmarshal([]byte) error
	Width() int
	Height() int
	FPS() float64
}

// readSPS fills the resolution and frame rate from the SPS the SDP carries, if it carries one.
func (v *Video) readSPS(raw []byte, s sps) error {
	if raw == nil {
		return nil
	}
	if err := s.Unmarshal(raw); err != nil {
		return err
	}
	v.Width, v.Height, v.FPS = s.Width(), s.Height(), s.FPS()
	return nil
}

func classify(err error) Reason {
	var status liberrors.ErrClientBadStatusCode
	var authSetup liberrors.ErrClientAuthSetup
	var netErr net.Error
	switch {
	case errors.As(err, &status) && status.Code == base.StatusUnauthorized, errors.As(err, &authSetup):
		return ReasonAuthFailed
	case errors.As(err, &status) && status.Code == base.StatusNotFound:
		return ReasonNotFound
	case errors.As(err, &liberrors.ErrClientRequestTimedOut{}), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case strings.Contains(err.Error(), "connection refused"):
		return ReasonRefused
	case strings.Contains(err.Error(), "SDP"), strings.Contains(err.Error(), "sdp"):
		return ReasonBadSDP
	}
	return ReasonError
}

// RedactURL hides the password of a camera URL, and the user name too: both are secrets.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}

// scrub removes the URL's credentials from an error's text, wherever a library put them.
func scrub(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if err == nil || perr != nil || u.User == nil {
		return err
	}
	msg := err.Error()
	secrets := []string{u.User.String(), u.User.Username()}
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p, url.QueryEscape(p))
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "REDACTED")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
