package streams

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// An H.264 SPS of a 1920x1080 stream (the one gortsplib's own tests use).
var sps1080p = []byte{
	0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
	0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
}

const (
	camUser = "admin"
	camPass = "s3cr3t-P@ss"
)

// camera is an in-process RTSP server: /cam (H.264 + ONVIF metadata), /private (the same,
// behind credentials), /audio-only (no video).
type camera struct {
	srv     *gortsplib.Server
	video   *gortsplib.ServerStream
	noVideo *gortsplib.ServerStream
}

func (c *camera) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	switch ctx.Path {
	case "/cam":
		return &base.Response{StatusCode: base.StatusOK}, c.video, nil
	case "/private":
		if !ctx.Conn.VerifyCredentials(ctx.Request, camUser, camPass) {
			return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
		}
		return &base.Response{StatusCode: base.StatusOK}, c.video, nil
	case "/audio-only":
		return &base.Response{StatusCode: base.StatusOK}, c.noVideo, nil
	}
	return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
}

func startCamera(t *testing.T) string {
	t.Helper()
	return startCameraTLS(t, nil)
}

// startCameraTLS starts the camera serving RTSPS with tc (plain RTSP when nil).
func startCameraTLS(t *testing.T, tc *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &camera{}
	c.srv = &gortsplib.Server{Handler: c, RTSPAddress: addr, TLSConfig: tc}
	if err := c.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.srv.Close)
	c.video = &gortsplib.ServerStream{Server: c.srv, Desc: &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, SPS: sps1080p,
			PPS: []byte{0x68, 0xce, 0x3c, 0x80}, PacketizationMode: 1}}},
		{Type: description.MediaTypeApplication, Formats: []format.Format{&format.Generic{PayloadTyp: 107,
			RTPMa: "vnd.onvif.metadata/90000", ClockRat: 90000}}},
	}}}
	c.noVideo = &gortsplib.ServerStream{Server: c.srv, Desc: &description.Session{Medias: []*description.Media{
		{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}}},
	}}}
	for _, st := range []*gortsplib.ServerStream{c.video, c.noVideo} {
		if err := st.Initialize(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
	}
	return addr
}

func TestDescribe(t *testing.T) {
	addr := startCamera(t)
	ctx := context.Background()

	info, err := Describe(ctx, "rtsp://"+addr+"/cam", 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Video == nil || info.Video.Codec != "H264" || info.Video.Width != 1920 || info.Video.Height != 1080 || !info.Metadata {
		t.Fatalf("info = %+v video %+v", info, info.Video)
	}

	info, err = Describe(ctx, "rtsp://"+camUser+":"+camPass+"@"+addr+"/private", 5*time.Second, nil)
	if err != nil || info.Video == nil || info.Video.Width != 1920 {
		t.Fatalf("with credentials: %+v, %v", info, err)
	}
	if strings.Contains(info.URL, camPass) || strings.Contains(info.URL, camUser) {
		t.Fatalf("reported URL leaks credentials: %s", info.URL)
	}
}

func TestDescribeFailuresHaveReasonsAndNoSecrets(t *testing.T) {
	addr := startCamera(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	cred := "rtsp://" + camUser + ":" + camPass + "@"
	tests := []struct {
		url  string
		want Reason
	}{
		{cred[:len(cred)-len(camPass)-1] + ":wrong@" + addr + "/private", ReasonAuthFailed},
		{"rtsp://" + addr + "/private", ReasonAuthFailed},
		{cred + addr + "/nope", ReasonNotFound},
		{cred + addr + "/audio-only", ReasonNoVideoTrack},
		{cred + silent.Addr().String() + "/cam", ReasonTimeout},
		{cred + closedAddr + "/cam", ReasonRefused},
		{"http://" + camUser + ":" + camPass + "@" + addr + "/cam", ReasonBadURL},
	}
	for _, tt := range tests {
		t.Run(string(tt.want), func(t *testing.T) {
			_, err := Describe(context.Background(), tt.url, 500*time.Millisecond, nil)
			var de *DescribeError
			if !errors.As(err, &de) || de.Reason != tt.want {
				t.Fatalf("err = %v, want reason %s", err, tt.want)
			}
			if strings.Contains(err.Error(), camPass) || strings.Contains(err.Error(), camUser+":") {
				t.Fatalf("error leaks credentials: %v", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://admin:pa%40ss@10.1.2.3:554/Streaming/Channels/101": "rtsp://REDACTED@10.1.2.3:554/Streaming/Channels/101",
		"rtsp://10.1.2.3/live":      "rtsp://10.1.2.3/live",
		"rtsp://only-user@cam/live": "rtsp://REDACTED@cam/live",
		"rtsp://a b:c@%zz":          "(unparseable URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// An rtsps:// camera is described through TLS when its certificate's authority is trusted, and
// refused, naming the CA file, when it is not.
func TestDescribeRTSPS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.NewAuthority("camera CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile, _ := ca.WriteCA(dir)
	leaf, err := ca.Issue("camera", []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, _ := leaf.Write(dir, "camera")
	server, err := tlsconf.Load("camera", config.TLS{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	stc, _ := server.Server()
	addr := startCameraTLS(t, stc)

	trusting, err := tlsconf.Load("streams.tls", config.TLS{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	info, err := Describe(context.Background(), "rtsps://"+addr+"/cam", 5*time.Second, trusting.Client())
	if err != nil || info.Video == nil || info.Video.Width != 1920 {
		t.Fatalf("rtsps with the camera's CA: %+v, %v", info, err)
	}
	other, _ := tlsconf.NewAuthority("other", time.Hour)
	otherFile, _ := other.WriteCA(t.TempDir())
	stranger, _ := tlsconf.Load("streams.tls", config.TLS{CAFile: otherFile})
	if _, err := Describe(context.Background(), "rtsps://"+addr+"/cam", 5*time.Second, stranger.Client()); err == nil || !strings.Contains(err.Error(), "is not signed by "+otherFile) {
		t.Errorf("rtsps with another CA: %v", err)
	}
}
