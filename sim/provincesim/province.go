package provincesim

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

//go:embed provinces/*.yaml provinces/*.geojson
var provinceFiles embed.FS

// Provinces are the built-in provinces' names.
func Provinces() []string {
	ents, _ := provinceFiles.ReadDir("provinces") // embedded: cannot fail
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, name)
		}
	}
	return out
}

// Text is a Vietnamese text with its English translation.
type Text struct {
	VI string `yaml:"vi"`
	EN string `yaml:"en"`
}

// Params are a simulated sensor's model parameters, beside its catalog entry. Each kind reads
// the ones it needs.
type Params struct {
	// Format is the payload format the device sends: senml, ttn or json (default by kind:
	// river gauges and salinity stations SenML, weather stations and LoRaWAN rain gauges The
	// Things Stack uplinks, the rest generic JSON).
	Format string `yaml:"format"`
	// Gateway is a LoRaWAN device's gateway; a scenario's outage silences all its devices.
	Gateway string `yaml:"gateway"`
	// Base: river gauges, the dry-season level (m); salinity stations, the salinity (‰) at
	// the height of the dry season; traffic counters, vehicles per hour at the busiest time;
	// weather stations, the height above the sea (m).
	Base float64 `yaml:"base"`
	// Season is how much higher (m) a river runs at the height of the rainy season.
	Season float64 `yaml:"season"`
	// Catchment names the districts whose rain reaches a river gauge, Gain the rise (m) per mm
	// of routed rain, Lag the time from rain to the river's peak response.
	Catchment []string      `yaml:"catchment"`
	Gain      float64       `yaml:"gain"`
	Lag       time.Duration `yaml:"lag"`
	// Tide is a delta river gauge's tidal amplitude (m).
	Tide float64 `yaml:"tide"`
	// FreeSpeed is a road's speed (km/h) with no traffic; Gate marks a border gate's counter.
	FreeSpeed float64 `yaml:"free_speed"`
	Gate      bool    `yaml:"gate"`
}

// CameraSpec is a simulated camera of the province.
type CameraSpec struct {
	ID        string  `yaml:"id"`
	Name      string  `yaml:"name"`
	Purpose   string  `yaml:"purpose"`
	Lat       float64 `yaml:"lat"`
	Lon       float64 `yaml:"lon"`
	District  string  `yaml:"district"`
	Commune   string  `yaml:"commune"`
	OwnerUnit string  `yaml:"owner_unit"`
	// Fault is what is wrong with the camera when no scenario plays (refuse, hang or stall),
	// so that the live province shows every state.
	Fault string `yaml:"fault"`
	// Record has MediaMTX record the camera (its alerts' evidence clips).
	Record bool `yaml:"record"`
	// NoONVIF leaves the camera without ONVIF services (its still then comes from its
	// recording, if any).
	NoONVIF bool `yaml:"no_onvif"`
}

// file is a province's YAML file.
type file struct {
	Title   Text              `yaml:"title"`
	Climate Climate           `yaml:"climate"`
	Catalog yaml.Node         `yaml:"catalog"`
	Sim     map[string]Params `yaml:"sim"`
	Cameras []CameraSpec      `yaml:"cameras"`
}

// simSensor is a catalog sensor with its model.
type simSensor struct {
	ingest.Sensor
	Params
	hydrograph [responseHours + 1]float64
}

// Province is a simulated province: its sensors' catalog, their models, its cameras, and the
// scenario being played.
type Province struct {
	Name    string
	Title   Text
	Climate Climate
	Cameras []CameraSpec
	Seed    int64

	catalog  []byte // the catalog section, intervals as in the file
	sensors  []*simSensor
	events   []Event
	scenario *Scenario
}

// Load reads the built-in province name with the model's seed; profiles are ingest's.
func Load(name string, seed int64, profiles map[string]config.Profile) (*Province, error) {
	raw, err := provinceFiles.ReadFile("provinces/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("province %q: not built in (known: %s)", name, strings.Join(Provinces(), ", "))
	}
	return parse(name, raw, seed, profiles)
}

