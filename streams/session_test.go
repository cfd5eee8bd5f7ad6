package streams_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams"
)

// collector is a Sink that keeps everything, for tests to look at.
type collector struct {
	mu       sync.Mutex
	statuses []streams.CameraStatus
	events   []streams.CameraEvent
	refused  []streams.RefusedMetadata
}

func (c *collector) DeliverCamera(_ context.Context, st []streams.CameraStatus, ev []streams.CameraEvent, refused []streams.RefusedMetadata) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses = append(c.statuses, st...)
	c.events = append(c.events, ev...)
	c.refused = append(c.refused, refused...)
	return nil
}

func (c *collector) snapshot() ([]streams.CameraStatus, []streams.CameraEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]streams.CameraStatus(nil), c.statuses...), append([]streams.CameraEvent(nil), c.events...)
}

// fastStreams are settings that make every transition happen within a few seconds.
func fastStreams() config.Streams {
	s := config.Default().Streams
	s.RequestTimeout = time.Second
	s.StallTimeout = 1500 * time.Millisecond
	s.Window = 500 * time.Millisecond
	s.SampleInterval = time.Hour
	s.ProbeInterval = time.Second
	s.ProbePlay = 600 * time.Millisecond
	s.StartSpread = 0
	s.ReconnectMin = 100 * time.Millisecond
	s.ReconnectMax = 400 * time.Millisecond
	return s
}

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

