package dashboard

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/dashboard/hub"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

// The KPIs count the catalog's sensors that reported within three of their intervals and the
// rivers over each alarm level; a reading of a sensor not in the catalog (another province's,
// warmed from the database) counts for nothing.
func TestKPIsCountTheCatalogsSensors(t *testing.T) {
	cat, err := ingest.ParseCatalog([]byte(`
sensors:
  - {id: gauge-a, name: Trạm A, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 22.5, lon: 103.9},
     district: TP Lào Cai, owner_unit: flood_control, interval: 1m, alarm_levels: {i: 80, ii: 81, iii: 82}}
  - {id: gauge-b, name: Trạm B, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 22.4, lon: 103.9},
     district: Bát Xát, owner_unit: flood_control, interval: 1m, alarm_levels: {i: 80, ii: 81, iii: 82}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 8, 15, 3, 0, 0, 0, time.UTC)
	city := NewCity(hub.New(hub.Options{Flush: time.Second, Queue: 8}, nil), cat, nil, 0, slog.New(slog.DiscardHandler))
	city.Readings([]ingest.Reading{
		{Time: now.Add(-30 * time.Second), Sensor: "gauge-a", Metric: "water_level", Value: 81.2, Unit: "m"},
		{Time: now.Add(-5 * time.Minute), Sensor: "gauge-b", Metric: "water_level", Value: 79, Unit: "m"}, // silent: 3 intervals passed
		{Time: now, Sensor: "bt-man-an-thuan", Metric: "salinity", Value: 4.2, Unit: "‰"},                 // not in the catalog
	})
	k := city.KPIs(now)
	if k.Sensors != 2 || k.SensorsReporting != 1 || k.RiversOverAlarm != [3]int{1, 1, 0} {
		t.Errorf("KPIs: %d sensors, %d reporting, rivers over alarm %v; want 2, 1, [1 1 0]", k.Sensors, k.SensorsReporting, k.RiversOverAlarm)
	}
}

// Warm shows stored values and statuses only where nothing newer has arrived: a camera that
// reported live keeps its live status, the others take the stored one.
func TestWarmKeepsWhatArrivedLive(t *testing.T) {
	h := hub.New(hub.Options{Flush: time.Second, Queue: 8}, nil)
	city := NewCity(h, nil, nil, 0, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 8, 15, 3, 0, 0, 0, time.UTC)
	city.CameraStatuses([]streams.CameraStatus{{Camera: "cam-live", State: streams.StateOffline, Time: now}})
	city.Readings([]ingest.Reading{{Sensor: "gauge-live", Metric: "water_level", Value: 81, Time: now}})
	city.Warm([]ingest.Reading{
		{Sensor: "gauge-live", Metric: "water_level", Value: 70, Time: now.Add(-time.Hour)},
		{Sensor: "gauge-stored", Metric: "water_level", Value: 75, Time: now.Add(-time.Hour)},
	}, []streams.CameraStatus{
		{Camera: "cam-live", State: streams.StateOnline, Time: now.Add(-time.Hour)},
		{Camera: "cam-stored", State: streams.StateOnline, Time: now.Add(-time.Hour)},
	})
	for key, want := range map[string]string{"c/cam-live": "offline", "c/cam-stored": "online", "r/gauge-live/water_level": "81", "r/gauge-stored/water_level": "75"} {
		v, ok := h.Get(key)
		var got string
		switch d := v.(type) {
		case CameraState:
			got = d.State
		case SensorValue:
			got = fmt.Sprint(d.Value)
		}
		if !ok || got != want {
			t.Errorf("%s: %v (%v), want %s", key, got, ok, want)
		}
	}
}

// Of a pack's readings of one series, the live city shows the last.
func TestReadingsShowThePacksLast(t *testing.T) {
	h := hub.New(hub.Options{Flush: time.Second, Queue: 8}, nil)
	city := NewCity(h, nil, nil, 0, slog.New(slog.DiscardHandler))
	now := time.Date(2026, 8, 15, 3, 0, 0, 0, time.UTC)
	city.Readings([]ingest.Reading{
		{Sensor: "g", Metric: "water_level", Value: 1, Time: now.Add(-2 * time.Minute)},
		{Sensor: "g", Metric: "water_level", Value: 2, Time: now.Add(-time.Minute)},
		{Sensor: "g", Metric: "rainfall", Value: 7, Time: now},
		{Sensor: "g", Metric: "water_level", Value: 3, Time: now},
	})
	for key, want := range map[string]float64{"r/g/water_level": 3, "r/g/rainfall": 7} {
		if v, ok := h.Get(key); !ok || v.(SensorValue).Value != want {
			t.Errorf("%s: %v (%t), want %v", key, v, ok, want)
		}
	}
}
