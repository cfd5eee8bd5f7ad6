package testenv

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// MediaMTX is a MediaMTX server of one test's own on free loopback ports, started from the
// binary deploy/local/mediamtx.sh builds from MediaMTX's Go module; stopped when the test ends.
type MediaMTX struct {
	// API is the control API's base URL; RTSP the RTSP server's host:port; WebRTC the WebRTC
	// (WHEP) server's base URL and Playback the playback server's when started with them.
	API, RTSP, WebRTC, HLS, Playback string
	Log                              *LogBuffer
}

// MediaMTXOptions change a test's MediaMTX.
type MediaMTXOptions struct {
	// Extra is YAML appended to its configuration (authentication, recording).
	Extra string
	// WebRTC serves WHEP on loopback (HTTP and ICE over UDP on free ports), HTTP on WebRTCPort
	// when set (a page that must name it beforehand).
	WebRTC     bool
	WebRTCPort int
	// HLS serves low-latency HLS on loopback, on HLSPort when set.
	HLS     bool
	HLSPort int
	// Record keeps the recordings in the test's temporary folder (in parts of 200 ms) and
	// serves them on a playback server (MediaMTX.Playback).
	Record bool
}

// MediaMTXBinary is the MediaMTX the tests run: IOC_TEST_MEDIAMTX, or the one
// deploy/local/mediamtx.sh built. A missing binary fails the test with how to build it.
func MediaMTXBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IOC_TEST_MEDIAMTX"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(repo, ".data", "tools", "mediamtx-v1.15.3", "mediamtx")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no MediaMTX at %s: run the tests with `make test` (deploy/local/services.sh builds it), or build it with `deploy/local/mediamtx.sh build`, or set IOC_TEST_MEDIAMTX", bin)
	}
	return bin
}

// StartMediaMTX starts a MediaMTX with its control API and RTSP server on loopback.
func StartMediaMTX(t testing.TB, o MediaMTXOptions) *MediaMTX {
	t.Helper()
	Integration(t)
	bin := MediaMTXBinary(t)
	dir := t.TempDir()
	api, rtsp := FreePort(t), FreePort(t)
	webrtc, webrtcURL := "webrtc: no\n", ""
	if o.WebRTC {
		http, udp := o.WebRTCPort, FreePort(t)
		if http == 0 {
			http = FreePort(t)
		}
		webrtcURL = fmt.Sprintf("http://127.0.0.1:%d", http)
		webrtc = fmt.Sprintf("webrtc: yes\nwebrtcAddress: 127.0.0.1:%d\nwebrtcLocalUDPAddress: 127.0.0.1:%d\nwebrtcIPsFromInterfaces: no\nwebrtcAdditionalHosts: [127.0.0.1]\n", http, udp)
	}
	hls, hlsURL := "hls: no\n", ""
	if o.HLS {
		port := o.HLSPort
		if port == 0 {
			port = FreePort(t)
		}
		hlsURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		hls = fmt.Sprintf("hls: yes\nhlsAddress: 127.0.0.1:%d\nhlsVariant: lowLatency\n", port)
	}
	record, playbackURL := "", ""
	if o.Record {
		port := FreePort(t)
		playbackURL = fmt.Sprintf("http://127.0.0.1:%d", port)
		record = fmt.Sprintf("playback: yes\nplaybackAddress: 127.0.0.1:%d\npathDefaults:\n  recordPath: %s/%%path/%%Y-%%m-%%d_%%H-%%M-%%S-%%f\n  recordPartDuration: 200ms\n",
			port, filepath.Join(dir, "recordings"))
	}
	conf := fmt.Sprintf(`logLevel: info
logDestinations: [stdout]
api: yes
apiAddress: 127.0.0.1:%d
rtsp: yes
rtspTransports: [tcp]
rtspAddress: 127.0.0.1:%d
rtmp: no
%s%ssrt: no
paths: {}
%s%s`, api, rtsp, hls, webrtc, record, o.Extra)
	path := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &MediaMTX{API: fmt.Sprintf("http://127.0.0.1:%d", api), RTSP: fmt.Sprintf("127.0.0.1:%d", rtsp), WebRTC: webrtcURL, HLS: hlsURL, Playback: playbackURL, Log: &LogBuffer{}}
	startServer(t, "MediaMTX", "MediaMTX's API at "+m.API, bin, []string{path}, dir, m.Log, 15*time.Second, func() bool {
		resp, err := http.Get(m.API + "/v3/config/global/get")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return m
}

// Read plays MediaMTX's path over RTSP (TCP) for a moment, with user and password when not
// empty, and returns how many RTP packets came; an error when MediaMTX refuses or the path
// does not play.
func (m *MediaMTX) Read(path, user, password string, d time.Duration) (int, error) {
	u := &url.URL{Scheme: "rtsp", Host: m.RTSP, Path: "/" + path}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	bu, err := base.ParseURL(u.String())
	if err != nil {
		return 0, err
	}
	tcp := gortsplib.TransportTCP
	c := gortsplib.Client{Scheme: bu.Scheme, Host: bu.Host, Transport: &tcp}
	if err := c.Start2(); err != nil {
		return 0, err
	}
	defer c.Close()
	desc, _, err := c.Describe(bu)
	if err != nil {
		return 0, err
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return 0, err
	}
	var n atomic.Int64
	c.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) { n.Add(1) })
	if _, err := c.Play(nil); err != nil {
		return 0, err
	}
	time.Sleep(d)
	return int(n.Load()), nil
}
