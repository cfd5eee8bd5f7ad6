package dashboard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/tiles"
	"github.com/haidang-ioc/ioc/ingest/citizen"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// MeAnswer is the caller and what its role may do.
type MeAnswer struct {
	auth.Principal
	Permissions []auth.Permission `json:"permissions"`
}

func (s *Server) me(c *fiber.Ctx, p *auth.Principal) error {
	return c.JSON(MeAnswer{Principal: *p, Permissions: p.Permissions()})
}

// UIConfig is what the web UI needs to know of this server.
type UIConfig struct {
	Version string `json:"version"`
	// TileURL is the map tile server on the closed network, or ioc's own tiles (under
	// /api/v1: the UI fetches them with its token); "" to draw district outlines only.
	TileURL string `json:"tile_url"`
	// LiveView says whether cameras have a live view link (a media server is configured).
	LiveView bool `json:"live_view"`
	// Video says whether the cameras play live in the page (MediaMTX's WebRTC, WHEP).
	Video bool `json:"video"`
	// CitizenCategories are the citizen reports' categories, when the citizen apps are served.
	CitizenCategories []citizen.Category `json:"citizen_categories,omitempty"`
	// ClipDownloadUnits are the units whose members may save recorded clips (administrators
	// always may).
	ClipDownloadUnits []string `json:"clip_download_units,omitempty"`
	TimeZone          string   `json:"time_zone"`
	// Now is the server's clock, which the UI follows (for what is recent, the trends' range
	// and the header's clock): a simulated province's clock may run ahead or behind.
	Now time.Time `json:"now"`
	// Simulation, when set, says the province is simulated and how fast its clock runs.
	Simulation *Simulation `json:"simulation,omitempty"`
}

func (s *Server) uiConfig(c *fiber.Ctx, _ *auth.Principal) error {
	tileURL := s.opts.HTTP.TileURL
	if s.opts.Tiles != nil {
		tileURL = APIPrefix + "/tiles/{z}/{x}/{y}"
	}
	ui := UIConfig{Version: s.opts.Version, TileURL: tileURL, LiveView: s.opts.HTTP.MediaURL != "", Video: s.opts.Video != nil && s.opts.Video.WebRTCURL != "",
		TimeZone: geo.ZoneName, Now: s.opts.Clock().UTC(), Simulation: s.opts.Simulation}
	if s.opts.Video != nil {
		ui.ClipDownloadUnits = s.opts.Video.DownloadUnits
	}
	if s.opts.Citizen != nil {
		ui.CitizenCategories = citizen.Categories
	}
	return c.JSON(ui)
}

// SensorInfo is a catalog sensor with its latest values.
type SensorInfo struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Kind     string       `json:"kind"`
	District string       `json:"district"`
	Commune  string       `json:"commune,omitempty"`
	Location geo.Location `json:"location"`
	Unit     string       `json:"owner_unit,omitempty"`
	Metrics  []string     `json:"metrics"`
	Alarm    *[3]float64  `json:"alarm_levels,omitempty"`
	// IntervalS is how often the sensor reports, in seconds (0: not in the catalog).
	IntervalS float64 `json:"interval_s,omitempty"`
	// SilentAfterS is how long it may stay quiet before it counts as silent, in seconds
	// (ingest.Sensor.SilentAfter: the map, the KPIs and the absence rules all use it).
	SilentAfterS float64       `json:"silent_after_s,omitempty"`
	Latest       []SensorValue `json:"latest"`
}

func (s *Server) sensorInfos() []SensorInfo {
	if s.src.City == nil {
		return nil
	}
	sensors, _ := s.src.City.Catalogs()
	if sensors == nil {
		return nil
	}
	latest := map[string][]SensorValue{}
	s.src.City.Hub().Each(KindReading, func(_ string, data any) {
		v := data.(SensorValue)
		latest[v.Sensor] = append(latest[v.Sensor], v)
	})
	out := make([]SensorInfo, 0, sensors.Len())
	for _, se := range sensors.Sensors {
		si := SensorInfo{ID: se.ID, Name: se.Name, Kind: se.Kind, District: se.District, Commune: se.Commune, Location: se.Location,
			Unit: se.OwnerUnit, IntervalS: se.Interval.Seconds(), SilentAfterS: se.SilentAfter().Seconds(), Latest: latest[se.ID]}
		for _, m := range se.Metrics {
			si.Metrics = append(si.Metrics, m.Name)
		}
		if a := se.AlarmLevels; a != nil {
			si.Alarm = &[3]float64{a.I, a.II, a.III}
		}
		if si.Latest == nil {
			si.Latest = []SensorValue{}
		}
		slices.SortFunc(si.Latest, func(a, b SensorValue) int { return strings.Compare(a.Metric, b.Metric) })
		out = append(out, si)
	}
	return out
}

