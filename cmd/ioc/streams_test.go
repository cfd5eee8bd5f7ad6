package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
)

// `ioc serve` with the streams role watches the catalog's cameras and stores their states and
// ONVIF events, and Frigate events from MQTT, in ClickHouse, and gives MediaMTX a path for each
// camera; the cameras' password goes to MediaMTX only, and appears in none of the log, the
// tables, /metrics or /healthz.
func TestServeStoresCameraStatesAndEvents(t *testing.T) {
	const password = "Cam-P@ss-7731"
	base := testenv.FreePortBlock(t, 3)
	fleet, err := camsim.StartFleet(camsim.FleetConfig{Count: 3, Host: "127.0.0.1", BasePort: base, IDPrefix: "e2e-cam",
		Camera: camsim.Config{Width: 640, Height: 360, FPS: 10, Metadata: true, MetadataInterval: 100 * time.Millisecond,
			Script: camsim.DefaultScript, User: "admin", Password: password},
		Faults: map[int]camsim.Fault{3: {Refuse: true}}, WrongPassword: map[int]bool{2: true}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	catalog := filepath.Join(t.TempDir(), "cameras.yaml")
	if err := os.WriteFile(catalog, fleet.CatalogYAML("metadata"), 0o600); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t)
	logs := &testenv.LogBuffer{}
	h.logOut, h.logInfo = logs, true
	h.cfg.Roles = []string{config.RoleIngest, config.RoleStreams, config.RoleDashboard}
	h.cfg.Ingest.Topics = append(h.cfg.Ingest.Topics, config.Topic{Pattern: h.prefix + "/frigate/events", Format: "frigate", QoS: 1})
	h.cfg.Streams.Catalog = catalog
	h.cfg.Streams.StartSpread = 0
	h.cfg.Streams.Window = 500 * time.Millisecond
	h.cfg.Streams.RequestTimeout = 2 * time.Second
	h.cfg.Streams.ReconnectMin = 100 * time.Millisecond
	h.cfg.Streams.ReconnectMax = 500 * time.Millisecond
	mtx := testenv.StartMediaMTX(t, testenv.MediaMTXOptions{})
	h.cfg.Streams.MediaMTX.API = mtx.API
	h.start(t)
	mc := &mediamtx.Client{Base: mtx.API}
	testenv.WaitFor(t, "a MediaMTX path for each camera", 20*time.Second, func() bool {
		paths, err := mc.Paths(context.Background())
		if err != nil || len(paths) != 3 || !paths["cam/e2e-cam-0003"].SourceOnDemand {
			return false
		}
		u, err := url.Parse(paths["cam/e2e-cam-0001"].Source)
		if err != nil || u.User == nil {
			return false
		}
		pw, _ := u.User.Password()
		return pw == password
	})

	now := float64(time.Now().UnixMilli()) / 1000
	publish(t, h.cfg.MQTT.Broker, map[string][][]byte{h.prefix + "/frigate/events": {[]byte(fmt.Sprintf(
		`{"type":"new","after":{"id":"f-1","camera":"e2e-cam-0001","label":"car","score":0.8,"start_time":%.3f,"current_zones":["cong"]}}`, now))}})

	h.waitCount(t, "SELECT count() FROM camera_status WHERE camera_id = 'e2e-cam-0001' AND state = 'online'", 1)
	h.waitCount(t, "SELECT count() FROM camera_status WHERE camera_id = 'e2e-cam-0002' AND state = 'offline' AND reason = 'auth_failed'", 1)
	h.waitCount(t, "SELECT count() FROM camera_status WHERE camera_id = 'e2e-cam-0003' AND state = 'offline' AND reason = 'refused'", 1)
	h.waitCount(t, "SELECT count() FROM camera_events WHERE source = 'frigate' AND camera_id = 'e2e-cam-0001' AND object_class = 'vehicle' AND rule = 'cong'", 1)
	for _, kind := range []string{"motion", "line_crossing", "intrusion", "object_count"} {
		waitAtLeast(t, h, fmt.Sprintf("SELECT count() FROM camera_events WHERE source = 'onvif' AND camera_id = 'e2e-cam-0001' AND kind = '%s'", kind), 1)
	}
	if v := h.metric(t, `ioc_cameras{state="online"}`); v != "1" {
		t.Errorf("ioc_cameras{state=\"online\"} = %q, want 1", v)
	}

	var stored strings.Builder
	rows, err := h.conn.Query(context.Background(), "SELECT camera_id, state, reason, detail FROM camera_status")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, state, reason, detail string
		if err := rows.Scan(&id, &state, &reason, &detail); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&stored, id, state, reason, detail)
	}
	_, metrics := h.get(t, "/metrics")
	_, health := h.get(t, "/healthz")
	for where, text := range map[string]string{"log": logs.String(), "camera_status": stored.String(), "/metrics": metrics, "/healthz": health} {
		if strings.Contains(text, password) {
			t.Errorf("the camera password appears in %s", where)
		}
	}
	if !strings.Contains(logs.String(), "reason=auth_failed") {
		t.Errorf("the log does not report the auth failure:\n%s", logs.String())
	}
	if !strings.Contains(stored.String(), "auth_failed") {
		t.Errorf("camera_status lacks the auth failure:\n%s", stored.String())
	}
}

func waitAtLeast(t *testing.T, h *harness, query string, want uint64) {
	t.Helper()
	var n uint64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := h.conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= want {
			return
		}
	}
	t.Fatalf("%s: %d rows after 20s, want at least %d", query, n, want)
}
