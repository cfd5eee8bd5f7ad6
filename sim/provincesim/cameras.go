package provincesim

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/sim/citizensim"
)

// Cameras are the province's cameras running as simulated RTSP cameras on this machine.
type Cameras struct {
	p    *Province
	cams map[string]*camsim.Camera
	list []*camsim.Camera
}

// cameraScript is what a camera's analytics report by purpose: traffic and border-gate
// cameras count and track vehicles; the others only report motion.
func cameraScript(purpose string) []camsim.ScriptEvent {
	switch purpose {
	case "traffic", "border_gate":
		return []camsim.ScriptEvent{
			{Kind: "motion", Rule: "ChuyenDong", State: "true"},
			{Kind: "object", Class: "Vehicle", Plate: "24A-123.45", ObjectID: 1},
			{Kind: "line_crossing", Rule: "VachDung", ObjectID: 1},
			{Kind: "object_count", Rule: "DemXe", Count: 17},
			{Kind: "motion", Rule: "ChuyenDong", State: "false"},
		}
	default:
		return []camsim.ScriptEvent{
			{Kind: "motion", Rule: "ChuyenDong", State: "true"},
			{Kind: "motion", Rule: "ChuyenDong", State: "false"},
		}
	}
}

// cameraFault reads a fault's name.
func cameraFault(name string) (camsim.Fault, error) {
	switch name {
	case "refuse":
		return camsim.Fault{Refuse: true}, nil
	case "hang":
		return camsim.Fault{Hang: true}, nil
	case "stall":
		return camsim.Fault{Stall: true}, nil
	}
	return camsim.Fault{}, fmt.Errorf("want refuse, hang or stall, got %q", name)
}

// MaxCameras bounds a province's cameras: RTSP takes the ports from the base port, ONVIF the
// MaxCameras ports after those.
const MaxCameras = 64

// StartCameras starts the province's cameras on host, RTSP on ports from basePort and ONVIF
// services on ports from basePort+MaxCameras: small streams that draw a street scene with the
// camera's id and clock, with an ONVIF metadata track. With faults, each camera's fault from
// the province file is set.
func (p *Province) StartCameras(host string, basePort int, faults bool, log *slog.Logger) (*Cameras, error) {
	if len(p.Cameras) > MaxCameras {
		return nil, fmt.Errorf("%d simulated cameras: at most %d", len(p.Cameras), MaxCameras)
	}
	c := &Cameras{p: p, cams: map[string]*camsim.Camera{}}
	for i, spec := range p.Cameras {
		cfg := camsim.Config{ID: spec.ID, Width: 320, Height: 180, FPS: 10, BitrateKbps: 256, Metadata: true, Script: cameraScript(spec.Purpose), Picture: true}
		if !spec.NoONVIF {
			cfg.ONVIFAddr = net.JoinHostPort(host, strconv.Itoa(basePort+MaxCameras+i))
		}
		cam, err := camsim.NewCamera(cfg, net.JoinHostPort(host, strconv.Itoa(basePort+i)), log)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("simulated camera %s: %w", spec.ID, err)
		}
		c.cams[spec.ID] = cam
		c.list = append(c.list, cam)
		if faults && spec.Fault != "" {
			if err := c.SetFault(spec.ID, spec.Fault, true); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	return c, nil
}

// SetFault sets (on) or clears a fault on camera id.
func (c *Cameras) SetFault(id, fault string, on bool) error {
	cam := c.cams[id]
	if cam == nil {
		return fmt.Errorf("camera %s: not simulated", id)
	}
	f, err := cameraFault(fault)
	if err != nil {
		return fmt.Errorf("camera %s: %w", id, err)
	}
	if !on {
		f = camsim.Fault{}
	}
	return cam.SetFault(f)
}

// Close stops every camera.
func (c *Cameras) Close() {
	for _, cam := range c.list {
		cam.Close()
	}
}

// CatalogYAML is a camera catalog of the running cameras for ioc, watched in mode.
func (c *Cameras) CatalogYAML(mode string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Simulated cameras of %s.\ncameras:\n", c.p.Title.EN)
	for i, spec := range c.p.Cameras {
		fmt.Fprintf(&b, "  - id: %s\n    name: %q\n    url: %s\n", spec.ID, spec.Name, c.list[i].URL())
		fmt.Fprintf(&b, "    location: {lat: %.5f, lon: %.5f}\n    district: %q\n    commune: %q\n", spec.Lat, spec.Lon, spec.District, spec.Commune)
		fmt.Fprintf(&b, "    purpose: %s\n    owner_unit: %s\n", spec.Purpose, spec.OwnerUnit)
		fmt.Fprintf(&b, "    expected: {codec: H264, width: 320, height: 180, fps: 10}\n    mode: %s\n", mode)
		if u := c.list[i].DeviceURL(); u != "" {
			fmt.Fprintf(&b, "    onvif: %s\n", u)
		}
		if spec.Record {
			b.WriteString("    record: {segment: 1m, retention: 1h}\n")
		}
	}
	return []byte(b.String())
}

// Places are where the province's simulated citizens report from: its cameras' and stations'
// spots.
func (p *Province) Places() []citizensim.Place {
	var out []citizensim.Place
	for _, c := range p.Cameras {
		out = append(out, citizensim.Place{Name: c.Name, Location: geo.Location{Lat: c.Lat, Lon: c.Lon}})
	}
	for _, s := range p.sensors {
		out = append(out, citizensim.Place{Name: s.Name, Location: s.Location})
	}
	return out
}