var sensorSorters = map[string]func(a, b SensorInfo) int{
	"id":       func(a, b SensorInfo) int { return strings.Compare(a.ID, b.ID) },
	"name":     func(a, b SensorInfo) int { return strings.Compare(a.Name, b.Name) },
	"district": func(a, b SensorInfo) int { return strings.Compare(a.District, b.District) },
	"kind":     func(a, b SensorInfo) int { return strings.Compare(a.Kind, b.Kind) },
}

func (s *Server) listSensors(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	district, kind, q := c.Query("district"), c.Query("kind"), strings.ToLower(c.Query("q"))
	list := slices.DeleteFunc(s.sensorInfos(), func(si SensorInfo) bool {
		return (district != "" && si.District != district) || (kind != "" && si.Kind != kind) ||
			(q != "" && !strings.Contains(strings.ToLower(si.ID+" "+si.Name), q))
	})
	return sendPage(c, list, sensorSorters, "id")
}

func (s *Server) getSensor(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	for _, si := range s.sensorInfos() {
		if si.ID == c.Params("id") {
			return c.JSON(si)
		}
	}
	return errNotFound
}

// CameraInfo is a catalog camera with its latest state. Its RTSP address and credentials
// never leave the server; LiveURL is the media server's page when one is configured.
type CameraInfo struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	District string       `json:"district"`
	Purpose  string       `json:"purpose"`
	Unit     string       `json:"owner_unit,omitempty"`
	Location geo.Location `json:"location"`
	State    *CameraState `json:"state"`
	LiveURL  string       `json:"live_url,omitempty"`
	// Still says where the camera's still picture comes from (onvif, recording), when it has one.
	Still string `json:"still,omitempty"`
}

func (s *Server) cameraInfos() []CameraInfo {
	if s.src.City == nil {
		return nil
	}
	_, cams := s.src.City.Catalogs()
	if cams == nil {
		return []CameraInfo{}
	}
	out := make([]CameraInfo, 0, cams.Len())
	for _, cam := range cams.Cameras {
		ci := CameraInfo{ID: cam.ID, Name: cam.Name, District: cam.District, Purpose: cam.Purpose, Unit: cam.OwnerUnit, Location: cam.Location}
		if st, ok := s.src.City.Hub().Get("c/" + cam.ID); ok {
			v := st.(CameraState)
			ci.State = &v
		}
		ci.Still = s.stillSource(&cam)
		if s.opts.HTTP.MediaURL != "" {
			ci.LiveURL = strings.ReplaceAll(s.opts.HTTP.MediaURL, "{camera}", cam.ID)
		}
		out = append(out, ci)
	}
	return out
}

func cameraState(ci CameraInfo) string {
	if ci.State == nil {
		return "unknown"
	}
	return ci.State.State
}

var cameraSorters = map[string]func(a, b CameraInfo) int{
	"id":       func(a, b CameraInfo) int { return strings.Compare(a.ID, b.ID) },
	"name":     func(a, b CameraInfo) int { return strings.Compare(a.Name, b.Name) },
	"district": func(a, b CameraInfo) int { return strings.Compare(a.District, b.District) },
	"state":    func(a, b CameraInfo) int { return strings.Compare(cameraState(a), cameraState(b)) },
}

func (s *Server) listCameras(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	district, state, purpose := c.Query("district"), c.Query("state"), c.Query("purpose")
	list := slices.DeleteFunc(s.cameraInfos(), func(ci CameraInfo) bool {
		return (district != "" && ci.District != district) || (state != "" && cameraState(ci) != state) || (purpose != "" && ci.Purpose != purpose)
	})
	return sendPage(c, list, cameraSorters, "id")
}

func (s *Server) getCamera(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	for _, ci := range s.cameraInfos() {
		if ci.ID == c.Params("id") {
			return c.JSON(ci)
		}
	}
	return errNotFound
}

// DistrictSummary is one district's KPIs.
type DistrictSummary struct {
	Name            string            `json:"name"`
	Geocodes        map[string]string `json:"geocodes,omitempty"`
	Sensors         int               `json:"sensors"`
	Reporting       int               `json:"sensors_reporting"`
	RiversOverAlarm [3]int            `json:"rivers_over_alarm"`
	Cameras         int               `json:"cameras"`
	CamerasOnline   int               `json:"cameras_online"`
	// Alerts counts the live alerts the caller sees, by severity.
	Alerts map[alerts.Severity]int `json:"alerts"`
}

