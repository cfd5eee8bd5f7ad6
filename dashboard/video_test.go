package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

// TestVideoAccess: a real MediaMTX re-streams a police camera and asks ioc (its external HTTP
// authentication) about every reader. A caller who may see the camera gets a short-lived token
// that opens its path; the flood-control unit gets no token (not its camera); a forged token,
// one for another camera and an expired one are refused by MediaMTX through ioc; no answer
// carries the camera's address or password.
func TestVideoAccess(t *testing.T) {
	const password = "Cam-Video-9912"
	tokens := mediamtx.NewTokens(nil, nil)
	f := newFixture(t, 0, func(o *Options) {
		o.Video = &Video{Tokens: tokens, TTL: time.Minute, WebRTCURL: "http://127.0.0.1:8889"}
	})
	addr := f.serve(t)
	cam, err := camsim.NewCamera(camsim.Config{ID: "vid-cam", Width: 640, Height: 360, FPS: 10, User: "admin", Password: password},
		fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	cams, err := streams.ParseCameraCatalog([]byte(fmt.Sprintf(`cameras:
  - {id: vid-cam, name: Nút giao Cốc Lếu, url: %q, username: admin, password: %q, location: {lat: 22.50, lon: 103.97}, district: TP Lào Cai, purpose: security, owner_unit: police}
  - {id: vid-other, name: Cầu Kim Tân, url: "rtsp://127.0.0.1:1/none", location: {lat: 22.49, lon: 103.97}, district: TP Lào Cai, purpose: traffic, owner_unit: police}
`, cam.URL(), password)), config.Units, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	f.city.SetCatalogs(nil, cams)
	m := testenv.StartMediaMTX(t, fmt.Sprintf(`authMethod: http
authHTTPAddress: http://%s/api/v1/video/auth
authHTTPExclude:
  - action: api
  - action: metrics
  - action: pprof
`, addr))
	if _, err := mediamtx.NewSyncer(&mediamtx.Client{Base: m.API}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).Sync(context.Background(), cams.Cameras); err != nil {
		t.Fatal(err)
	}
	live := func(key, id string) (int, LiveAnswer, string) {
		code, b := f.call(t, key, "GET", APIPrefix+"/cameras/"+id+"/live", "")
		var a LiveAnswer
		_ = json.Unmarshal(b, &a)
		return code, a, string(b)
	}
	code, a, body := live("operator", "vid-cam")
	if code != 200 || a.Path != "cam/vid-cam" || a.WHEPURL != "http://127.0.0.1:8889/cam/vid-cam/whep" || time.Until(a.ExpiresAt) > time.Minute {
		t.Fatalf("the operator's token: %d %s", code, body)
	}
	if strings.Contains(body, password) || strings.Contains(body, "rtsp://") {
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
	expired, _ := tokens.Issue("vid-cam", "key:operator", -time.Second)
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
