package streams

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// Purposes are what a camera can be for, with their Vietnamese names.
var Purposes = map[string]string{
	"traffic":     "Camera giao thông",
	"security":    "Camera an ninh",
	"tourism":     "Camera du lịch",
	"border_gate": "Camera cửa khẩu",
	"flood_watch": "Camera giám sát lũ",
}

// Monitoring modes of a camera session.
const (
	// ModeMetadata sets up only the ONVIF metadata track and keeps the session alive.
	ModeMetadata = "metadata"
	// ModeHealth sets up the video track and measures it continuously.
	ModeHealth = "health"
	// ModeProbe sends DESCRIBE and a short PLAY every probe interval.
	ModeProbe = "probe"
)

// Modes lists the monitoring modes.
var Modes = []string{ModeMetadata, ModeHealth, ModeProbe}

// CameraCatalog is the province's list of cameras, loaded from YAML:
//
//	cameras:
//	  - id: lc-cam-coc-leu
//	    name: Ngã tư Cốc Lếu
//	    url: rtsp://10.20.0.15:554/Streaming/Channels/101
//	    username: viewer
//	    password_env: LC_CAM_PASSWORD    # or password: ..., or credentials in the URL
//	    location: {lat: 22.4979, lon: 103.9688}
//	    district: TP Lào Cai
//	    purpose: traffic
//	    owner_unit: traffic_police
//	    expected: {codec: H264, width: 1920, height: 1080, fps: 25, bitrate_kbps: 4096}
//	    mode: health
//	    onvif: http://10.20.0.15/onvif/device_service   # stills for the camera wall
type CameraCatalog struct {
	Cameras []Camera `yaml:"cameras"`

	byID map[string]*Camera
}

// Camera is one catalog entry.
type Camera struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// URL is the camera's RTSP address; it may hold credentials, so it prints redacted.
	URL      CameraURL     `yaml:"url"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// PasswordEnv names an environment variable holding the password, so that the catalog
	// file itself can hold no secret.
	PasswordEnv string       `yaml:"password_env"`
	Location    geo.Location `yaml:"location"`
	District    string       `yaml:"district"`
	Commune     string       `yaml:"commune"`
	// Purpose is one of Purposes.
	Purpose string `yaml:"purpose"`
	// OwnerUnit is the unit responsible for the camera.
	OwnerUnit string   `yaml:"owner_unit"`
	Expected  Expected `yaml:"expected"`
	// Mode is the monitoring mode (metadata, health, probe); empty takes streams.mode.
	Mode string `yaml:"mode"`
	// ProbeInterval overrides streams.probe_interval for this camera.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// Record, when set, has MediaMTX record the camera (evidence clips of its alerts).
	Record *Record `yaml:"record"`
	// ONVIF is the camera's ONVIF device service (http://host/onvif/device_service), where ioc
	// asks for its snapshot, with the camera's credentials; empty when it has none.
	ONVIF string `yaml:"onvif"`

	password config.Secret // resolved at load: Password, PasswordEnv, or the URL's own
}

// Record is how MediaMTX records a camera: in segments of Segment, each kept for Retention.
type Record struct {
	Segment   time.Duration `yaml:"segment"`
	Retention time.Duration `yaml:"retention"`
}

// Expected is what a healthy stream of the camera looks like; zero fields are not checked.
type Expected struct {
	Codec       string  `yaml:"codec"`
	Width       int     `yaml:"width"`
	Height      int     `yaml:"height"`
	FPS         float64 `yaml:"fps"`
	BitrateKbps float64 `yaml:"bitrate_kbps"`
}

// CameraURL is an RTSP URL that may hold credentials: it prints, logs and marshals redacted.
type CameraURL string

// String is the URL without its credentials.
func (u CameraURL) String() string { return RedactURL(string(u)) }

// LogValue hides the credentials from slog.
func (u CameraURL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalText hides the credentials from encoders (JSON, YAML).
func (u CameraURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// String names the camera by its id and redacted URL, so that printing a Camera (even with
// %+v) never shows its password.
func (c Camera) String() string { return fmt.Sprintf("camera %s (%s)", c.ID, c.URL) }

// LogValue logs the camera by its id and redacted URL.
func (c Camera) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.String("url", c.URL.String()))
}

// Credentials are the user name and password the camera takes (the URL's, or username and
// the configured password). Only clients of the camera may see them.
func (c *Camera) Credentials() (user, password string) {
	user = c.Username
	if u, err := url.Parse(string(c.URL)); err == nil && user == "" && u.User != nil {
		user = u.User.Username()
	}
	return user, c.password.Value()
}

// DialURL is the URL to connect with: the catalog's URL with the configured user name and
// password put in. Only the RTSP client may see it.
func (c *Camera) DialURL() string {
	u, err := url.Parse(string(c.URL))
	if err != nil {
		return string(c.URL)
	}
	user := c.Username
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	switch {
	case c.password != "":
		u.User = url.UserPassword(user, c.password.Value())
	case user != "" && (u.User == nil || user != u.User.Username()):
		u.User = url.User(user)
	}
	return u.String()
}

// Lookup returns the camera with id, or nil.
func (c *CameraCatalog) Lookup(id string) *Camera { return c.byID[id] }

// Len is the number of cameras.
func (c *CameraCatalog) Len() int { return len(c.Cameras) }

// LoadCameraCatalog reads and validates the camera catalog at path; units are the unit ids an
// owner_unit may name.
func LoadCameraCatalog(path string, units map[string]string, getenv func(string) string) (*CameraCatalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("camera catalog: %w", err)
	}
	c, err := ParseCameraCatalog(data, units, getenv)
	if err != nil {
		return nil, fmt.Errorf("camera catalog %s:\n%w", path, err)
	}
	return c, nil
}

// ParseCameraCatalog decodes a camera catalog strictly and validates it; the error lists every
// problem with its path (cameras[3].url: ...), and never a credential.
func ParseCameraCatalog(data []byte, units map[string]string, getenv func(string) string) (*CameraCatalog, error) {
	c := &CameraCatalog{}
	if probs := config.DecodeStrict(data, c); len(probs) > 0 {
		return nil, scrubProblems(probs)
	}
	if probs := c.validate(units, getenv); len(probs) > 0 {
		return nil, probs
	}
	c.byID = make(map[string]*Camera, len(c.Cameras))
	for i := range c.Cameras {
		c.byID[c.Cameras[i].ID] = &c.Cameras[i]
	}
	return c, nil
}

// scrubProblems keeps the YAML decoder's messages, which quote values, from quoting a URL
// with its credentials.
func scrubProblems(probs config.Problems) config.Problems {
	for i := range probs {
		probs[i].Msg = urlCredentials.ReplaceAllStringFunc(probs[i].Msg, func(s string) string {
			return s[:strings.Index(s, "://")+3] + "REDACTED@"
		})
	}
	return probs
}

var urlCredentials = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s@"']*@`)

