package ngsild

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/streams"
)

// Entity types served, from Smart Data Models.
const (
	TypeWaterObserved        = "WaterObserved"
	TypeWeatherObserved      = "WeatherObserved"
	TypeWaterQualityObserved = "WaterQualityObserved"
	TypeTrafficFlowObserved  = "TrafficFlowObserved"
	TypeDevice               = "Device"
	TypeCamera               = "Camera"
	TypeAlert                = "Alert"
)

// Types lists the entity types served (config.EntityTypes: a partner's key is scoped to them).
var Types = config.EntityTypes

// Observed maps a sensor kind to the entity type of its observations; a sensor of a kind not
// listed is served as its Device only.
var Observed = map[string]string{
	"river_gauge":     TypeWaterObserved,
	"lake_level":      TypeWaterObserved,
	"rain_gauge":      TypeWeatherObserved,
	"weather":         TypeWeatherObserved,
	"water_quality":   TypeWaterQualityObserved,
	"wastewater":      TypeWaterQualityObserved,
	"salinity":        TypeWaterQualityObserved,
	"traffic_counter": TypeTrafficFlowObserved,
}

// Attribute maps a metric to its attribute in an entity type: the Smart Data Models name
// where the model has one, else a name of this project's vocabulary (in the @context).
var Attribute = map[string]map[string]string{
	TypeWaterObserved: {"water_level": "height", "discharge": "flow"},
	TypeWeatherObserved: {"rainfall": "precipitation", "rain_intensity": "precipitationIntensity", "air_temperature": "temperature",
		"humidity": "relativeHumidity", "wind_speed": "windSpeed", "wind_direction": "windDirection", "pressure": "atmosphericPressure"},
	TypeWaterQualityObserved: {"ph": "pH", "turbidity": "turbidity", "conductivity": "conductivity", "temperature": "temperature",
		"salinity": "salinity", "tss": "tss", "do": "O2", "nh": "NH4", "free_chlorine": "freeChlorine", "cod": "chemicalOxygenDemand",
		"bod": "biochemicalOxygenDemand", "water_level": "waterLevel"},
	TypeTrafficFlowObserved: {"vehicle_count": "intensity", "avg_speed": "averageVehicleSpeed", "occupancy": "occupancy",
		"car_count": "carCount", "motorbike_count": "motorbikeCount", "truck_count": "truckCount"},
}

// unitCodes are the UN/CEFACT codes of the units readings carry; a unit not listed is served
// without a unitCode.
var unitCodes = map[string]string{
	"m": "MTR", "mm": "MMT", "cm": "CMT", "Cel": "CEL", "°C": "CEL", "%": "P1", "km/h": "KMH", "m/s": "MTS",
	"hPa": "A97", "m3/s": "MQS", "mm/h": "H67", "mg/L": "M1", "NTU": "NTU", "‰": "PTH", "mS/cm": "H61", "uS/cm": "G42", "µS/cm": "G42",
}

// cameraUsage is a camera purpose as the Camera model's cameraUsage.
var cameraUsage = map[string]string{"traffic": "TRAFFIC", "security": "SURVEILLANCE", "border_gate": "SURVEILLANCE",
	"tourism": "SURVEILLANCE", "flood_watch": "SURVEILLANCE"}

// Value is a sensor's latest value of one metric.
type Value struct {
	Metric string
	Value  float64
	Unit   string
	Time   time.Time
}

// CameraState is a camera's latest status.
type CameraState struct {
	State string
	Time  time.Time
	FPS   float64
}

// Snapshot is what the entities are made of: the catalogs, the latest values and states, the
// live alerts.
type Snapshot struct {
	Sensors *ingest.Catalog
	// Latest holds each sensor's latest values, by sensor id.
	Latest  map[string][]Value
	Cameras *streams.CameraCatalog
	// CameraStates holds each camera's latest status, by camera id.
	CameraStates map[string]CameraState
	Alerts       []alerts.Alert
	Now          time.Time
}