func parse(name string, raw []byte, seed int64, profiles map[string]config.Profile) (*Province, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("province %s: %w", name, err)
	}
	catalog, err := yaml.Marshal(&f.Catalog)
	if err != nil {
		return nil, fmt.Errorf("province %s: catalog: %w", name, err)
	}
	if catalog, err = inlineOutlines(catalog); err != nil {
		return nil, fmt.Errorf("province %s: catalog:\n%w", name, err)
	}
	cat, err := ingest.ParseCatalog(catalog, profiles)
	if err != nil {
		return nil, fmt.Errorf("province %s: catalog:\n%w", name, err)
	}
	p := &Province{Name: name, Title: f.Title, Climate: f.Climate, Cameras: f.Cameras, Seed: seed, catalog: catalog}
	var probs []string
	for _, s := range cat.Sensors {
		ps := f.Sim[s.ID]
		delete(f.Sim, s.ID)
		if ps.Format == "" {
			ps.Format = defaultFormat(s.Kind, ps.Gateway)
		}
		switch ps.Format {
		case "senml", "json":
		case "ttn":
			if ps.Gateway == "" || s.Profile == "" {
				probs = append(probs, fmt.Sprintf("sim.%s: a LoRaWAN device needs a gateway and a catalog profile", s.ID))
			}
		default:
			probs = append(probs, fmt.Sprintf("sim.%s.format: want senml, ttn or json, got %q", s.ID, ps.Format))
		}
		if s.Kind == "river_gauge" && (len(ps.Catchment) == 0 || ps.Gain <= 0) {
			probs = append(probs, fmt.Sprintf("sim.%s: a river gauge needs a catchment and a gain", s.ID))
		}
		ss := &simSensor{Sensor: s, Params: ps}
		if s.Kind == "river_gauge" {
			ss.hydrograph = response(ps.Lag)
		}
		p.sensors = append(p.sensors, ss)
	}
	for id := range f.Sim {
		probs = append(probs, fmt.Sprintf("sim.%s: no such sensor in the catalog", id))
	}
	seen := map[string]bool{}
	for i, c := range f.Cameras {
		if c.ID == "" || seen[c.ID] {
			probs = append(probs, fmt.Sprintf("cameras[%d].id: empty or repeated %q", i, c.ID))
		}
		seen[c.ID] = true
		if _, err := cameraFault(c.Fault); c.Fault != "" && err != nil {
			probs = append(probs, fmt.Sprintf("cameras[%d].fault: %v", i, err))
		}
	}
	if len(probs) > 0 {
		sort.Strings(probs)
		return nil, fmt.Errorf("province %s:\n%s", name, strings.Join(probs, "\n"))
	}
	return p, nil
}

func defaultFormat(kind, gateway string) string {
	switch {
	case gateway != "":
		return "ttn"
	case kind == "river_gauge" || kind == "salinity" || kind == "rain_gauge":
		return "senml"
	default:
		return "json"
	}
}

// CatalogYAML is the province's sensor catalog for ingest, every sensor's interval set to
// interval (the simulator's): the absence rules judge silence by it.
func (p *Province) CatalogYAML(interval time.Duration) []byte {
	var doc map[string]any
	_ = yaml.Unmarshal(p.catalog, &doc) // marshalled from a parsed node: cannot fail
	for _, s := range doc["sensors"].([]any) {
		s.(map[string]any)["interval"] = interval.String()
	}
	out, _ := yaml.Marshal(doc) // plain maps and lists
	return out
}

// Sensors is the number of simulated sensors.
func (p *Province) Sensors() int { return len(p.sensors) }

// Catalog is built-in province name's sensor catalog (YAML) with every sensor reporting each
// interval: the catalog ioc uses when ingest.catalog names no file.
func Catalog(name string, interval time.Duration, profiles map[string]config.Profile) ([]byte, error) {
	p, err := Load(name, 1, profiles)
	if err != nil {
		return nil, err
	}
	return p.CatalogYAML(interval), nil
}

// Metrics is the number of metrics all the simulated sensors report together.
func (p *Province) Metrics() int {
	n := 0
	for _, s := range p.sensors {
		n += len(s.Metrics)
	}
	return n
}

// inlineOutlines puts the outlines file a province's catalog names (provinces/NAME.geojson,
// built in) into the catalog itself: the districts' polygons and the communes. The catalog
// ioc is given (CatalogYAML) then stands alone, without a file beside it.
func inlineOutlines(catalog []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(catalog, &doc); err != nil {
		return nil, err
	}
	name, _ := doc["outlines"].(string)
	if name == "" {
		return catalog, nil
	}
	data, err := provinceFiles.ReadFile("provinces/" + name)
	if err != nil {
		return nil, fmt.Errorf("outlines: %w", err)
	}
	ds, cs, err := ingest.ReadOutlines(data)
	if err != nil {
		return nil, err
	}
	districts, _ := doc["districts"].([]any)
	for _, d := range ds {
		i := slices.IndexFunc(districts, func(x any) bool { m, _ := x.(map[string]any); return m["name"] == d.Name })
		if i < 0 {
			districts = append(districts, map[string]any{"name": d.Name, "geocodes": d.Geocodes, "polygon": d.Polygon})
			continue
		}
		districts[i].(map[string]any)["polygon"] = d.Polygon
	}
	communes := make([]any, len(cs))
	for i, c := range cs {
		communes[i] = map[string]any{"name": c.Name, "district": c.District, "polygon": c.Polygon}
	}
	doc["districts"], doc["communes"] = districts, communes
	delete(doc, "outlines")
	return yaml.Marshal(doc)
}