func startCamera(t *testing.T, cfg camsim.Config) *camsim.Camera {
	t.Helper()
	cam, err := camsim.NewCamera(cfg, freeAddr(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// watched runs a supervisor over the catalog entries until the test ends; log gets its log.
type watched struct {
	sup  *streams.Supervisor
	sink *collector
	reg  *prometheus.Registry
	log  *bytes.Buffer
}

func watch(t *testing.T, cfg config.Streams, catalogYAML string) *watched {
	t.Helper()
	units := map[string]string{"traffic_police": "", "police": ""}
	cat, err := streams.ParseCameraCatalog([]byte(catalogYAML), units, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{sink: &collector{}, reg: prometheus.NewRegistry(), log: &bytes.Buffer{}}
	logMu := &sync.Mutex{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: w.log, mu: logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.sup = streams.NewSupervisor(cat, cfg, w.sink, w.reg, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the supervisor did not stop within 10 s of its context ending")
		}
	})
	return w
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func catalogEntry(id, url, extra string) string {
	return fmt.Sprintf(`
  - id: %s
    name: Camera %s
    url: %s
    location: {lat: 22.4979, lon: 103.9688}
    district: TP Lào Cai
    purpose: traffic
    owner_unit: traffic_police
%s`, id, id, url, extra)
}

// latest returns the supervisor's latest status of camera id.
func (w *watched) latest(id string) (streams.CameraStatus, bool) {
	for _, st := range w.sup.Latest() {
		if st.Camera == id {
			return st, true
		}
	}
	return streams.CameraStatus{}, false
}

// waitState waits until camera id's latest status has state and reason, and returns it.
func (w *watched) waitState(t *testing.T, id string, state streams.State, reason streams.Reason, within time.Duration) streams.CameraStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	var last streams.CameraStatus
	for time.Now().Before(deadline) {
		if st, ok := w.latest(id); ok {
			last = st
			if st.State == state && st.Reason == reason {
				return st
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("camera %s: not %s/%s within %s; last status: %+v", id, state, reason, within, last)
	return last
}

// measured waits for camera id's second status with packets in its window (the first window
// may have begun mid-stream) and returns it.
func (w *watched) measured(t *testing.T, id string, within time.Duration) streams.CameraStatus {
	t.Helper()
	var first time.Time
	var last streams.CameraStatus
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		st, ok := w.latest(id)
		if !ok || st.PacketsReceived == 0 {
			continue
		}
		last = st
		if first.IsZero() {
			first = st.Time
		} else if st.Time.After(first) {
			return st
		}
	}
	t.Fatalf("camera %s: no two measured windows within %s; last status: %+v", id, within, last)
	return last
}

func near(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

func TestHealthModeMeasuresAndChangesState(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-1", Width: 1280, Height: 720, FPS: 25, Keyint: 12, BitrateKbps: 800})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-1", cam.URL(),
		"    mode: health\n    expected: {codec: H264, width: 1280, height: 720, fps: 25, bitrate_kbps: 700}\n"))

	w.waitState(t, "cam-1", streams.StateOnline, "", 5*time.Second)
	st := w.measured(t, "cam-1", 10*time.Second)
	if st.Codec != "H264" || st.Width != 1280 || st.Height != 720 {
		t.Errorf("stream %s %dx%d, want H264 1280x720", st.Codec, st.Width, st.Height)
	}
	if !near(st.FPS, 25, 0.2) {
		t.Errorf("fps %.2f, want about 25", st.FPS)
	}
	if !near(st.BitrateKbps, 800, 0.25) {
		t.Errorf("bitrate %.0f kbit/s, want about 800", st.BitrateKbps)
	}
	if !near(st.KeyframeInterval, 12.0/25, 0.2) {
		t.Errorf("keyframe interval %.3f s, want about %.3f", st.KeyframeInterval, 12.0/25)
	}
	if st.PacketsReceived == 0 || st.PacketsLost != 0 || st.LastPacketAge < 0 || st.LastPacketAge > time.Second {
		t.Errorf("packets %d lost %d last packet %s ago", st.PacketsReceived, st.PacketsLost, st.LastPacketAge)
	}

	steps := []struct {
		name   string
		fault  camsim.Fault
		state  streams.State
		reason streams.Reason
	}{
		{"lower frame rate", camsim.Fault{FPS: 5}, streams.StateDegraded, streams.ReasonLowFPS},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
		{"lower bitrate", camsim.Fault{BitrateKbps: 150}, streams.StateDegraded, streams.ReasonLowBitrate},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
		{"packet loss", camsim.Fault{DropPercent: 30}, streams.StateDegraded, streams.ReasonPacketLoss},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
		{"stalled", camsim.Fault{Stall: true}, streams.StateOffline, streams.ReasonStalled},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
		{"port closed", camsim.Fault{Refuse: true}, streams.StateOffline, streams.ReasonRefused},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
		{"hung", camsim.Fault{Hang: true}, streams.StateOffline, streams.ReasonTimeout},
		{"healed", camsim.Fault{}, streams.StateOnline, ""},
	}
	for _, step := range steps {
		if err := cam.SetFault(step.fault); err != nil {
			t.Fatal(err)
		}
		// Every change is due within the stall timeout or two windows, plus a reconnect or two.
		w.waitState(t, "cam-1", step.state, step.reason, 6*time.Second)
	}

	statuses, _ := w.sink.snapshot()
	var changes []string
	for _, s := range statuses {
		if !s.Change {
			t.Errorf("a stored status that is not a change, with sample_interval 1h: %+v", s)
		}
		changes = append(changes, string(s.State)+"/"+string(s.Reason))
	}
	for _, step := range steps {
		want := string(step.state) + "/" + string(step.reason)
		if !strings.Contains(strings.Join(changes, " "), want) {
			t.Errorf("stored changes %v miss %s", changes, want)
		}
	}
}

// A camera that accepts the session and then sends nothing is offline (stalled) from the
// start and stays so across reconnects: it is never reported online between two stalls.
func TestCameraStalledFromTheStartNeverFlapsOnline(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-stall", Width: 320, Height: 240, FPS: 10})
	if err := cam.SetFault(camsim.Fault{Stall: true}); err != nil {
		t.Fatal(err)
	}
	cfg := fastStreams()
	w := watch(t, cfg, "cameras:"+catalogEntry("cam-stall", cam.URL(), "    mode: health\n"))
	w.waitState(t, "cam-stall", streams.StateOffline, streams.ReasonStalled, 5*time.Second)
	time.Sleep(3 * cfg.StallTimeout) // two more sessions, each stalling
	statuses, _ := w.sink.snapshot()
	for _, st := range statuses {
		if st.State == streams.StateOnline {
			t.Errorf("the stalled camera was reported online: %+v", st)
		}
	}
	if err := cam.SetFault(camsim.Fault{}); err != nil {
		t.Fatal(err)
	}
	w.waitState(t, "cam-stall", streams.StateOnline, "", 6*time.Second)
}

func TestWrongPasswordIsAuthFailedAndNeverLeaks(t *testing.T) {
	const secret = "Mk-9xq!secret"
	cam := startCamera(t, camsim.Config{ID: "cam-auth", Width: 320, Height: 240, FPS: 10, User: "admin", Password: "right-one"})
	good := startCamera(t, camsim.Config{ID: "cam-ok", Width: 320, Height: 240, FPS: 10, User: "admin", Password: secret})
	badURL := strings.Replace(cam.URL(), "rtsp://", "rtsp://admin:"+secret+"@", 1)
	goodURL := strings.Replace(good.URL(), "rtsp://", "rtsp://admin:"+secret+"@", 1)
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-auth", badURL, "    mode: health\n")+catalogEntry("cam-ok", goodURL, "    mode: health\n"))

	st := w.waitState(t, "cam-auth", streams.StateOffline, streams.ReasonAuthFailed, 5*time.Second)
	w.waitState(t, "cam-ok", streams.StateOnline, "", 5*time.Second)
	time.Sleep(time.Second) // a few more reconnect attempts and windows

	statuses, _ := w.sink.snapshot()
	var metrics bytes.Buffer
	families, _ := w.reg.Gather()
	for _, f := range families {
		_, _ = expfmt.MetricFamilyToText(&metrics, f)
	}
	places := map[string]string{
		"log":     w.log.String(),
		"detail":  st.Detail,
		"stored":  fmt.Sprintf("%+v", statuses),
		"latest":  fmt.Sprintf("%+v", w.sup.Latest()),
		"metrics": metrics.String(),
	}
	for where, text := range places {
		if strings.Contains(text, secret) {
			t.Errorf("the camera password appears in the %s", where)
		}
	}
	if !strings.Contains(w.log.String(), "REDACTED") {
		t.Errorf("the log names the camera by its redacted URL; log:\n%s", w.log.String())
	}
}

func TestNoVideoTrackInHealthMode(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-meta", Width: 320, Height: 240, FPS: 10, Metadata: true, NoVideo: true})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-meta", cam.URL(), "    mode: health\n"))
	w.waitState(t, "cam-meta", streams.StateOffline, streams.ReasonNoVideoTrack, 5*time.Second)
}

func TestMetadataModeReadsONVIFEvents(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-ev", Width: 640, Height: 360, FPS: 10, Metadata: true,
		MetadataInterval: 50 * time.Millisecond, Script: camsim.DefaultScript})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-ev", cam.URL(), "    mode: metadata\n"))
	st := w.waitState(t, "cam-ev", streams.StateOnline, "", 5*time.Second)
	if st.Codec != "H264" || st.Width != 640 || st.Height != 360 {
		t.Errorf("the SDP's video is %s %dx%d, want H264 640x360 even without playing it", st.Codec, st.Width, st.Height)
	}
	want := map[string]bool{"motion:true": false, "motion:false": false, "line_crossing:crossed": false,
		"object_count:17": false, "intrusion:true": false, "intrusion:false": false, "object:vehicle:24A-123.45": false, "object:person:": false}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		_, events := w.sink.snapshot()
		for _, e := range events {
			if e.Camera != "cam-ev" || e.Source != "onvif" || e.Time.IsZero() {
				t.Fatalf("event %+v", e)
			}
			key := string(e.Kind) + ":" + e.State
			if e.Kind == streams.EventObject {
				key = "object:" + e.ObjectClass + ":" + e.Plate
			}
			if _, ok := want[key]; ok {
				want[key] = true
			}
		}
		all := true
		for _, seen := range want {
			all = all && seen
		}
		if all {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no %s event", k)
		}
	}
	// Objects repeat in the script with the same ids; each is reported once.
	_, events := w.sink.snapshot()
	objects := 0
	for _, e := range events {
		if e.Kind == streams.EventObject {
			objects++
		}
	}
	if objects != 2 {
		t.Errorf("%d object events, want 2 (vehicle and person, each once)", objects)
	}
	if st, _ := w.latest("cam-ev"); st.FPS != 0 {
		t.Errorf("metadata mode measured %.1f fps: it must not set up the video track", st.FPS)
	}
}

