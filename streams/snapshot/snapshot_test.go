package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
)

func addr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }

// A simulated camera's ONVIF services give its snapshot to the right credentials (WS-Security
// digest for SOAP, HTTP digest for the JPEG); a wrong password and a camera that refuses
// connections are errors naming the step, never the password; a still is kept for MaxAge.
func TestStillFromONVIF(t *testing.T) {
	cam, err := camsim.NewCamera(camsim.Config{ID: "cam-1", Width: 320, Height: 180, FPS: 10, Picture: true,
		User: "admin", Password: "s3cret-pw", ONVIFAddr: addr(t)}, addr(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	c := New(Options{MaxAge: time.Hour})
	ctx := context.Background()
	good := Camera{ID: "cam-1", Device: cam.DeviceURL(), User: "admin", Password: "s3cret-pw"}
	s, cached, err := c.Still(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(s.JPEG))
	if err != nil || cfg.Width != 320 || cfg.Height != 180 || cached {
		t.Fatalf("still: %v %dx%d cached %v", err, cfg.Width, cfg.Height, cached)
	}
	if s2, cached, err := c.Still(ctx, good); err != nil || !cached || !bytes.Equal(s2.JPEG, s.JPEG) {
		t.Errorf("second ask within MaxAge: cached %v err %v", cached, err)
	}

	bad := good
	bad.ID, bad.Password = "cam-1-bad", "wrong-pw"
	_, _, err = New(Options{}).Still(ctx, bad)
	if !errors.Is(err, ErrNotAuthorized) || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("wrong password: %v", err)
	}

	if err := cam.SetFault(camsim.Fault{Refuse: true}); err != nil {
		t.Fatal(err)
	}
	_, _, err = New(Options{}).Still(ctx, good)
	if err == nil || !strings.Contains(err.Error(), "GetCapabilities") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("refusing camera: %v", err)
	}
}

// A camera answering nonsense (not SOAP, a snapshot elsewhere, not a JPEG, too large) is an
// error saying so. A snapshot address on another host (a camera behind address translation
// announcing its inside address) is fetched from the camera's own host.
func TestHostileCamera(t *testing.T) {
	snap := "/snap"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := readAll(r)
		switch {
		case r.URL.Path == "/soap-garbage":
			fmt.Fprint(w, "<Envelope><Body><unclosed>")
		case strings.Contains(body, "GetCapabilities"):
			fmt.Fprintf(w, `<Envelope><Body><GetCapabilitiesResponse><Capabilities><Media><XAddr>http://%s/media</XAddr></Media></Capabilities></GetCapabilitiesResponse></Body></Envelope>`, r.Host)
		case strings.Contains(body, "GetProfiles"):
			fmt.Fprint(w, `<Envelope><Body><GetProfilesResponse><Profiles token="p1"/></GetProfilesResponse></Body></Envelope>`)
		case strings.Contains(body, "GetSnapshotUri"):
			_, port, _ := strings.Cut(r.Host, ":")
			fmt.Fprintf(w, `<Envelope><Body><GetSnapshotUriResponse><MediaUri><Uri>http://10.255.0.7:%s%s</Uri></MediaUri></GetSnapshotUriResponse></Body></Envelope>`, port, snap)
		case r.URL.Path == "/text":
			fmt.Fprint(w, "this is not a picture")
		case r.URL.Path == "/big":
			w.Write(make([]byte, 2<<20))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct{ snap, device, want string }{
		{"/text", "/dev", "not a JPEG"},
		{"/big", "/dev", "over 1048576 bytes"},
		{"/text", "/soap-garbage", "malformed answer"},
	} {
		snap = tc.snap
		_, _, err := New(Options{MaxBytes: 1 << 20}).Still(ctx, Camera{ID: "x", Device: srv.URL + tc.device})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s via %s: %v, want %q", tc.snap, tc.device, err, tc.want)
		}
	}
}

func readAll(r *http.Request) (string, error) {
	b, err := io.ReadAll(r.Body)
	return string(b), err
}