// Attr is one attribute of an entity: a Property (Value), a GeoProperty (Value, GeoJSON) or a
// Relationship (Object).
type Attr struct {
	Type       string `json:"type"`
	Value      any    `json:"value,omitempty"`
	Object     string `json:"object,omitempty"`
	ObservedAt string `json:"observedAt,omitempty"`
	UnitCode   string `json:"unitCode,omitempty"`
}

// Entity is one NGSI-LD entity and the district it lies in (a partner's scope).
type Entity struct {
	ID       string
	Type     string
	Attrs    map[string]Attr
	District string
}

// ID is the URN of the entity of type typ for the subject id.
func ID(typ, id string) string { return "urn:ngsi-ld:" + typ + ":" + id }

// Entities builds every entity of s of types (none: of every type), ordered by id.
func Entities(s *Snapshot, types ...string) []Entity {
	want := func(t string) bool { return len(types) == 0 || slices.Contains(types, t) }
	var out []Entity
	if s.Sensors != nil {
		for i := range s.Sensors.Sensors {
			out = append(out, sensorEntities(&s.Sensors.Sensors[i], s.Latest[s.Sensors.Sensors[i].ID], s.Now, want)...)
		}
	}
	if s.Cameras != nil && want(TypeCamera) {
		for i := range s.Cameras.Cameras {
			c := &s.Cameras.Cameras[i]
			out = append(out, cameraEntity(c, s.CameraStates[c.ID]))
		}
	}
	for i := range s.Alerts {
		if want(TypeAlert) {
			out = append(out, alertEntity(&s.Alerts[i], s.Sensors))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func text(v string) Attr { return Attr{Type: "Property", Value: v} }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func dateTime(t time.Time) Attr {
	return Attr{Type: "Property", Value: map[string]any{"@type": "DateTime", "@value": stamp(t)}}
}

func point(l geo.Location) Attr {
	return Attr{Type: "GeoProperty", Value: map[string]any{"type": "Point", "coordinates": []float64{l.Lon, l.Lat}}}
}

func address(district, commune string) Attr {
	a := map[string]any{"addressRegion": district, "addressCountry": "VN"}
	if commune != "" {
		a["addressLocality"] = commune
	}
	return Attr{Type: "Property", Value: a}
}

// sensorEntities are a sensor's Device and, for the kinds Observed maps, its observation, of
// the types wanted.
func sensorEntities(s *ingest.Sensor, latest []Value, now time.Time, want func(string) bool) []Entity {
	var last time.Time
	for _, v := range latest {
		last = maxTime(last, v.Time)
	}
	var out []Entity
	devID := ID(TypeDevice, s.ID)
	if want(TypeDevice) {
		dev := Entity{ID: devID, Type: TypeDevice, District: s.District, Attrs: map[string]Attr{
			"name": text(s.Name), "location": point(s.Location), "address": address(s.District, s.Commune),
			"category": {Type: "Property", Value: []string{"sensor"}}, "sensorKind": text(s.Kind), "owner": text(s.OwnerUnit),
		}}
		var props []string
		for _, m := range s.Metrics {
			props = append(props, m.Name)
		}
		dev.Attrs["controlledProperty"] = Attr{Type: "Property", Value: props}
		state := "silent"
		if !last.IsZero() {
			dev.Attrs["dateLastValueReported"] = dateTime(last)
			if now.Sub(last) <= s.SilentAfter() {
				state = "ok"
			}
		}
		dev.Attrs["deviceState"] = text(state)
		out = append(out, dev)
	}
	typ, observed := Observed[s.Kind]
	if !observed || !want(typ) {
		return out
	}
	obs := Entity{ID: ID(typ, s.ID), Type: typ, District: s.District, Attrs: map[string]Attr{
		"name": text(s.Name), "location": point(s.Location), "address": address(s.District, s.Commune),
		"refDevice": {Type: "Relationship", Object: devID},
	}}
	if !last.IsZero() {
		obs.Attrs["dateObserved"] = dateTime(last)
	}
	for _, v := range latest {
		name := Attribute[typ][v.Metric]
		if name == "" {
			continue
		}
		obs.Attrs[name] = Attr{Type: "Property", Value: v.Value, ObservedAt: stamp(v.Time), UnitCode: unitCodes[v.Unit]}
	}
	if s.AlarmLevels != nil && typ == TypeWaterObserved { // báo động I, II, III of the gauge
		obs.Attrs["alarmLevels"] = Attr{Type: "Property", Value: []float64{s.AlarmLevels.I, s.AlarmLevels.II, s.AlarmLevels.III}, UnitCode: "MTR"}
	}
	return append(out, obs)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cameraEntity is a camera, without its stream's address or credentials.
func cameraEntity(c *streams.Camera, st CameraState) Entity {
	e := Entity{ID: ID(TypeCamera, c.ID), Type: TypeCamera, District: c.District, Attrs: map[string]Attr{
		"name": text(c.Name), "cameraName": text(c.Name), "location": point(c.Location), "address": address(c.District, c.Commune),
		"cameraUsage": text(cameraUsage[c.Purpose]), "owner": text(c.OwnerUnit),
	}}
	if st.State != "" {
		e.Attrs["on"] = Attr{Type: "Property", Value: st.State != "offline", ObservedAt: stamp(st.Time)}
		e.Attrs["streamState"] = Attr{Type: "Property", Value: st.State, ObservedAt: stamp(st.Time)}
		if st.FPS > 0 {
			e.Attrs["frameRate"] = Attr{Type: "Property", Value: st.FPS, ObservedAt: stamp(st.Time), UnitCode: "E20"}
		}
	}
	return e
}

// alertEntity is a live alert on the Smart Data Models Alert; its source is the observation
// or camera entity it is about (a citizen report's alert names its group).
func alertEntity(a *alerts.Alert, sensors *ingest.Catalog) Entity {
	e := Entity{ID: ID(TypeAlert, a.ID), Type: TypeAlert, District: a.District, Attrs: map[string]Attr{
		"name": text(a.Title.VI), "description": text(a.Description.Lang("vi")), "category": text(a.Category),
		"subCategory": text(a.SubCategory), "severity": text(string(a.Severity)), "alertState": text(string(a.State)),
		"dateIssued": dateTime(a.StartsAt), "validFrom": dateTime(a.StartsAt), "dateModified": dateTime(a.UpdatedAt),
		"address": address(a.District, a.Commune),
	}}
	if a.Title.EN != "" {
		e.Attrs["alternateName"] = text(a.Title.EN)
	}
	if a.Location != (geo.Location{}) {
		e.Attrs["location"] = point(a.Location)
	}
	if a.AlarmLevel > 0 {
		e.Attrs["alarmLevel"] = Attr{Type: "Property", Value: a.AlarmLevel}
	}
	if a.RiskLevel > 0 {
		e.Attrs["riskLevel"] = Attr{Type: "Property", Value: a.RiskLevel}
	}
	source := "urn:ioc:" + a.Source + ":" + a.Subject
	switch a.Source {
	case alerts.SourceSensor:
		source = ID(TypeDevice, a.Subject)
		if sensors != nil {
			if s := sensors.Lookup(a.Subject); s != nil {
				if typ, ok := Observed[s.Kind]; ok {
					source = ID(typ, a.Subject)
				}
			}
		}
	case alerts.SourceCamera:
		source = ID(TypeCamera, a.Subject)
	case alerts.SourceDistrict:
		source = "urn:ioc:district:" + strings.ReplaceAll(a.Subject, " ", "_")
	}
	e.Attrs["alertSource"] = text(source)
	return e
}