func (s *Server) listDistricts(c *fiber.Ctx, p *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	by := map[string]*DistrictSummary{}
	get := func(name string) *DistrictSummary {
		d := by[name]
		if d == nil {
			d = &DistrictSummary{Name: name, Alerts: map[alerts.Severity]int{}}
			by[name] = d
		}
		return d
	}
	sensors, _ := s.src.City.Catalogs()
	if sensors != nil {
		for _, d := range sensors.Districts {
			get(d.Name).Geocodes = d.Geocodes
		}
	}
	now := time.Now()
	for _, si := range s.sensorInfos() {
		d := get(si.District)
		d.Sensors++
		reporting := false
		for _, v := range si.Latest {
			reporting = reporting || now.Sub(v.Time) <= 10*time.Minute
			for i := range v.Alarm {
				d.RiversOverAlarm[i]++
			}
		}
		if reporting {
			d.Reporting++
		}
	}
	for _, ci := range s.cameraInfos() {
		d := get(ci.District)
		d.Cameras++
		if cameraState(ci) == "online" {
			d.CamerasOnline++
		}
	}
	if s.src.Alerts != nil {
		live, err := s.src.Alerts.Alerts(c.UserContext(), alerts.Filter{})
		if err != nil {
			return err
		}
		for _, a := range live {
			if p.Sees(a.Units) && a.District != "" {
				get(a.District).Alerts[a.Severity]++
			}
		}
	}
	out := make([]DistrictSummary, 0, len(by))
	for _, d := range by {
		if d.Name != "" {
			out = append(out, *d)
		}
	}
	return sendPage(c, out, map[string]func(a, b DistrictSummary) int{
		"name":    func(a, b DistrictSummary) int { return strings.Compare(a.Name, b.Name) },
		"sensors": func(a, b DistrictSummary) int { return cmp.Compare(a.Sensors, b.Sensors) },
	}, "name")
}

// GeoJSON is a FeatureCollection of the districts' outlines, for the map's background.
type GeoJSON struct {
	Type     string    `json:"type"`
	Features []Feature `json:"features"`
}

// Feature is one district's or commune's outline (property level: district or commune; a
// commune's district in property district). A district in several parts is a MultiPolygon.
type Feature struct {
	Type       string            `json:"type"`
	Properties map[string]string `json:"properties"`
	Geometry   struct {
		Type string `json:"type"`
		// Coordinates are a Polygon's rings or a MultiPolygon's polygons, [lon, lat].
		Coordinates any `json:"coordinates"`
	} `json:"geometry"`
}

// lonLat turns a [lat, lon] ring into GeoJSON's [lon, lat].
func lonLat(ring [][2]float64) [][2]float64 {
	out := make([][2]float64, len(ring))
	for i, pt := range ring {
		out[i] = [2]float64{pt[1], pt[0]}
	}
	return out
}

func (s *Server) districtOutlines(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.City == nil {
		return errUnavailable
	}
	out := GeoJSON{Type: "FeatureCollection", Features: []Feature{}}
	if sensors, _ := s.src.City.Catalogs(); sensors != nil {
		for _, d := range sensors.Districts {
			if len(d.Polygon) == 0 {
				continue
			}
			f := Feature{Type: "Feature", Properties: map[string]string{"name": d.Name, "level": "district"}}
			for k, v := range d.Geocodes {
				f.Properties["geocode_"+k] = v
			}
			f.Geometry.Type, f.Geometry.Coordinates = "Polygon", [][][2]float64{lonLat(d.Polygon)}
			if len(d.Parts) > 0 {
				polys := [][][][2]float64{{lonLat(d.Polygon)}}
				for _, part := range d.Parts {
					polys = append(polys, [][][2]float64{lonLat(part)})
				}
				f.Geometry.Type, f.Geometry.Coordinates = "MultiPolygon", polys
			}
			out.Features = append(out.Features, f)
		}
		for _, cm := range sensors.Communes {
			f := Feature{Type: "Feature", Properties: map[string]string{"name": cm.Name, "level": "commune", "district": cm.District}}
			f.Geometry.Type, f.Geometry.Coordinates = "Polygon", [][][2]float64{lonLat(cm.Polygon)}
			out.Features = append(out.Features, f)
		}
	}
	c.Set(fiber.HeaderContentType, "application/geo+json")
	return c.JSON(out, "application/geo+json")
}

func (s *Server) systemHealth(c *fiber.Ctx, _ *auth.Principal) error {
	ans := s.checkHealth(c.UserContext())
	return c.JSON(ans)
}

func (s *Server) tile(c *fiber.Ctx, _ *auth.Principal) error {
	if s.opts.Tiles == nil {
		return errNotFound
	}
	var zxy [3]uint64
	for i, name := range []string{"z", "x", "y"} {
		v, err := strconv.ParseUint(c.Params(name), 10, 32)
		if err != nil {
			return errBadRequest("bad_tile", name+": want a whole number")
		}
		zxy[i] = v
	}
	if zxy[0] > 24 {
		return errBadRequest("bad_tile", "z: at most 24")
	}
	b, err := s.opts.Tiles.Tile(uint8(zxy[0]), uint32(zxy[1]), uint32(zxy[2]))
	switch {
	case errors.Is(err, tiles.ErrNoTile):
		return errNotFound
	case errors.Is(err, tiles.ErrOutside):
		return errBadRequest("bad_tile", err.Error())
	case err != nil:
		return fmt.Errorf("map tile %d/%d/%d: %w", zxy[0], zxy[1], zxy[2], err)
	}
	c.Set(fiber.HeaderContentType, s.opts.Tiles.ContentType())
	if enc := s.opts.Tiles.ContentEncoding(); enc != "" {
		c.Set(fiber.HeaderContentEncoding, enc)
	}
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	return c.Send(b)
}
