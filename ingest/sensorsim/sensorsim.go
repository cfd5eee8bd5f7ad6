// Package sensorsim is the small built-in sensor publisher that `make demo` runs beside the
// server: a handful of Lào Cai sensors (river and rain gauges, a border-gate traffic counter,
// a clean-water probe, a weather station) publishing to the real broker in the formats real
// devices use (river gauges SenML packs, the weather station The Things Stack uplinks, the
// rest generic JSON), with a configurable share of deliberately malformed payloads so that
// validation shows. It is deterministic for a given seed. Its sensors are the built-in
// catalog's (catalog.yaml), which ioc uses when no catalog file is configured.
package sensorsim

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/internal/config"
)

// metric is one simulated quantity: a base level, a daily swing and noise.
type metric struct {
	name, unit         string
	base, swing, noise float64
	min                float64
}

// sensor is one simulated device at a real place.
type sensor struct {
	id, district, kind string
	metrics            []metric
}

// Catalog is the built-in sensor catalog (YAML): the simulated sensors, with their places,
// owners and alarm levels.
//
//go:embed catalog.yaml
var Catalog []byte

// Sensors are the simulated devices; topics are province/<district>/<kind>/<id>.
var sensors = []sensor{
	{"lc-hong-laocai", "lao-cai", "river_gauge", []metric{{"water_level", "m", 79.2, 0.6, 0.03, 0}}},
	{"lc-hong-bat-xat", "bat-xat", "river_gauge", []metric{{"water_level", "m", 82.1, 0.5, 0.03, 0}}},
	{"lc-nam-thi-coc-leu", "lao-cai", "river_gauge", []metric{{"water_level", "m", 78.6, 0.4, 0.02, 0}}},
	{"lc-rain-sa-pa", "sa-pa", "rain_gauge", []metric{{"rainfall", "mm", 0.4, 0.8, 0.5, 0}}},
	{"lc-rain-bat-xat", "bat-xat", "rain_gauge", []metric{{"rainfall", "mm", 0.3, 0.6, 0.4, 0}}},
	{"lc-traffic-kim-thanh", "lao-cai", "traffic_counter", []metric{
		{"vehicle_count", "", 120, 90, 15, 0}, {"avg_speed", "km/h", 28, 10, 3, 2}}},
	{"lc-water-coc-san", "lao-cai", "water_quality", []metric{
		{"ph", "pH", 7.2, 0.2, 0.05, 0}, {"turbidity", "NTU", 1.1, 0.5, 0.2, 0}, {"free_chlorine", "mg/L", 0.45, 0.1, 0.03, 0}}},
	{"lc-weather-sa-pa", "sa-pa", "weather", []metric{
		{"air_temperature", "Cel", 16, 5, 0.4, -10}, {"humidity", "%RH", 85, 10, 2, 0}}},
}

// badPayloads are the malformed messages the simulator mixes in, one of each kind that
// validation must catch.
var badPayloads = []func(id string, now time.Time) string{
	func(id string, _ time.Time) string {
		return `{"sensor": "` + id + `", "metric": "water_level", "value": `
	}, // cut short
	func(id string, now time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":%d,"metric":"water_level","value":NaN,"unit":"m"}`, id, now.UnixMilli())
	},
	func(_ string, now time.Time) string {
		return fmt.Sprintf(`{"ts":%d,"metric":"water_level","value":1}`, now.UnixMilli())
	},
	func(id string, now time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":%q,"metric":"water_level","value":1}`, id, now.Add(48*time.Hour).Format(time.RFC3339))
	},
	func(id string, _ time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":"yesterday","metric":"rainfall","value":2}`, id)
	},
}

// Simulator publishes the simulated sensors' readings.
type Simulator struct {
	cfg    config.Simulator
	client mqtt.Client
	broker string
	rng    *rand.Rand
	log    *slog.Logger
}

// New builds a simulator that publishes to the broker of mc under its own client id.
func New(mc config.MQTT, cfg config.Simulator, log *slog.Logger) *Simulator {
	opts := mqtt.NewClientOptions().
		AddBroker(mc.Broker).
		SetClientID(fmt.Sprintf("ioc-sim-%d", cfg.Seed)).
		SetUsername(mc.Username).
		SetPassword(mc.Password.Value()).
		SetCleanSession(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetAutoReconnect(true)
	return &Simulator{
		cfg:    cfg,
		client: mqtt.NewClient(opts),
		broker: mc.Broker,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x1ac0)),
		log:    log.With("component", "simulator"),
	}
}