func (c *CameraCatalog) validate(units map[string]string, getenv func(string) string) config.Problems {
	var p config.Problems
	add := p.Add
	if len(c.Cameras) == 0 {
		add("cameras", "empty: list at least one camera")
	}
	ids := config.NewCatalogIDs("cameras")
	for i := range c.Cameras {
		cam := &c.Cameras[i]
		path := fmt.Sprintf("cameras[%d]", i)
		ids.Check(&p, i, cam.ID)
		if strings.TrimSpace(cam.Name) == "" {
			add(path+".name", "empty")
		}
		u, err := url.Parse(string(cam.URL))
		switch {
		case err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "":
			add(path+".url", "want rtsp://host[:port]/path (credentials may go in username and password), got %s", cam.URL)
		case u.User != nil:
			if p, ok := u.User.Password(); ok {
				cam.password = config.Secret(p)
			}
		}
		switch {
		case cam.PasswordEnv != "" && cam.Password != "":
			add(path+".password_env", "give password or password_env, not both")
		case strings.HasPrefix(cam.PasswordEnv, "IOC_"):
			add(path+".password_env", "%s: IOC_* variables are configuration settings; name the password's variable otherwise", cam.PasswordEnv)
		case cam.PasswordEnv != "":
			cam.password = config.Secret(getenv(cam.PasswordEnv))
			if cam.password == "" {
				add(path+".password_env", "environment variable %s is empty or not set", cam.PasswordEnv)
			}
		case cam.Password != "":
			cam.password = cam.Password
		}
		if _, ok := Purposes[cam.Purpose]; !ok {
			add(path+".purpose", "unknown purpose %q (known: %s)", cam.Purpose, sortedNames(Purposes))
		}
		if _, ok := units[cam.OwnerUnit]; !ok {
			add(path+".owner_unit", "unknown unit %q (known: %s)", cam.OwnerUnit, sortedNames(units))
		}
		if strings.TrimSpace(cam.District) == "" {
			add(path+".district", "empty")
		}
		if msg := cam.Location.Problem(); msg != "" {
			add(path+".location", "%s", msg)
		}
		if cam.Mode != "" && !slices.Contains(Modes, cam.Mode) {
			add(path+".mode", "unknown mode %q (known: %s)", cam.Mode, strings.Join(Modes, ", "))
		}
		if cam.ONVIF != "" {
			if u, err := url.Parse(cam.ONVIF); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				add(path+".onvif", "want the device service's http(s)://host[:port]/path, without credentials (they are the camera's)")
			}
		}
		if r := cam.Record; r != nil {
			if r.Segment < 10*time.Second || r.Segment > time.Hour {
				add(path+".record.segment", "want 10s to 1h, got %s", r.Segment)
			}
			if r.Retention < time.Hour || r.Retention > 366*24*time.Hour {
				add(path+".record.retention", "want 1h to 366 days, got %s", r.Retention)
			}
		}
		if cam.ProbeInterval < 0 {
			add(path+".probe_interval", "negative")
		}
		e := cam.Expected
		if e.Codec != "" && e.Codec != "H264" && e.Codec != "H265" {
			add(path+".expected.codec", "want H264 or H265, got %q", e.Codec)
		}
		if e.Width < 0 || e.Height < 0 || e.FPS < 0 || e.BitrateKbps < 0 {
			add(path+".expected", "negative size, frame rate or bitrate")
		}
		if e.FPS > 240 {
			add(path+".expected.fps", "%g frames per second is not a camera's rate", e.FPS)
		}
	}
	return p
}

func sortedNames(m map[string]string) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
