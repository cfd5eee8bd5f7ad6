package ingest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// Commune is the outline of one commune (xã, phường, thị trấn) of a district, for the map.
type Commune struct {
	Name     string       `yaml:"name"`
	District string       `yaml:"district"`
	Polygon  [][2]float64 `yaml:"polygon"`
}

// maxOutlinesFile bounds an outlines file: a province's districts and communes at survey
// detail are a few megabytes.
const maxOutlinesFile = 64 << 20

// geoJSON is the part of a GeoJSON FeatureCollection (RFC 7946) an outlines file uses.
type geoJSON struct {
	Type     string `json:"type"`
	Features []struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties"`
		Geometry   struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	} `json:"features"`
}

// ReadOutlines reads a province's outlines: a GeoJSON FeatureCollection whose features are
// its districts (properties name, level "district" or none, geocode_<scheme> codes) and its
// communes (name, level "commune", district), each a Polygon or a MultiPolygon in WGS 84
// [lon, lat]. A district's largest part is its Polygon (the area public warnings carry), the
// others its Parts; holes are not kept. The error lists every problem with its feature.
func ReadOutlines(data []byte) ([]District, []Commune, error) {
	var doc geoJSON
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, config.Problems{{Path: "outlines", Msg: "not GeoJSON: " + err.Error()}}
	}
	var p config.Problems
	if doc.Type != "FeatureCollection" {
		p.Add("outlines", "want a GeoJSON FeatureCollection, got type %q", doc.Type)
	}
	var districts []District
	var communes []Commune
	for i, f := range doc.Features {
		path := fmt.Sprintf("outlines: features[%d]", i)
		name, _ := f.Properties["name"].(string)
		level, _ := f.Properties["level"].(string)
		if strings.TrimSpace(name) == "" {
			p.Add(path+".properties.name", "empty: name the district or commune as the catalog spells it")
			continue
		}
		rings, err := outerRings(f.Geometry.Type, f.Geometry.Coordinates)
		if err != nil {
			p.Add(path+".geometry", "%s", err.Error())
			continue
		}
		switch level {
		case "", "district":
			d := District{Name: name, Geocodes: map[string]string{}}
			for k, v := range f.Properties {
				if code, ok := strings.CutPrefix(k, "geocode_"); ok {
					if s, ok := v.(string); ok && s != "" {
						d.Geocodes[code] = s
					}
				}
			}
			largest := 0
			for k := range rings {
				if len(rings[k]) > len(rings[largest]) {
					largest = k
				}
			}
			d.Polygon = rings[largest]
			for k := range rings {
				if k != largest {
					d.Parts = append(d.Parts, rings[k])
				}
			}
			districts = append(districts, d)
		case "commune":
			district, _ := f.Properties["district"].(string)
			if strings.TrimSpace(district) == "" {
				p.Add(path+".properties.district", "empty: a commune names its district")
				continue
			}
			if len(rings) > 1 {
				p.Add(path+".geometry", "a commune is one polygon, got %d parts", len(rings))
				continue
			}
			communes = append(communes, Commune{Name: name, District: district, Polygon: rings[0]})
		default:
			p.Add(path+".properties.level", "want district or commune, got %q", level)
		}
	}
	if len(p) > 0 {
		return nil, nil, p
	}
	return districts, communes, nil
}

// outerRings are the outer rings of a Polygon or MultiPolygon as [lat, lon] points.
func outerRings(typ string, raw json.RawMessage) ([][][2]float64, error) {
	var polys [][][][2]float64 // polygon, ring, point [lon, lat]
	switch typ {
	case "Polygon":
		var poly [][][2]float64
		if err := json.Unmarshal(raw, &poly); err != nil {
			return nil, fmt.Errorf("coordinates of the Polygon: %w", err)
		}
		polys = [][][][2]float64{poly}
	case "MultiPolygon":
		if err := json.Unmarshal(raw, &polys); err != nil {
			return nil, fmt.Errorf("coordinates of the MultiPolygon: %w", err)
		}
	default:
		return nil, fmt.Errorf("want a Polygon or MultiPolygon, got %q", typ)
	}
	var out [][][2]float64
	for _, poly := range polys {
		if len(poly) == 0 {
			return nil, fmt.Errorf("a polygon without rings")
		}
		ring := make([][2]float64, len(poly[0]))
		for k, pt := range poly[0] {
			ring[k] = [2]float64{pt[1], pt[0]} // GeoJSON is [lon, lat]
		}
		out = append(out, ring)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no polygon")
	}
	return out, nil
}

// applyOutlines puts the outlines file's districts and communes in the catalog: a district
// the catalog lists takes its polygon (and its codes, when the catalog gives none); one it
// does not list is added.
func (c *Catalog) applyOutlines(districts []District, communes []Commune) {
	for _, d := range districts {
		i := -1
		for k := range c.Districts {
			if c.Districts[k].Name == d.Name {
				i = k
			}
		}
		if i < 0 {
			c.Districts = append(c.Districts, d)
			continue
		}
		c.Districts[i].Polygon, c.Districts[i].Parts = d.Polygon, d.Parts
		if len(c.Districts[i].Geocodes) == 0 {
			c.Districts[i].Geocodes = d.Geocodes
		}
	}
	c.Communes = append(c.Communes, communes...)
}

// readOutlinesFile reads the catalog's outlines file, a path relative to dir.
func readOutlinesFile(dir, name string) ([]District, []Commune, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("outlines: %w", err)
	}
	if st.Size() > maxOutlinesFile {
		return nil, nil, fmt.Errorf("outlines: %s has %d bytes, at most %d", path, st.Size(), maxOutlinesFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("outlines: %w", err)
	}
	return ReadOutlines(data)
}

// Locate names the district and commune whose outlines hold l, "" for each it lies outside
// of (a catalog without outlines locates nothing).
func (c *Catalog) Locate(l geo.Location) (district, commune string) {
	for _, d := range c.Districts {
		if l.In(d.Polygon) || slices.ContainsFunc(d.Parts, func(p [][2]float64) bool { return l.In(p) }) {
			district = d.Name
			break
		}
	}
	for _, cm := range c.Communes {
		if (district == "" || cm.District == district) && l.In(cm.Polygon) {
			return cm.District, cm.Name
		}
	}
	return district, ""
}
