package dashboard

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/hub"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// Live kinds and topics. A reading belongs to "sensors", "sensor.<id>" and
// "district.<name>"; a camera state to "cameras", "camera.<id>" and "district.<name>"; an
// alert to "alerts" and "alerts.unit.<unit>" for each unit it is routed to; the KPIs to "kpi".
const (
	KindReading = "reading"
	KindCamera  = "camera"
	KindAlert   = "alert"
	KindKPI     = "kpi"
)

// SensorValue is a sensor's latest value of one metric.
type SensorValue struct {
	Sensor string    `json:"sensor"`
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
	Text   string    `json:"text,omitempty"`
	Unit   string    `json:"unit"`
	Time   time.Time `json:"time"`
	// Alarm is the flood alarm level (báo động 1-3) a river gauge's water level stands at, 0
	// below báo động I.
	Alarm int `json:"alarm,omitempty"`
}

// CameraState is a camera's latest status.
type CameraState struct {
	Camera      string    `json:"camera"`
	State       string    `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Detail      string    `json:"detail,omitempty"`
	Since       time.Time `json:"since"`
	Time        time.Time `json:"time"`
	Codec       string    `json:"codec,omitempty"`
	Width       int       `json:"width,omitempty"`
	Height      int       `json:"height,omitempty"`
	FPS         float64   `json:"fps"`
	BitrateKbps float64   `json:"bitrate_kbps"`
	Loss        float64   `json:"loss"`
}

// AlertChange is an alert event as the live hub sends it.
type AlertChange struct {
	Event alerts.EventKind `json:"event"`
	Actor string           `json:"actor"`
	Alert alerts.Alert     `json:"alert"`
}

// KPI are the operations room's headline figures.
type KPI struct {
	Time             time.Time `json:"time"`
	Sensors          int       `json:"sensors"`
	SensorsReporting int       `json:"sensors_reporting"`
	CamerasTotal     int       `json:"cameras_total"`
	CamerasOnline    int       `json:"cameras_online"`
	CamerasDegraded  int       `json:"cameras_degraded"`
	CamerasOffline   int       `json:"cameras_offline"`
	// RiversOverAlarm counts the river gauges at or over báo động I, II and III.
	RiversOverAlarm [3]int `json:"rivers_over_alarm"`
}

// City is the live city the dashboard shows: it hears the readings, camera statuses and alert
// events the other roles accept, keeps their latest states in the hub, and computes the KPIs.
type City struct {
	hub         *hub.Hub
	sensorEvery time.Duration
	log         *slog.Logger
	now         func() time.Time

	mu      sync.RWMutex
	sensors *ingest.Catalog
	cameras *streams.CameraCatalog
}

// NewCity builds the live city over h; sensorEvery paces each sensor's values to clients.
func NewCity(h *hub.Hub, sensors *ingest.Catalog, cameras *streams.CameraCatalog, sensorEvery time.Duration, log *slog.Logger) *City {
	return &City{hub: h, sensors: sensors, cameras: cameras, sensorEvery: sensorEvery, log: log, now: time.Now}
}

// Hub is the city's live hub.
func (c *City) Hub() *hub.Hub { return c.hub }

// SetCatalogs puts reloaded catalogs in use; nil keeps the current one.
func (c *City) SetCatalogs(sensors *ingest.Catalog, cameras *streams.CameraCatalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sensors != nil {
		c.sensors = sensors
	}
	if cameras != nil {
		c.cameras = cameras
	}
}

// Catalogs returns the catalogs in use (either may be nil).
func (c *City) Catalogs() (*ingest.Catalog, *streams.CameraCatalog) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sensors, c.cameras
}

// alarmLevel is the báo động level v stands at, 0 below I.
func alarmLevel(s *ingest.Sensor, metric string, v float64) int {
	if s == nil || metric != "water_level" {
		return 0
	}
	return s.AlarmLevels.Level(v)
}

// Readings shows accepted readings.
func (c *City) Readings(rs []ingest.Reading) {
	sensors, _ := c.Catalogs()
	for i := range rs {
		r := &rs[i]
		if i+1 < len(rs) && rs[i+1].Sensor == r.Sensor && rs[i+1].Metric == r.Metric {
			continue // the next one replaces it before anyone sees it (a SenML pack is one sensor's)
		}
		var s *ingest.Sensor
		district := ""
		if sensors != nil {
			if s = sensors.Lookup(r.Sensor); s != nil {
				district = s.District
			}
		}
		c.hub.Publish(hub.Item{Key: "r/" + r.Sensor + "/" + r.Metric, Kind: KindReading,
			Topics: []string{"sensors", "sensor." + r.Sensor, "district." + district}, Every: c.sensorEvery,
			Data: SensorValue{Sensor: r.Sensor, Metric: r.Metric, Value: r.Value, Text: r.Text, Unit: r.Unit, Time: r.Time, Alarm: alarmLevel(s, r.Metric, r.Value)}})
	}
}

// Warm shows the stored last values of sensors and last statuses of cameras that have sent
// nothing newer yet (at start).
func (c *City) Warm(rs []ingest.Reading, ss []streams.CameraStatus) {
	c.Readings(slices.DeleteFunc(rs, func(r ingest.Reading) bool { return c.seen("r/" + r.Sensor + "/" + r.Metric) }))
	c.CameraStatuses(slices.DeleteFunc(ss, func(s streams.CameraStatus) bool { return c.seen("c/" + s.Camera) }))
}

func (c *City) seen(key string) bool {
	_, ok := c.hub.Get(key)
	return ok
}

// CameraStatuses shows cameras' statuses.
func (c *City) CameraStatuses(ss []streams.CameraStatus) {
	_, cams := c.Catalogs()
	for i := range ss {
		s := &ss[i]
		district := ""
		if cams != nil {
			if cam := cams.Lookup(s.Camera); cam != nil {
				district = cam.District
			}
		}
		c.hub.Publish(hub.Item{Key: "c/" + s.Camera, Kind: KindCamera, Topics: []string{"cameras", "camera." + s.Camera, "district." + district},
			Every: c.sensorEvery, Data: CameraState{Camera: s.Camera, State: string(s.State), Reason: string(s.Reason), Detail: s.Detail,
				Since: s.Since, Time: s.Time, Codec: s.Codec, Width: s.Width, Height: s.Height, FPS: s.FPS, BitrateKbps: s.BitrateKbps, Loss: s.LossRatio()}})
	}
}

// AlertChanged shows an alert event (alerts.Live).
func (c *City) AlertChanged(e alerts.Event) {
	topics := []string{"alerts"}
	for _, u := range e.Alert.Units {
		topics = append(topics, "alerts.unit."+u)
	}
	c.hub.Publish(hub.Item{Key: "a/" + e.Alert.ID, Kind: KindAlert, Topics: topics, Final: e.Alert.State == alerts.StateResolved,
		Data: AlertChange{Event: e.Kind, Actor: e.Actor, Alert: e.Alert}})
}

// SetClock sets the clock the KPIs are judged by (the wall clock unless a simulation runs the
// server on its own time); call it before Run.
func (c *City) SetClock(now func() time.Time) { c.now = now }

// KPIs computes the headline figures from the live state: a sensor reports when it sent a
// value within three of its intervals (ten minutes when the catalog gives none).
func (c *City) KPIs(now time.Time) KPI {
	sensors, cams := c.Catalogs()
	k := KPI{Time: now.UTC()}
	if sensors != nil {
		k.Sensors = sensors.Len()
	}
	if cams != nil {
		k.CamerasTotal = cams.Len()
	}
	reporting := map[string]bool{}
	level := map[string]int{}
	c.hub.Each(KindReading, func(_ string, data any) {
		v := data.(SensorValue)
		within := 10 * time.Minute
		if sensors != nil {
			s := sensors.Lookup(v.Sensor)
			if s == nil { // not in the catalog (any more): not one of the province's sensors
				return
			}
			if s.Interval > 0 {
				within = s.SilentAfter()
			}
		}
		if now.Sub(v.Time) <= within {
			reporting[v.Sensor] = true
		}
		if v.Metric == "water_level" {
			level[v.Sensor] = v.Alarm
		}
	})
	k.SensorsReporting = len(reporting)
	for _, l := range level {
		for i := range l {
			k.RiversOverAlarm[i]++
		}
	}
	c.hub.Each(KindCamera, func(_ string, data any) {
		switch data.(CameraState).State {
		case string(streams.StateOnline):
			k.CamerasOnline++
		case string(streams.StateDegraded):
			k.CamerasDegraded++
		default:
			k.CamerasOffline++
		}
	})
	return k
}

// Run publishes the KPIs every interval until ctx ends.
func (c *City) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.hub.Publish(hub.Item{Key: "kpi", Kind: KindKPI, Topics: []string{"kpi"}, Data: c.KPIs(c.now())})
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ObserveReadings shows accepted readings on the live city. It implements ingest.Observer.
func (c *City) ObserveReadings(_ context.Context, readings []ingest.Reading, _ []streams.CameraEvent) error {
	c.Readings(readings)
	return nil
}

// ObserveCameras shows camera statuses on the live city. It implements ingest.Observer.
func (c *City) ObserveCameras(_ context.Context, statuses []streams.CameraStatus, _ []streams.CameraEvent) error {
	c.CameraStatuses(statuses)
	return nil
}
