package sensorsim

import (
	"log/slog"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// The built-in catalog is valid with the default profiles, and every simulated reading it
// publishes passes the catalog's checks.
func TestSimulatedSensorsAreInTheBuiltInCatalog(t *testing.T) {
	cfg := config.Default()
	cat, err := ingest.ParseCatalog(Catalog, cfg.Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	if cat.Len() != len(sensors) {
		t.Errorf("catalog has %d sensors, the simulator %d", cat.Len(), len(sensors))
	}
	norm := ingest.NewNormalizer(cat, ingest.NewUnitConverter(nil), false)
	pipe := ingest.Pipeline{MaxPayloadBytes: 1 << 20, DeadLetterPayloadBytes: 1024,
		Checks: []ingest.Check{ingest.FiniteValue{}, ingest.TimeWindow{MaxFuture: time.Minute, MaxAge: time.Hour}, norm}}
	sim := New(cfg.MQTT, cfg.Simulator, slog.New(slog.DiscardHandler))
	now := time.Now()
	for _, sn := range sensors {
		var topic string
		var payload []byte
		var dec ingest.Decoder
		switch sn.kind {
		case "river_gauge":
			topic, payload, dec = "senml/"+sn.id, sim.senml(sn, now), ingest.SenMLDecoder{}
		case "weather":
			topic, payload = "v3/ioc-demo@ttn/devices/"+sn.id+"/up", sim.uplink(sn, now)
			dec = &ingest.TTNDecoder{Profiles: cfg.Ingest.Profiles, ProfileOf: func(id string) string { return cat.Lookup(id).Profile }}
		default:
			topic, payload, dec = "province/x/y/"+sn.id, sim.reading(sn, now), ingest.JSONDecoder{}
		}
		d := pipe.Process(topic, payload, dec, now)
		if len(d.DeadLetters) > 0 || len(d.Readings) < len(sn.metrics) {
			t.Errorf("%s: %d readings, dead letters %+v", sn.id, len(d.Readings), d.DeadLetters)
		}
	}
}
