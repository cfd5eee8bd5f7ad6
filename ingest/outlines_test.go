package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/internal/geo"
)

const outlinesCatalog = `sensors:
  - {id: g1, name: Trạm 1, kind: rain_gauge, metrics: [{name: rainfall}], location: {lat: 22.50, lon: 103.95}, district: TP Lào Cai, commune: Phường Cốc Lếu, owner_unit: flood_control}
districts:
  - {name: TP Lào Cai, geocodes: {dvhc: "080"}}
outlines: province.geojson
`

// A district as a Polygon, one in two parts, a commune; [lon, lat] as GeoJSON has them.
const outlinesFile = `{"type": "FeatureCollection", "features": [
 {"type": "Feature", "properties": {"name": "TP Lào Cai", "geocode_dvhc": "999"},
  "geometry": {"type": "Polygon", "coordinates": [[[103.90, 22.55], [104.03, 22.55], [104.03, 22.40], [103.90, 22.40], [103.90, 22.55]]]}},
 {"type": "Feature", "properties": {"name": "Bảo Thắng", "level": "district", "geocode_dvhc": "085"},
  "geometry": {"type": "MultiPolygon", "coordinates": [
   [[[104.05, 22.40], [104.10, 22.40], [104.10, 22.35], [104.05, 22.40]]],
   [[[104.10, 22.30], [104.30, 22.30], [104.30, 22.10], [104.10, 22.10], [104.10, 22.30]]]]}},
 {"type": "Feature", "properties": {"name": "Phường Cốc Lếu", "level": "commune", "district": "TP Lào Cai"},
  "geometry": {"type": "Polygon", "coordinates": [[[103.95, 22.52], [103.98, 22.52], [103.98, 22.49], [103.95, 22.49], [103.95, 22.52]]]}}
]}`

// LoadCatalog reads the outlines file the catalog names beside it: the listed district keeps
// its codes and takes the file's polygon, a district the catalog does not list is added with
// its largest part as its polygon, the commune is listed.
func TestLoadCatalogWithOutlines(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sensors.yaml"), []byte(outlinesCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "province.geojson"), []byte(outlinesFile), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCatalog(filepath.Join(dir, "sensors.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	lc, bt := c.District("TP Lào Cai"), c.District("Bảo Thắng")
	if lc == nil || len(lc.Polygon) != 5 || lc.Polygon[0] != [2]float64{22.55, 103.90} || lc.Geocodes["dvhc"] != "080" {
		t.Fatalf("TP Lào Cai: %+v", lc)
	}
	if bt == nil || len(bt.Polygon) != 5 || len(bt.Parts) != 1 || bt.Geocodes["dvhc"] != "085" {
		t.Fatalf("Bảo Thắng: %+v", bt)
	}
	if len(c.Communes) != 1 || c.Communes[0].District != "TP Lào Cai" || len(c.Communes[0].Polygon) != 5 {
		t.Fatalf("communes: %+v", c.Communes)
	}
	// Locate: a commune, a district outside its communes, a district's other part, nowhere
	for _, tc := range []struct {
		at                geo.Location
		district, commune string
	}{
		{geo.Location{Lat: 22.50, Lon: 103.96}, "TP Lào Cai", "Phường Cốc Lếu"},
		{geo.Location{Lat: 22.45, Lon: 104.00}, "TP Lào Cai", ""},
		{geo.Location{Lat: 22.39, Lon: 104.09}, "Bảo Thắng", ""},
		{geo.Location{Lat: 22.20, Lon: 104.20}, "Bảo Thắng", ""},
		{geo.Location{Lat: 10.24, Lon: 106.37}, "", ""},
	} {
		if d, cm := c.Locate(tc.at); d != tc.district || cm != tc.commune {
			t.Errorf("Locate(%v) = %q, %q; want %q, %q", tc.at, d, cm, tc.district, tc.commune)
		}
	}
	// read from bytes, a catalog naming a file is refused with how to load it
	if _, err := ParseCatalog([]byte(outlinesCatalog), nil); err == nil || !strings.Contains(err.Error(), "load it from its file") {
		t.Errorf("ParseCatalog with outlines: %v", err)
	}
}

// Broken outlines are refused with the feature and the reason.
func TestReadOutlinesRefuses(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"not JSON", `{"type": "FeatureCollection", "features": [`, "not GeoJSON"},
		{"not a collection", `{"type": "Feature"}`, "want a GeoJSON FeatureCollection"},
		{"no name", `{"type": "FeatureCollection", "features": [{"properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[104, 22], [104.1, 22], [104, 22.1], [104, 22]]]}}]}`, "features[0].properties.name"},
		{"a point", `{"type": "FeatureCollection", "features": [{"properties": {"name": "X"}, "geometry": {"type": "Point", "coordinates": [104, 22]}}]}`, "want a Polygon or MultiPolygon"},
		{"bad coordinates", `{"type": "FeatureCollection", "features": [{"properties": {"name": "X"}, "geometry": {"type": "Polygon", "coordinates": [["a"]]}}]}`, "coordinates of the Polygon"},
		{"level", `{"type": "FeatureCollection", "features": [{"properties": {"name": "X", "level": "province"}, "geometry": {"type": "Polygon", "coordinates": [[[104, 22], [104.1, 22], [104, 22.1], [104, 22]]]}}]}`, "want district or commune"},
		{"commune without district", `{"type": "FeatureCollection", "features": [{"properties": {"name": "X", "level": "commune"}, "geometry": {"type": "Polygon", "coordinates": [[[104, 22], [104.1, 22], [104, 22.1], [104, 22]]]}}]}`, "a commune names its district"},
	} {
		if _, _, err := ReadOutlines([]byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// a ring swapped to [lat, lon], an open ring, a commune of no district: the catalog's checks
	dir := t.TempDir()
	bad := strings.Replace(outlinesFile, `[[[103.95, 22.52], [103.98, 22.52], [103.98, 22.49], [103.95, 22.49], [103.95, 22.52]]]`, `[[[22.52, 103.95], [22.52, 103.98], [22.49, 103.98], [22.52, 103.95]]]`, 1)
	bad = strings.Replace(bad, `"district": "TP Lào Cai"`, `"district": "Sa Pa"`, 1)
	bad = strings.Replace(bad, `[103.90, 22.40], [103.90, 22.55]]]`, `[103.90, 22.40], [103.91, 22.55]]]`, 1)
	_ = os.WriteFile(filepath.Join(dir, "sensors.yaml"), []byte(outlinesCatalog), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "province.geojson"), []byte(bad), 0o600)
	_, err := LoadCatalog(filepath.Join(dir, "sensors.yaml"), nil)
	for _, want := range []string{"districts[0].polygon: not closed", `communes[0].district: no district "Sa Pa"`, "communes[0].polygon[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad outlines: %v, want %q", err, want)
		}
	}
	if err := os.Remove(filepath.Join(dir, "province.geojson")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCatalog(filepath.Join(dir, "sensors.yaml"), nil); err == nil || !strings.Contains(err.Error(), "province.geojson") {
		t.Errorf("a missing outlines file: %v", err)
	}
}
