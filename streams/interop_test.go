package streams_test

import (
	"bufio"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

// A third-party RTSP server, GStreamer's gst-rtsp-server streaming x264: Describe and a
// health-mode session report its codec, resolution and frame rate.
func TestGStreamerRTSPServer(t *testing.T) {
	testenv.Integration(t)
	const python = "/usr/bin/python3" // Debian's, with python3-gi
	if out, err := exec.Command(python, "-c", `import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer`).CombinedOutput(); err != nil {
		t.Fatalf("GStreamer's RTSP server is not installed (%v: %s): `deploy/local/services.sh start` installs "+
			"python3-gi, gir1.2-gst-rtsp-server-1.0 and gstreamer1.0-plugins-ugly (make test runs it)", err, strings.TrimSpace(string(out)))
	}
	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, python, "testdata/gst_rtsp_server.py", port, "640", "480", "15")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() { ready <- bufio.NewScanner(stdout).Scan() }()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the GStreamer RTSP server exited before it was ready")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the GStreamer RTSP server was not ready within 20 s")
	}
	url := "rtsp://" + addr + "/test"

	info, err := streams.Describe(context.Background(), url, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Video == nil || info.Video.Codec != "H264" || info.Video.Width != 640 || info.Video.Height != 480 {
		t.Fatalf("described %+v, want H264 640x480", info.Video)
	}

	w := watch(t, fastStreams(), "cameras:"+catalogEntry("gst", url, "    mode: health\n"))
	w.waitState(t, "gst", streams.StateOnline, "", 15*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	var st streams.CameraStatus
	for time.Now().Before(deadline) {
		st, _ = w.latest("gst")
		if near(st.FPS, 15, 0.2) && st.KeyframeInterval > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Codec != "H264" || st.Width != 640 || st.Height != 480 || !near(st.FPS, 15, 0.2) {
		t.Errorf("measured %s %dx%d at %.1f fps, want H264 640x480 at 15", st.Codec, st.Width, st.Height, st.FPS)
	}
	if !near(st.KeyframeInterval, 2, 0.3) {
		t.Errorf("keyframe interval %.2f s, want about 2 (key-int-max 30 at 15 fps)", st.KeyframeInterval)
	}

	// A second viewer joins the shared pipeline (ffmpeg, for 3 s): the server's RTP clock
	// for our session may jump, which must not make a healthy camera degraded or low_fps, nor
	// give it an absurd keyframe interval.
	viewer := exec.Command("ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "3", "-f", "null", "-")
	var viewerOut strings.Builder
	viewer.Stdout, viewer.Stderr = &viewerOut, &viewerOut
	if err := viewer.Start(); err != nil {
		t.Fatalf("the second viewer (ffmpeg): %v", err)
	}
	viewerDone := make(chan error, 1)
	go func() { viewerDone <- viewer.Wait() }()
	var until time.Time // two seconds of windows after the viewer left
	seen := 0
	for until.IsZero() || time.Now().Before(until) {
		select {
		case err := <-viewerDone:
			if err != nil {
				t.Fatalf("the second viewer (ffmpeg) failed: %v: %s", err, viewerOut.String())
			}
			until = time.Now().Add(2 * time.Second)
		case <-time.After(100 * time.Millisecond):
		}
		st, _ := w.latest("gst")
		seen++
		if st.State != streams.StateOnline || st.KeyframeInterval > 10 || !near(st.FPS, 15, 0.3) {
			t.Fatalf("while a second viewer joined: %s/%s at %.3f fps, keyframe interval %.1f s; want online at about 15 fps",
				st.State, st.Reason, st.FPS, st.KeyframeInterval)
		}
	}
	t.Logf("%d statuses looked at while a second viewer came and went", seen)

	// MediaMTX re-streams the third-party server as a catalog camera: its path, then the video
	m := testenv.StartMediaMTX(t, testenv.MediaMTXOptions{})
	cat, err := streams.ParseCameraCatalog([]byte("cameras:"+catalogEntry("gst", url, "")), map[string]string{"traffic_police": "", "police": ""}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mediamtx.NewSyncer(&mediamtx.Client{Base: m.API}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).Sync(context.Background(), cat.Cameras); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Read(mediamtx.PathOf("gst"), "", "", 2*time.Second); err != nil || n < 10 {
		t.Errorf("GStreamer's camera through MediaMTX: %d RTP packets in 2 s, %v\n%s", n, err, m.Log.String())
	}
}