func TestHostileMetadataDegradesOnlyItsCamera(t *testing.T) {
	bad := startCamera(t, camsim.Config{ID: "cam-bad", Width: 320, Height: 240, FPS: 10, Metadata: true, MetadataInterval: 50 * time.Millisecond})
	good := startCamera(t, camsim.Config{ID: "cam-good", Width: 320, Height: 240, FPS: 10, Metadata: true, MetadataInterval: 50 * time.Millisecond, Script: camsim.DefaultScript})
	if err := bad.SetFault(camsim.Fault{BadMetadata: true}); err != nil {
		t.Fatal(err)
	}
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-bad", bad.URL(), "")+catalogEntry("cam-good", good.URL(), ""))
	st := w.waitState(t, "cam-bad", streams.StateDegraded, streams.ReasonBadMetadata, 5*time.Second)
	if !strings.Contains(st.Detail, "DOCTYPE") {
		t.Errorf("detail %q does not say what was wrong", st.Detail)
	}
	w.waitState(t, "cam-good", streams.StateOnline, "", 5*time.Second)
	// each refused document reaches the sink for the dead letters, with its reason and bytes
	var refused []streams.RefusedMetadata
	for deadline := time.Now().Add(5 * time.Second); len(refused) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w.sink.mu.Lock()
		refused = append([]streams.RefusedMetadata(nil), w.sink.refused...)
		w.sink.mu.Unlock()
	}
	if len(refused) == 0 {
		t.Fatal("no refused document reached the sink")
	}
	if r := refused[0]; r.Camera != "cam-bad" || r.Reason != streams.RefusedMalformed || !strings.Contains(r.Detail, "DOCTYPE") ||
		!strings.Contains(string(r.Document), "DOCTYPE") || r.Size != len(r.Document) || strings.Contains(r.Detail, "rtsp://") {
		t.Errorf("refused document %+v", r)
	}
	if err := bad.SetFault(camsim.Fault{}); err != nil {
		t.Fatal(err)
	}
	w.waitState(t, "cam-bad", streams.StateOnline, "", 5*time.Second)
}

