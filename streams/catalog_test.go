package streams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

var testUnits = map[string]string{"police": "", "traffic_police": "", "flood_control": ""}

func TestExampleCameraCatalog(t *testing.T) {
	data, err := os.ReadFile("../deploy/catalog/cameras.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CAM_COC_LEU_PASSWORD": "p1", "CAM_KIM_THANH_PASSWORD": "p2"}
	cat, err := ParseCameraCatalog(data, testUnits, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c := cat.Lookup("lc-cam-coc-leu")
	if c == nil || c.DialURL() != "rtsp://ioc-viewer:p1@10.20.0.15:554/Streaming/Channels/101" || c.Mode != ModeHealth {
		t.Fatalf("lc-cam-coc-leu: %+v, dial %s", c, c.DialURL())
	}
}

func TestCameraCatalogProblemsHaveTheirPaths(t *testing.T) {
	yaml := `cameras:
  - id: cam 1
    name: ""
    url: http://admin:hunter2@10.0.0.1/video
    location: {lat: 103.9, lon: 22.5}
    purpose: parking
    owner_unit: army
    expected: {codec: MJPEG, fps: 500}
    mode: record
    onvif: http://admin:hunter2@10.0.0.1/onvif/device_service
  - id: cam-2
    name: Camera 2
    url: rtsp://10.0.0.2/stream
    password: a
    password_env: CAM2_PASSWORD
    location: {lat: 22.5, lon: 103.9}
    district: TP Lào Cai
    purpose: traffic
    owner_unit: police
  - id: cam-3
    name: Camera 3
    url: rtsp://10.0.0.3/stream
    password_env: IOC_CAM3
    location: {lat: 22.5, lon: 103.9}
    district: TP Lào Cai
    purpose: traffic
    owner_unit: police
`
	_, err := ParseCameraCatalog([]byte(yaml), testUnits, func(string) string { return "" })
	if err == nil {
		t.Fatal("a bad catalog was taken")
	}
	for _, want := range []string{
		"cameras[0].id:", "cameras[0].name: empty", "cameras[0].url: want rtsp://", "cameras[0].location: lat 103.9, lon 22.5 is not a position (lat and lon swapped?)",
		"cameras[0].purpose: unknown purpose \"parking\"", "cameras[0].owner_unit: unknown unit \"army\"", "cameras[0].district: empty",
		"cameras[0].expected.codec", "cameras[0].expected.fps", "cameras[0].mode: unknown mode \"record\"", "cameras[0].onvif: want the device service's",
		"cameras[1].password_env: give password or password_env, not both", "cameras[2].password_env: IOC_CAM3: IOC_* variables",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a problem quotes the password:\n%v", err)
	}
	// A value of the wrong shape is reported by the YAML decoder, which quotes it: redacted too.
	_, err = ParseCameraCatalog([]byte("cameras:\n  - id: c\n    url: [rtsp://admin:hunter2@10.0.0.1/video]\n"), testUnits, func(string) string { return "" })
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("wrong-shape url: %v", err)
	}
}

func TestCameraURLNeverPrintsCredentials(t *testing.T) {
	cat, err := ParseCameraCatalog([]byte(`cameras:
  - {id: c, name: C, url: "rtsp://admin:hunter2@10.0.0.1:554/stream", location: {lat: 22.5, lon: 103.9}, district: D, purpose: traffic, owner_unit: police}
`), testUnits, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cam := cat.Cameras[0]
	if cam.DialURL() != "rtsp://admin:hunter2@10.0.0.1:554/stream" {
		t.Fatalf("dial URL %s", cam.DialURL())
	}
	u := cam.URL
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "url", u, "camera", cam)
	js, _ := json.Marshal(cam)
	for where, text := range map[string]string{"fmt %v": fmt.Sprint(u), "fmt %+v": fmt.Sprintf("%+v", cam), "slog": logged.String(), "json": string(js)} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "admin") {
			t.Errorf("%s shows the credentials: %s", where, text)
		}
	}
}
