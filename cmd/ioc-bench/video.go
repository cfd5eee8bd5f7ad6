package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

type videoOptions struct {
	IOC, MediaMTX, Chromium, ClickHouse string
	Cameras, Rounds                     int
	Measure                             time.Duration
	BasePort                            int
}

// benchVideo opens the camera wall's 4 × 4 page in Chromium (16 live tiles at once, WebRTC
// through MediaMTX, each with ioc's token, MediaMTX asking ioc about each) and times each
// tile's first decoded frame, against the reference of the same cameras read straight over
// RTSP to their first keyframe, opened together; then measures MediaMTX's and ioc's CPU with
// the 16 viewers watching.
func benchVideo(ctx context.Context, o videoOptions) error {
	dir, err := os.MkdirTemp("", "ioc-bench-video-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fleet, err := camsim.StartFleet(camsim.FleetConfig{Count: o.Cameras, Host: "127.0.0.1", BasePort: o.BasePort, IDPrefix: "video-cam",
		Camera: camsim.Config{Width: 640, Height: 360, FPS: 15, Keyint: 15, BitrateKbps: 512}}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer fleet.Close()
	catalog := filepath.Join(dir, "cameras.yaml")
	if err := os.WriteFile(catalog, fleet.CatalogYAML("probe"), 0o600); err != nil {
		return err
	}
	ports := make([]string, 6)
	for i := range ports {
		if ports[i], err = freeAddr(); err != nil {
			return err
		}
	}
	listen, mtxAPI, mtxRTSP, mtxWebRTC, mtxICE := ports[0], ports[1], ports[2], ports[3], ports[4]
	mtxConf := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(mtxConf, fmt.Appendf(nil, `logLevel: warn
api: yes
apiAddress: %s
rtsp: yes
rtspTransports: [tcp]
rtspAddress: %s
webrtc: yes
webrtcAddress: %s
webrtcLocalUDPAddress: %s
webrtcIPsFromInterfaces: no
webrtcAdditionalHosts: [127.0.0.1]
rtmp: no
hls: no
srt: no
authMethod: http
authHTTPAddress: http://%s/api/v1/video/auth
authHTTPExclude: [{action: api}, {action: metrics}, {action: pprof}]
paths: {}
`, mtxAPI, mtxRTSP, mtxWebRTC, mtxICE, listen), 0o600); err != nil {
		return err
	}
	mtx := exec.CommandContext(ctx, o.MediaMTX, mtxConf)
	mtx.Stdout, mtx.Stderr = os.Stderr, os.Stderr
	if err := mtx.Start(); err != nil {
		return fmt.Errorf("start MediaMTX %s (deploy/local/mediamtx.sh build): %w", o.MediaMTX, err)
	}
	defer func() { _ = mtx.Process.Signal(syscall.SIGTERM); _ = mtx.Wait() }()

	token := "bench-video-" + randomID()
	cfgPath := filepath.Join(dir, "ioc.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, `roles: [streams, dashboard]
log: {level: warn}
clickhouse: {addr: %q, database: bench_video}
writer:
  spool: {dir: %q}
streams:
  catalog: %q
  mode: probe
  start_spread: 1s
  mediamtx: {api: "http://%s", webrtc_url: "http://%s"}
http:
  listen: %q
  auth:
    api_keys: [{id: bench, name: Bench, role: operator, hash: %q}]
`, o.ClickHouse, filepath.Join(dir, "spool"), catalog, mtxAPI, mtxWebRTC, listen, auth.HashToken(token)), 0o600); err != nil {
		return err
	}
	ioc, err := startServe(ctx, o.IOC, cfgPath, listen)
	if err != nil {
		return err
	}
	defer stopServe(ioc)
	mc := &mediamtx.Client{Base: "http://" + mtxAPI}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		paths, err := mc.Paths(ctx)
		if err == nil && len(paths) == o.Cameras {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MediaMTX has %d of %d camera paths after 30 s (%v)", len(paths), o.Cameras, err)
		}
	}

	bctx, cancel := browser(ctx, o.Chromium)
	defer cancel()
	base := "http://" + listen + "/"
	if err := chromedp.Run(bctx,
		chromedp.Navigate(base),
		chromedp.Evaluate(fmt.Sprintf(`sessionStorage.setItem('ioc.token', %q); true`, token), nil),
		chromedp.Navigate(base+"#cameras"),
		chromedp.Reload(),
		chromedp.Poll(fmt.Sprintf(`document.querySelectorAll('#wall [data-live-cam]').length === %d`, o.Cameras), nil, chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		return fmt.Errorf("the camera wall: %w", err)
	}
	var ours, ref []float64
	for round := 0; round < o.Rounds; round++ {
		got, err := firstFrames(bctx, o.Cameras)
		if err != nil {
			return fmt.Errorf("round %d: %w", round+1, err)
		}
		ours = append(ours, got...)
		r, err := firstKeyframes(ctx, fleet, o.Cameras)
		if err != nil {
			return fmt.Errorf("round %d, reference: %w", round+1, err)
		}
		ref = append(ref, r...)
		fmt.Fprintf(os.Stderr, "round %d: first frames p50 %.0f ms, p99 %.0f ms; RTSP keyframes p50 %.0f ms\n", round+1, pct(got, 50), pct(got, 99), pct(r, 50))
	}
	// the 16 viewers watching: MediaMTX's and ioc's CPU
	if err := chromedp.Run(bctx, chromedp.Evaluate(`(() => { const l = document.querySelector('#wall-layout'); l.value = '4'; l.dispatchEvent(new Event('change')); return true; })()`, nil)); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	m0, i0, t0 := cpuSeconds(mtx.Process.Pid), cpuSeconds(ioc.Process.Pid), time.Now()
	time.Sleep(o.Measure)
	m1, i1, t1 := cpuSeconds(mtx.Process.Pid), cpuSeconds(ioc.Process.Pid), time.Now()
	var playing int
	if err := chromedp.Run(bctx, chromedp.Evaluate(`[...document.querySelectorAll('#wall video.live')].filter((v) => v.getVideoPlaybackQuality().totalVideoFrames > 0).length`, &playing)); err != nil {
		return err
	}
	el := t1.Sub(t0).Seconds()
	fmt.Printf("RESULT bench=video-first-frame value=%.0f unit=ms ratio=%.2f reference=%.0f p50=%.0f p99=%.0f reference_p50=%.0f tiles=%d rounds=%d "+
		"playing=%d cpu_cores_mediamtx=%.3f cpu_cores_ioc=%.3f\n", pct(ours, 99), pct(ours, 99)/pct(ref, 99), pct(ref, 99), pct(ours, 50), pct(ours, 99),
		pct(ref, 50), o.Cameras, o.Rounds, playing, (m1-m0)/el, (i1-i0)/el)
	return nil
}

// browser is a headless Chromium (Debian's) for the benchmark.
func browser(ctx context.Context, exe string) (context.Context, context.CancelFunc) {
	actx, cancelA := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.WindowSize(1920, 1080), chromedp.NoSandbox, chromedp.Flag("headless", "new"))...)
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if !strings.Contains(format, "unhandled") { // CDP events newer than chromedp's table
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}))
	return bctx, func() { cancelB(); cancelA() }
}

// firstFrames stops what plays, opens the 4 × 4 page and returns each tile's time (ms) from the
// page's change to its first decoded frame.
func firstFrames(ctx context.Context, n int) ([]float64, error) {
	const js = `new Promise((done) => {
  for (const id of [...S.playing.keys()]) stopLive(id);
  S.liveErrors.clear();
  const l = document.querySelector('#wall-layout'); l.value = '0'; l.dispatchEvent(new Event('change'));
  const t0 = performance.now(), first = {};
  l.value = '4'; l.dispatchEvent(new Event('change'));
  const tick = setInterval(() => {
    for (const v of document.querySelectorAll('#wall video.live')) {
      const id = v.closest('.cam').dataset.camera;
      if (!(id in first) && v.getVideoPlaybackQuality().totalVideoFrames > 0) first[id] = performance.now() - t0;
    }
    if (Object.keys(first).length >= %d || performance.now() - t0 > 20000) { clearInterval(tick); done(JSON.stringify(first)); }
  }, 5);
})`
	var out string
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(js, n), &out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
		return nil, err
	}
	var first map[string]float64
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		return nil, err
	}
	if len(first) < n {
		return nil, fmt.Errorf("%d of %d tiles showed a frame within 20 s", len(first), n)
	}
	ms := make([]float64, 0, n)
	for _, v := range first {
		ms = append(ms, v)
	}
	return ms, nil
}

// firstKeyframes reads the cameras straight over RTSP, all together, and returns each one's
// time (ms) from the DESCRIBE to its first keyframe: the floor of any player's first frame.
func firstKeyframes(ctx context.Context, fleet *camsim.Fleet, n int) ([]float64, error) {
	out := make([]float64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range fleet.Cameras[:n] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = firstKeyframe(ctx, c.URL())
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func firstKeyframe(ctx context.Context, raw string) (float64, error) {
	u, err := base.ParseURL(raw)
	if err != nil {
		return 0, err
	}
	tcp := gortsplib.TransportTCP
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	start := time.Now()
	if err := c.Start2(); err != nil {
		return 0, err
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return 0, err
	}
	var f *format.H264
	media := desc.FindFormat(&f)
	if media == nil {
		return 0, fmt.Errorf("%s: no H.264 track", raw)
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		return 0, err
	}
	if _, err := c.Setup(desc.BaseURL, media, 0, 0); err != nil {
		return 0, err
	}
	got := make(chan time.Time, 1)
	c.OnPacketRTP(media, f, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if err == nil && h264.IsRandomAccess(au) {
			select {
			case got <- time.Now():
			default:
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return 0, err
	}
	select {
	case t := <-got:
		return float64(t.Sub(start).Microseconds()) / 1000, nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%s: no keyframe in 10 s", raw)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// pct is the p-th percentile (nearest rank) of xs.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// chromiumPath is Debian's Chromium, or IOC_TEST_CHROMIUM.
func chromiumPath() string {
	if p := os.Getenv("IOC_TEST_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return "chromium"
}