func TestMetadataModeWithoutTrackIsProbed(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-plain", Width: 320, Height: 240, FPS: 10})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-plain", cam.URL(), ""))
	st := w.waitState(t, "cam-plain", streams.StateOnline, "", 5*time.Second)
	if st.Mode != streams.ModeProbe {
		t.Errorf("mode %s, want probe for a camera without a metadata track", st.Mode)
	}
}

func TestProbeMode(t *testing.T) {
	cam := startCamera(t, camsim.Config{ID: "cam-p", Width: 320, Height: 240, FPS: 15})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-p", cam.URL(), "    mode: probe\n"))
	st := w.waitState(t, "cam-p", streams.StateOnline, "", 5*time.Second)
	if !near(st.FPS, 15, 0.25) || st.Width != 320 {
		t.Errorf("probe measured %.1f fps at %dx%d, want about 15 at 320x240", st.FPS, st.Width, st.Height)
	}
	if err := cam.SetFault(camsim.Fault{Refuse: true}); err != nil {
		t.Fatal(err)
	}
	w.waitState(t, "cam-p", streams.StateOffline, streams.ReasonRefused, 5*time.Second)
	if err := cam.SetFault(camsim.Fault{}); err != nil {
		t.Fatal(err)
	}
	w.waitState(t, "cam-p", streams.StateOnline, "", 5*time.Second)
}

// Reload starts new cameras, stops removed ones and restarts changed ones; the others run on.
func TestReloadChangesOnlyWhatChanged(t *testing.T) {
	a := startCamera(t, camsim.Config{ID: "cam-a", Width: 320, Height: 240, FPS: 10})
	b := startCamera(t, camsim.Config{ID: "cam-b", Width: 320, Height: 240, FPS: 10})
	w := watch(t, fastStreams(), "cameras:"+catalogEntry("cam-a", a.URL(), "    mode: health\n"))
	first := w.waitState(t, "cam-a", streams.StateOnline, "", 5*time.Second)
	parse := func(yaml string) *streams.CameraCatalog {
		cat, err := streams.ParseCameraCatalog([]byte(yaml), map[string]string{"traffic_police": ""}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}

	started, stopped, restarted := w.sup.Reload(parse("cameras:" + catalogEntry("cam-a", a.URL(), "    mode: health\n") + catalogEntry("cam-b", b.URL(), "    mode: probe\n")))
	if started != 1 || stopped != 0 || restarted != 0 {
		t.Errorf("adding cam-b: started %d, stopped %d, restarted %d", started, stopped, restarted)
	}
	w.waitState(t, "cam-b", streams.StateOnline, "", 5*time.Second)
	if st, _ := w.latest("cam-a"); !st.Since.Equal(first.Since) {
		t.Errorf("cam-a was restarted (online since %s, then %s)", first.Since, st.Since)
	}

	started, stopped, restarted = w.sup.Reload(parse("cameras:" + catalogEntry("cam-b", b.URL(), "    mode: health\n")))
	if started != 0 || stopped != 1 || restarted != 1 {
		t.Errorf("removing cam-a, changing cam-b: started %d, stopped %d, restarted %d", started, stopped, restarted)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := w.latest("cam-b")
		_, aThere := w.latest("cam-a")
		if ok && st.Mode == streams.ModeHealth && st.State == streams.StateOnline && !aThere {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reload: cam-b %+v, cam-a still listed %t", st, aThere)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
