package camsim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// FleetConfig is a group of alike simulated cameras on consecutive ports.
type FleetConfig struct {
	Count    int
	Host     string
	BasePort int
	// IDPrefix names camera i (from 1) IDPrefix-0001 and so on.
	IDPrefix string
	// Camera is the template of every camera; its ID is replaced.
	Camera Config
	// Faults are set on the cameras numbered by their keys (from 1) at start.
	Faults map[int]Fault
	// WrongPassword lists cameras that demand a password other than Camera.Password.
	WrongPassword map[int]bool
}

// Fleet is a running group of simulated cameras.
type Fleet struct {
	Cameras []*Camera
	cfg     FleetConfig
}

// StartFleet starts fc.Count cameras on fc.Host, ports fc.BasePort onwards.
func StartFleet(fc FleetConfig, log *slog.Logger) (*Fleet, error) {
	if fc.Count < 1 {
		return nil, errors.New("camera count: want at least 1")
	}
	if fc.BasePort < 1 || fc.BasePort+fc.Count-1 > 65535 {
		return nil, fmt.Errorf("ports %d to %d: want them within 1-65535", fc.BasePort, fc.BasePort+fc.Count-1)
	}
	f := &Fleet{cfg: fc}
	for i := 1; i <= fc.Count; i++ {
		cfg := fc.Camera
		cfg.ID = fmt.Sprintf("%s-%04d", fc.IDPrefix, i)
		if fc.WrongPassword[i] {
			if cfg.User == "" {
				cfg.User = "admin"
			}
			cfg.Password = "not-" + cfg.Password + "-" + strconv.Itoa(i)
		}
		cam, err := NewCamera(cfg, net.JoinHostPort(fc.Host, strconv.Itoa(fc.BasePort+i-1)), log)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Cameras = append(f.Cameras, cam)
		if fault, ok := fc.Faults[i]; ok {
			if err := cam.SetFault(fault); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return f, nil
}

// Close stops every camera.
func (f *Fleet) Close() {
	for _, c := range f.Cameras {
		c.Close()
	}
}

// CatalogYAML is a camera catalog of the fleet for ioc: every camera at a spot around Lào Cai
// city, expected to stream what the template says, watched in mode.
func (f *Fleet) CatalogYAML(mode string) []byte {
	var b strings.Builder
	b.WriteString("# Simulated cameras (ioc sim cameras).\ncameras:\n")
	t := f.cfg.Camera
	for i, c := range f.Cameras {
		lat := 22.48 + float64(i%50)*0.0008
		lon := 103.95 + float64(i/50)*0.0008
		fmt.Fprintf(&b, "  - id: %s\n    name: Camera mô phỏng %d\n    url: %s\n", c.ID(), i+1, c.URL())
		if t.User != "" {
			fmt.Fprintf(&b, "    username: %s\n    password: %q\n", t.User, t.Password)
		}
		fmt.Fprintf(&b, "    location: {lat: %.5f, lon: %.5f}\n    district: TP Lào Cai\n    purpose: traffic\n    owner_unit: traffic_police\n", lat, lon)
		fmt.Fprintf(&b, "    expected: {codec: H264, width: %d, height: %d, fps: %d}\n    mode: %s\n", t.Width, t.Height, t.FPS, mode)
	}
	return []byte(b.String())
}

// ParseFaults reads a fault list such as "3=refuse,5=stall:30s,7=drop:10,9=fps:5,11=password":
// camera number (from 1), then refuse, hang, password (demands another password), stall
// (now, or after a duration), drop:PERCENT, fps:N, bitrate:KBPS or badmeta.
func ParseFaults(spec string) (map[int]Fault, map[int]bool, error) {
	faults, wrong := map[int]Fault{}, map[int]bool{}
	if strings.TrimSpace(spec) == "" {
		return faults, wrong, nil
	}
	for _, item := range strings.Split(spec, ",") {
		num, what, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 {
			return nil, nil, fmt.Errorf("fault %q: want N=kind[:value] with N a camera number from 1", item)
		}
		kind, arg, hasArg := strings.Cut(what, ":")
		f := faults[n]
		switch kind {
		case "refuse":
			f.Refuse = true
		case "hang":
			f.Hang = true
		case "password":
			wrong[n] = true
		case "badmeta":
			f.BadMetadata = true
		case "stall":
			if !hasArg {
				f.Stall = true
				break
			}
			d, err := time.ParseDuration(arg)
			if err != nil || d <= 0 {
				return nil, nil, fmt.Errorf("fault %q: want stall or stall:DURATION such as stall:30s", item)
			}
			f.StallAfter = d
		case "drop", "fps", "bitrate":
			v, err := strconv.ParseFloat(arg, 64)
			if !hasArg || err != nil || v <= 0 || (kind == "drop" && v > 100) {
				return nil, nil, fmt.Errorf("fault %q: want %s:N with N positive (drop: a percentage)", item, kind)
			}
			switch kind {
			case "drop":
				f.DropPercent = v
			case "fps":
				f.FPS = int(v)
			case "bitrate":
				f.BitrateKbps = int(v)
			}
		default:
			return nil, nil, fmt.Errorf("fault %q: unknown kind %q (known: refuse, hang, password, stall, drop, fps, bitrate, badmeta)", item, kind)
		}
		if kind != "password" {
			faults[n] = f
		}
	}
	return faults, wrong, nil
}