// Run publishes a reading of every sensor's metrics each interval until ctx ends.
func (s *Simulator) Run(ctx context.Context) error {
	tok := s.client.Connect() // retries by itself until connected
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("simulator: connect to %s: %w", s.broker, err)
		}
	case <-ctx.Done():
		s.client.Disconnect(0)
		return nil
	}
	defer s.client.Disconnect(250)
	s.log.Info("simulated sensors publishing", "sensors", len(sensors), "interval", s.cfg.Interval.String(), "bad_share", s.cfg.BadShare)
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		s.publishRound(time.Now())
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
}

func (s *Simulator) publishRound(now time.Time) {
	for _, sn := range sensors {
		topic := fmt.Sprintf("province/%s/%s/%s", sn.district, sn.kind, sn.id)
		var payload []byte
		switch {
		case s.rng.Float64() < s.cfg.BadShare:
			payload = []byte(badPayloads[s.rng.IntN(len(badPayloads))](sn.id, now))
		case sn.kind == "river_gauge":
			topic, payload = "senml/"+sn.id, s.senml(sn, now)
		case sn.kind == "weather":
			topic, payload = "v3/ioc-demo@ttn/devices/"+sn.id+"/up", s.uplink(sn, now)
		default:
			payload = s.reading(sn, now)
		}
		s.client.Publish(topic, 1, false, payload) // fire and forget: paho queues it
	}
}

// value is metric m's simulated value at now: a daily swing around its base, with noise.
func (s *Simulator) value(m metric, now time.Time) float64 {
	hour := float64(now.Unix()%86400) / 3600
	v := m.base + m.swing*math.Sin(2*math.Pi*(hour-8)/24) + s.rng.NormFloat64()*m.noise
	return math.Round(math.Max(v, m.min)*100) / 100
}

// senml renders a sensor's metrics as a SenML pack, the way many gauges' gateways send them.
func (s *Simulator) senml(sn sensor, now time.Time) []byte {
	type record struct {
		BN string  `json:"bn,omitempty"`
		BT int64   `json:"bt,omitempty"`
		N  string  `json:"n"`
		U  string  `json:"u,omitempty"`
		V  float64 `json:"v"`
	}
	pack := make([]record, 0, len(sn.metrics))
	for i, m := range sn.metrics {
		r := record{N: m.name, U: m.unit, V: s.value(m, now)}
		if i == 0 {
			r.BN, r.BT = "urn:dev:ops:"+sn.id+":", now.Unix()
		}
		pack = append(pack, r)
	}
	b, _ := json.Marshal(pack) // plain structs of strings and finite floats always marshal
	return b
}

// uplink renders a sensor's metrics as a The Things Stack v3 uplink whose payload formatter
// produced {"temperature": .., "humidity": .., "battery": ..} (the weather-lorawan profile).
func (s *Simulator) uplink(sn sensor, now time.Time) []byte {
	decoded := map[string]float64{"battery": 87}
	for _, m := range sn.metrics {
		switch m.name {
		case "air_temperature":
			decoded["temperature"] = s.value(m, now)
		case "humidity":
			decoded["humidity"] = s.value(m, now)
		}
	}
	up := map[string]any{
		"end_device_ids": map[string]any{"device_id": sn.id, "application_ids": map[string]string{"application_id": "ioc-demo"}},
		"received_at":    now.UTC().Format(time.RFC3339Nano),
		"uplink_message": map[string]any{
			"f_port":          2,
			"decoded_payload": decoded,
			"rx_metadata": []map[string]any{
				{"gateway_ids": map[string]string{"gateway_id": "gw-sa-pa-01"}, "rssi": -97 + s.rng.IntN(6), "snr": 7.5},
			},
		},
	}
	b, _ := json.Marshal(up) // maps of strings and finite numbers always marshal
	return b
}

type jsonReading struct {
	Sensor string  `json:"sensor"`
	TS     string  `json:"ts"`
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
}

// reading renders one sensor's metrics as a generic JSON array, local time with its offset.
func (s *Simulator) reading(sn sensor, now time.Time) []byte {
	ts := now.In(time.FixedZone("ICT", 7*3600)).Format(time.RFC3339)
	out := make([]jsonReading, 0, len(sn.metrics))
	for _, m := range sn.metrics {
		out = append(out, jsonReading{Sensor: sn.id, TS: ts, Metric: m.name, Value: s.value(m, now), Unit: m.unit})
	}
	b, _ := json.Marshal(out) // plain structs of strings and finite floats always marshal
	return b
}
