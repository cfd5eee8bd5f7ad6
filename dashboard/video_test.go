package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
	"github.com/haidang-ioc/ioc/streams/snapshot"
)

// videoFixture is the API fixture with a police camera (a simulated one, password
// videoPassword) and another that does not answer, re-streamed by a real MediaMTX that asks the
// fixture's server (served at the address it returns) about every reader; with webrtc, MediaMTX serves WHEP and the UI plays it.
func videoFixture(t *testing.T, webrtc, record bool) (*fixture, string, *testenv.MediaMTX, *mediamtx.Tokens) {
	return videoFixtureHLS(t, webrtc, false, record)
}

// videoFixtureHLS is videoFixture, with MediaMTX serving HLS too when hls is set.
func videoFixtureHLS(t *testing.T, webrtc, hls, record bool) (*fixture, string, *testenv.MediaMTX, *mediamtx.Tokens) {
	t.Helper()
	tokens := mediamtx.NewTokens(nil, nil)
	webrtcPort, hlsPort := testenv.FreePort(t), testenv.FreePort(t) // the page's CSP names MediaMTX's servers
	video := &Video{Tokens: tokens, TTL: time.Minute, WebRTCURL: fmt.Sprintf("http://127.0.0.1:%d", webrtcPort),
		HLSURL: fmt.Sprintf("http://127.0.0.1:%d", hlsPort)}
	video.DownloadUnits = []string{"police"}
	f := newFixture(t, 0, func(o *Options) { o.Video, o.Stills = video, snapshot.New(snapshot.Options{}) })
	addr := f.serve(t)
	cfg := camsim.Config{ID: "vid-cam", Width: 640, Height: 360, FPS: 10, User: "admin", Password: videoPassword, Picture: true}
	if !record { // a recorded camera's still comes from its recording: give it no ONVIF
		cfg.ONVIFAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	}
	cam, err := camsim.NewCamera(cfg, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	rec := fmt.Sprintf(", onvif: %q", cam.DeviceURL())
	if record {
		rec = ", record: {segment: 1m, retention: 1h}"
	}
	cams, err := streams.ParseCameraCatalog([]byte(fmt.Sprintf(`cameras:
  - {id: vid-cam, name: Nút giao Cốc Lếu, url: %q, username: admin, password: %q, location: {lat: 22.50, lon: 103.97}, district: TP Lào Cai, purpose: traffic, owner_unit: police%s}
  - {id: vid-other, name: Cầu Kim Tân, url: "rtsp://127.0.0.1:1/none", location: {lat: 22.49, lon: 103.97}, district: TP Lào Cai, purpose: traffic, owner_unit: police}
`, cam.URL(), videoPassword, rec)), config.Units, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	f.city.SetCatalogs(nil, cams)
	m := testenv.StartMediaMTX(t, testenv.MediaMTXOptions{WebRTC: webrtc, WebRTCPort: webrtcPort, HLS: hls, HLSPort: hlsPort, Record: record, Extra: fmt.Sprintf(`authMethod: http
authHTTPAddress: http://%s/api/v1/video/auth
authHTTPExclude:
  - action: api
  - action: metrics
  - action: pprof
`, addr)})
	if record {
		video.Playback = &mediamtx.Playback{Base: m.Playback, Tokens: tokens}
	}
	if _, err := mediamtx.NewSyncer(&mediamtx.Client{Base: m.API}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).Sync(context.Background(), cams.Cameras); err != nil {
		t.Fatal(err)
	}
	return f, addr, m, tokens
}

const videoPassword = "Cam-Video-9912"

// TestVideoAccess: a real MediaMTX re-streams a police camera and asks ioc (its external HTTP
// authentication) about every reader. A caller who may see the camera gets a short-lived token
// that opens its path; the flood-control unit gets no token (not its camera); a forged token,
// one for another camera and an expired one are refused by MediaMTX through ioc; no answer
// carries the camera's address or password.
func TestVideoAccess(t *testing.T) {
	f, _, m, tokens := videoFixture(t, false, false)
	live := func(key, id string) (int, LiveAnswer, string) {
		code, b := f.call(t, key, "GET", APIPrefix+"/cameras/"+id+"/live", "")
		var a LiveAnswer
		_ = json.Unmarshal(b, &a)
		return code, a, string(b)
	}
	code, a, body := live("operator", "vid-cam")
	if code != 200 || a.Path != "cam/vid-cam" || !strings.HasSuffix(a.WHEPURL, "/cam/vid-cam/whep") || time.Until(a.ExpiresAt) > time.Minute {
		t.Fatalf("the operator's token: %d %s", code, body)
	}
	if strings.Contains(body, videoPassword) || strings.Contains(body, "rtsp://") {
		t.Errorf("the answer carries the camera's address or password: %s", body)
	}
	if n, err := m.Read(a.Path, "ioc", a.Token, time.Second); err != nil || n < 5 {
		t.Fatalf("the operator's token through MediaMTX: %d packets, %v\n%s", n, err, m.Log.String())
	}
	if code, _, _ := live("police", "vid-cam"); code != 200 {
		t.Errorf("police (the camera's unit): %d", code)
	}
	if code, _, _ := live("flood", "vid-cam"); code != 404 {
		t.Errorf("flood control asks for police's camera: %d, want 404", code)
	}
	if code, _, _ := live("operator", "nope"); code != 404 {
		t.Errorf("an unknown camera: %d", code)
	}
	_, other, _ := live("operator", "vid-other")
	expired, _ := tokens.Issue("vid-cam", "key:operator", mediamtx.ActionRead, -time.Second)
	for name, tok := range map[string]string{
		"forged":           a.Token[:len(a.Token)-3] + "AAA",
		"another camera's": other.Token,
		"expired":          expired,
		"none":             "",
	} {
		if n, err := m.Read(a.Path, "ioc", tok, 200*time.Millisecond); err == nil {
			t.Errorf("a %s token opened the camera (%d packets)", name, n)
		}
	}
	if n, err := m.Read(a.Path, "", "", 200*time.Millisecond); err == nil {
		t.Errorf("no credentials opened the camera (%d packets)", n)
	}
}

// TestLiveVideoInTheBrowser: Debian's Chromium plays the police camera in the camera wall over
// WebRTC (WHEP) through MediaMTX, with the token ioc gave it (renewed once MediaMTX refused an
// ended one), and decodes its H.264 frames; a camera that does not answer says so in its tile.
func TestLiveVideoInTheBrowser(t *testing.T) {
	exe := chromium(t)
	f, addr, m, _ := videoFixture(t, true, false)
	base := "http://" + addr + "/"
	ctx := browserContext(t, exe, 60*time.Second)
	wait := waitJS
	if err := chromedp.Run(ctx,
		signedIn(base, f.tokens["operator"], "#cameras"),
		wait("the wall with its play buttons", `!!document.querySelector('#wall [data-live-cam="vid-cam"]')`),
		// the first WHEP offer carries a token MediaMTX refuses (one that ended): the page renews it
		chromedp.Evaluate(`window.refused = 0; const f0 = window.fetch; window.fetch = (u, o) => {
			if (String(u).endsWith('/whep') && window.refused === 0) { window.refused = 1; o = { ...o, headers: { ...o.headers, Authorization: 'Bearer ended.token' } }; }
			return f0(u, o); };
			document.querySelector('#wall [data-live-cam="vid-cam"]').click(); true`, nil),
		wait("decoded frames in the camera's tile", `(() => { const v = document.querySelector('#wall .cam[data-camera="vid-cam"] video.live');
			return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 5 && v.videoWidth === 640; })()`),
		chromedp.Evaluate(`document.querySelector('#wall [data-live-cam="vid-other"]').click(); true`, nil),
		wait("the dead camera's tile says why", `!!document.querySelector('#wall .cam[data-camera="vid-other"] .live-error')`),
		// a 2 × 2 page plays its cameras by itself; a video clicked is enlarged
		chromedp.Evaluate(`document.querySelector('#wall [data-live-cam="vid-cam"]').click(); const l = document.querySelector('#wall-layout'); l.value = '2'; l.dispatchEvent(new Event('change')); true`, nil),
		wait("the page playing by itself", `document.querySelector('#wall').classList.contains('grid-2') && document.querySelector('#wall-page').textContent === 'Trang 1/1' &&
			(() => { const v = document.querySelector('#wall .cam[data-camera="vid-cam"] video.live'); return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 5; })() &&
			!!document.querySelector('#wall .cam[data-camera="vid-other"] .live-error')`),
		chromedp.Evaluate(`document.querySelector('#wall .cam[data-camera="vid-cam"] video.live').click(); true`, nil),
		wait("the video enlarged", `document.querySelector('#wall .cam[data-camera="vid-cam"]').classList.contains('big')`),
		// a camera clicked on the map opens its live view in the wall
		chromedp.Evaluate(`const l2 = document.querySelector('#wall-layout'); l2.value = '0'; l2.dispatchEvent(new Event('change')); location.hash = '#map'; true`, nil),
		wait("the camera on the map", `!!document.querySelector('#map rect.camera[data-camera="vid-cam"]')`),
		chromedp.Evaluate(`document.querySelector('#map rect.camera[data-camera="vid-cam"]').dispatchEvent(new MouseEvent('click', { bubbles: true })); true`, nil),
		wait("its live view", `S.view === 'cameras' && (() => { const v = document.querySelector('#wall .cam[data-camera="vid-cam"] video.live'); return !!v && v.getVideoPlaybackQuality().totalVideoFrames > 5; })()`),
	); err != nil {
		var dbg string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify([...S.liveErrors]) + ' refused=' + window.refused + ' playing=' + [...S.playing.keys()]`, &dbg))
		t.Fatalf("%v (%s)\nMediaMTX:\n%s", err, dbg, m.Log.String())
	}
}

// TestClips: MediaMTX records the police camera; a caller who may see it plays a clip of the
// last seconds as MP4 fetched by ioc from MediaMTX's playback (which asks ioc about ioc's own
// playback token); outside the recording it is 404 with the reason; flood control sees no
// clip; the police download it, audited, and the operator may not.
func TestClips(t *testing.T) {
	exe := chromium(t)
	f, addr, m, _ := videoFixture(t, true, true)
	clip := func(key, path string, start time.Time, secs int) (int, string, map[string]string) {
		t.Helper()
		q := url.Values{"start": {start.UTC().Format(time.RFC3339)}, "duration": {fmt.Sprint(secs)}}
		return f.raw(t, key, APIPrefix+"/cameras/vid-cam/"+path+"?"+q.Encode())
	}
	began := time.Now()
	var code int
	var body string
	var hdr map[string]string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last clip answer: %d %.300s\nMediaMTX:\n%s", code, body, m.Log.String())
		}
	})
	testenv.WaitFor(t, "a clip of the recording", 20*time.Second, func() bool {
		code, body, hdr = clip("operator", "clip", began.Add(-time.Second), 3)
		return code == 200 && len(body) > 1000
	})
	if hdr["type"] != "video/mp4" || body[4:8] != "ftyp" || hdr["disposition"] != "" {
		t.Errorf("the clip: %s, %q, starts %q", hdr["type"], hdr["disposition"], body[4:8])
	}
	// the camera has no ONVIF: its still is its last recorded second
	if code, body, hdr := f.raw(t, "operator", APIPrefix+"/cameras/vid-cam/still"); code != 200 || hdr["type"] != "video/mp4" || len(body) < 1000 || body[4:8] != "ftyp" {
		t.Errorf("the recorded camera's still: %d %s (%d bytes) %.300s", code, hdr["type"], len(body), body)
	}
	if code, body, _ := clip("operator", "clip", began.Add(-30*24*time.Hour), 60); code != 404 || !strings.Contains(body, "no_recording") {
		t.Errorf("a clip a month ago: %d %s, want 404 no_recording\n%s", code, body, m.Log.String())
	}
	if code, _, _ := clip("flood", "clip", began, 3); code != 404 {
		t.Errorf("flood control's clip of police's camera: %d, want 404", code)
	}
	if code, body, _ := clip("operator", "clip/download", began, 3); code != 403 {
		t.Errorf("the operator downloads: %d %s, want 403", code, body)
	}
	code, body, hdr = clip("police", "clip/download", began.Add(-time.Second), 3)
	if code != 200 || !strings.Contains(hdr["disposition"], "attachment") || len(body) < 1000 {
		t.Fatalf("the police download: %d %q (%d bytes)", code, hdr["disposition"], len(body))
	}
	testenv.WaitFor(t, "the download in the audit log", 15*time.Second, func() bool {
		_, b := f.call(t, "admin", "GET", APIPrefix+"/audit?action=clip.download", "")
		return strings.Contains(string(b), "vid-cam") && strings.Contains(string(b), "key:police")
	})

	// a camera event stored: the camera's events list it with the address of its clip
	ctx := context.Background()
	evAt := time.Now().UTC().Truncate(time.Second)
	conn := testenv.Conn(t, f.chCfg)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO camera_events (ts, ms, camera_id, source, kind, rule, state, plate, ingest_time)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(evAt, uint16(0), "vid-cam", "onvif", "line_crossing", "VachDung", "true", "24A-123.45", evAt); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	var evs Page[CameraEventInfo]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/cameras/vid-cam/events?kind=line_crossing", ""); code != 200 || json.Unmarshal(b, &evs) != nil || len(evs.Items) != 1 ||
		evs.Items[0].Plate != "24A-123.45" || !strings.Contains(evs.Items[0].Clip, "/cameras/vid-cam/clip?start=") {
		t.Fatalf("the camera's events: %d %s", code, b)
	}
	if code, _, hdr := f.raw(t, "operator", evs.Items[0].Clip); code != 200 || hdr["type"] != "video/mp4" {
		t.Errorf("the event's clip: %d %s", code, hdr["type"])
	}
	if code, _ := f.call(t, "flood", "GET", APIPrefix+"/cameras/vid-cam/events", ""); code != 404 {
		t.Errorf("flood control's events of police's camera: %d, want 404", code)
	}
	if code, _ := f.call(t, "operator", "GET", APIPrefix+"/cameras/vid-cam/events?kind=explosion", ""); code != 400 {
		t.Errorf("an unknown kind: %d, want 400", code)
	}

	// a wrong-way vehicle seen by the camera: its alert's detail plays the clip around it
	_, cams := f.city.Catalogs()
	if err := f.engine.SetCatalogs(ctx, nil, cams); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.ObserveCameras(ctx, nil, []streams.CameraEvent{{Time: time.Now().UTC(), Camera: "vid-cam", Source: "onvif",
		Kind: streams.EventLineCrossing, Rule: "wrong-way-lane-2", State: "true"}}); err != nil {
		t.Fatal(err)
	}
	var alertID string
	testenv.WaitFor(t, "the wrong-way alert", 10*time.Second, func() bool {
		list, _ := f.engine.Alerts(ctx, alerts.Filter{})
		for _, a := range list {
			if a.Rule == "wrong_way" && a.Subject == "vid-cam" {
				alertID = a.ID
			}
		}
		return alertID != ""
	})
	bctx := browserContext(t, exe, 60*time.Second)
	if err := chromedp.Run(bctx,
		signedIn("http://"+addr+"/", f.tokens["operator"], "#alerts"),
		chromedp.WaitReady(`body`),
		chromedp.Poll(fmt.Sprintf(`!!document.querySelector('#alerts-table tr[data-alert=%q]')`, alertID), nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('input[name=af][value=all]').click(); true`, nil),
		chromedp.Evaluate(fmt.Sprintf(`showDetail(%q); true`, alertID), nil),
		chromedp.Poll(`!!document.querySelector('#alert-detail [data-clip="vid-cam"]')`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('#alert-detail [data-clip="vid-cam"]').click(); true`, nil),
		chromedp.Poll(`(() => { const v = document.querySelector('#clip-box video.clip'); return !!v && v.readyState >= 1 && v.duration > 1; })()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		// the camera's events under the wall, the line crossing's clip played
		chromedp.Evaluate(`location.hash = '#cameras'; true`, nil),
		chromedp.Poll(`!!document.querySelector('#wall [data-cam-events="vid-cam"]')`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('#wall [data-cam-events="vid-cam"]').click(); true`, nil),
		chromedp.Poll(`!!document.querySelector('#cam-events [data-ev-clip]') && document.querySelector('#cam-events').textContent.includes('Vượt vạch')`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Evaluate(`document.querySelector('#cam-events [data-ev-clip]').click(); true`, nil),
		chromedp.Poll(`(() => { const v = document.querySelector('#ev-clip-box video.clip'); return !!v && v.readyState >= 1 && v.duration > 1; })()`, nil, chromedp.WithPollingTimeout(20*time.Second)),
	); err != nil {
		t.Fatalf("the alert's clip in the browser: %v\n%s", err, m.Log.String())
	}
}

// raw calls the API as key's holder and answers the status, the body and the content type
// and disposition headers.
func (f *fixture) raw(t *testing.T, key, path string) (int, string, map[string]string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[key])
	resp, err := f.srv.App().Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), map[string]string{"type": resp.Header.Get("Content-Type"), "disposition": resp.Header.Get("Content-Disposition")}
}

// TestStills: the police camera's still is its ONVIF snapshot, fetched by ioc with the camera's
// credentials, which never reach the caller; flood control (not its camera) gets 404, and a
// camera with neither ONVIF nor a recording no_still. In Chromium, with neither WebRTC nor HLS
// answering from MediaMTX, the wall's 2 × 2 page says live video is unavailable and shows the
// camera's still in its tile.
func TestStills(t *testing.T) {
	exe := chromium(t)
	f, addr, m, _ := videoFixture(t, false, false)
	code, body, hdr := f.raw(t, "operator", APIPrefix+"/cameras/vid-cam/still")
	if code != 200 || hdr["type"] != "image/jpeg" || !strings.HasPrefix(body, "\xff\xd8") || strings.Contains(body, videoPassword) {
		t.Fatalf("the operator's still: %d %s %.80q", code, hdr["type"], body)
	}
	if code, _, _ := f.raw(t, "flood", APIPrefix+"/cameras/vid-cam/still"); code != 404 {
		t.Errorf("flood control's still of police's camera: %d, want 404", code)
	}
	if code, body, _ := f.raw(t, "operator", APIPrefix+"/cameras/vid-other/still"); code != 404 || !strings.Contains(body, "no_still") {
		t.Errorf("a camera without ONVIF or recording: %d %s", code, body)
	}
	ctx := browserContext(t, exe, 60*time.Second)
	if err := chromedp.Run(ctx,
		signedIn("http://"+addr+"/", f.tokens["operator"], "#cameras"),
		waitJS("the wall", `!!document.querySelector('#wall [data-live-cam="vid-cam"]')`),
		chromedp.Evaluate(`const l = document.querySelector('#wall-layout'); l.value = '2'; l.dispatchEvent(new Event('change')); true`, nil),
		waitJS("the wall saying live video is unavailable, the camera's still in its tile", `!document.querySelector('#wall-note').classList.contains('hidden') &&
			document.querySelector('#wall-note').textContent.includes('không khả dụng') &&
			(() => { const i = document.querySelector('#wall .cam[data-camera="vid-cam"] img.still'); return !!i && i.complete && i.naturalWidth === 640; })() &&
			!document.querySelector('#wall .cam[data-camera="vid-cam"] video.live')`),
	); err != nil {
		var dbg string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify([...S.liveErrors]) + ' stills=' + [...S.stills.keys()] + ' down=' + S.videoDown`, &dbg))
		t.Fatalf("%v (%s)\nMediaMTX:\n%s", err, dbg, m.Log.String())
	}
}

// TestLiveVideoHLSFallback: with no WebRTC from MediaMTX, the tile plays MediaMTX's low-latency
// HLS with hls.js (the token on every request, checked by ioc) and Chromium decodes it.
func TestLiveVideoHLSFallback(t *testing.T) {
	exe := chromium(t)
	f, addr, m, _ := videoFixtureHLS(t, false, true, false)
	ctx := browserContext(t, exe, 60*time.Second)
	if err := chromedp.Run(ctx,
		signedIn("http://"+addr+"/", f.tokens["operator"], "#cameras"),
		waitJS("the wall", `!!document.querySelector('#wall [data-live-cam="vid-cam"]')`),
		chromedp.Evaluate(`document.querySelector('#wall [data-live-cam="vid-cam"]').click(); true`, nil),
		waitJS("HLS frames decoded in the tile", `(() => { const v = document.querySelector('#wall .cam[data-camera="vid-cam"] video.live');
			return !!v && v.dataset.via === 'hls' && v.getVideoPlaybackQuality().totalVideoFrames > 5; })()`),
	); err != nil {
		var dbg string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify([...S.liveErrors])`, &dbg))
		t.Fatalf("%v (%s)\nMediaMTX:\n%s", err, dbg, m.Log.String())
	}
}
