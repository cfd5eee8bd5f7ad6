package mediamtx_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

func startCamera(t *testing.T, id, user, password string) *camsim.Camera {
	t.Helper()
	cam, err := camsim.NewCamera(camsim.Config{ID: id, Width: 640, Height: 360, FPS: 10, User: user, Password: password},
		fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

func catalog(t *testing.T, yaml string) []streams.Camera {
	t.Helper()
	cat, err := streams.ParseCameraCatalog([]byte(yaml), map[string]string{"police": ""}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return cat.Cameras
}

// Sync keeps MediaMTX's paths in step with the catalog against a real MediaMTX: each camera's
// path added (the camera's password going to MediaMTX, which then re-streams the camera), a
// changed address replaced, a camera gone removed, a path of someone else's kept; a second sync
// of the same catalog changes nothing.
func TestSync(t *testing.T) {
	m := testenv.StartMediaMTX(t, testenv.MediaMTXOptions{})
	a, b, c := startCamera(t, "cam-a", "admin", "mật-khẩu-a"), startCamera(t, "cam-b", "", ""), startCamera(t, "cam-c", "", "")
	client := &mediamtx.Client{Base: m.API}
	ctx := context.Background()
	if err := client.Add(ctx, "dien-tap", mediamtx.PathConf{Source: "publisher"}); err != nil { // not ioc's
		t.Fatal(err)
	}
	s := mediamtx.NewSyncer(client, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	entry := func(id, url, user, pass string) string {
		return fmt.Sprintf("  - {id: %s, name: %s, url: %q, username: %q, password: %q, location: {lat: 22.5, lon: 103.97}, district: TP Lào Cai, purpose: traffic, owner_unit: police}\n", id, id, url, user, pass)
	}
	cams := catalog(t, "cameras:\n"+entry("cam-a", a.URL(), "admin", "mật-khẩu-a")+entry("cam-b", b.URL(), "", ""))
	r, err := s.Sync(ctx, cams)
	if err != nil || r.Added != 2 || r.Removed != 0 {
		t.Fatalf("first sync: %+v %v", r, err)
	}
	paths, err := client.Paths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := paths["cam/cam-a"]; !p.SourceOnDemand || !strings.Contains(p.Source, "mật-khẩu-a") && !strings.Contains(p.Source, "m%E1%BA%ADt") {
		t.Errorf("cam-a's path: %+v, want on demand with the camera's credentials", p)
	}
	if _, ok := paths["dien-tap"]; !ok {
		t.Error("a path that is not ioc's was removed")
	}
	// MediaMTX pulls the camera (with its password) when someone reads the path
	if n, err := m.Read("cam/cam-a", "", "", 1500*time.Millisecond); err != nil || n < 10 {
		t.Errorf("cam-a through MediaMTX: %d RTP packets in 1.5 s, %v\n%s", n, err, m.Log.String())
	}
	if r, err := s.Sync(ctx, cams); err != nil || r.Kept != 2 || r.Added+r.Changed+r.Removed != 0 {
		t.Errorf("the same catalog again: %+v %v, want nothing changed", r, err)
	}
	// cam-b moves to cam-c's address; cam-a leaves the catalog
	cams = catalog(t, "cameras:\n"+entry("cam-b", c.URL(), "", ""))
	if r, err := s.Sync(ctx, cams); err != nil || r.Changed != 1 || r.Removed != 1 {
		t.Fatalf("catalog changed: %+v %v", r, err)
	}
	paths, _ = client.Paths(ctx)
	if _, ok := paths["cam/cam-a"]; ok || paths["cam/cam-b"].Source != c.URL() {
		t.Errorf("after the change: %+v", paths)
	}
	if _, ok := paths["dien-tap"]; !ok {
		t.Error("a path that is not ioc's was removed")
	}
}

// A MediaMTX that does not answer is an error naming it; nothing is counted as synced.
func TestSyncWithoutMediaMTX(t *testing.T) {
	client := &mediamtx.Client{Base: fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))}
	s := mediamtx.NewSyncer(client, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	r, err := s.Sync(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "mediamtx GET /v3/config/paths/list") || r != (mediamtx.Result{}) {
		t.Errorf("sync without MediaMTX: %+v %v", r, err)
	}
}
