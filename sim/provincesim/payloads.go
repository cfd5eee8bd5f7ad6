package provincesim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Message is one MQTT message of a simulated device.
type Message struct {
	Topic   string
	Payload []byte
	// Format is the payload's format, as an ingest topic names it: senml, ttn, json or frigate.
	Format string
}

// render is sensor s's message for the values it reports at t, in its device's format: a
// SenML pack, a The Things Stack uplink through its LoRaWAN profile, or generic JSON.
func (p *Province) render(s *simSensor, vals []value, t time.Time, profiles map[string]config.Profile) Message {
	switch s.Format {
	case "senml":
		return Message{"senml/" + s.ID, senml(s.ID, vals, t), "senml"}
	case "ttn":
		return Message{fmt.Sprintf("v3/ioc-%s@ttn/devices/%s/up", p.Name, s.ID), p.uplink(s, vals, t, profiles[s.Profile]), "ttn"}
	default:
		return Message{fmt.Sprintf("province/%s/%s/%s", p.Name, s.Kind, s.ID), genericJSON(s.ID, vals, t), "json"}
	}
}

// senml renders values as a SenML pack (RFC 8428): base name and time on the first record.
func senml(id string, vals []value, t time.Time) []byte {
	type record struct {
		BN string  `json:"bn,omitempty"`
		BT float64 `json:"bt,omitempty"`
		N  string  `json:"n"`
		U  string  `json:"u,omitempty"`
		V  float64 `json:"v"`
	}
	pack := make([]record, 0, len(vals))
	for i, v := range vals {
		r := record{N: v.Metric, U: v.Unit, V: v.V}
		if i == 0 {
			r.BN, r.BT = "urn:dev:ops:"+id+":", float64(t.UnixMilli())/1000
		}
		pack = append(pack, r)
	}
	b, _ := json.Marshal(pack) // strings and finite floats always marshal
	return b
}

// uplink renders values as a The Things Stack v3 uplink whose payload formatter produced the
// fields of the device's profile, with the gateway's link quality.
func (p *Province) uplink(s *simSensor, vals []value, t time.Time, prof config.Profile) []byte {
	decoded := map[string]float64{}
	for _, f := range prof.Values {
		if f.Metric == "battery" {
			decoded[f.Field] = math.Round(70 + 25*unit(p.Seed, s.ID, "battery", t.Unix()/86400))
			continue
		}
		for _, v := range vals {
			if v.Metric == f.Metric {
				decoded[f.Field] = v.V
			}
		}
	}
	ms := t.UnixMilli()
	up := map[string]any{
		"end_device_ids": map[string]any{"device_id": s.ID, "application_ids": map[string]string{"application_id": "ioc-" + p.Name}},
		"received_at":    t.UTC().Format(time.RFC3339Nano),
		"uplink_message": map[string]any{
			"f_port":          2,
			"decoded_payload": decoded,
			"rx_metadata": []map[string]any{{
				"gateway_ids": map[string]string{"gateway_id": s.Gateway},
				"rssi":        -112 + math.Round(20*unit(p.Seed, s.ID, "rssi", ms)),
				"snr":         math.Round(10*(-2+12*unit(p.Seed, s.ID, "snr", ms))) / 10,
			}},
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

// genericJSON renders values as a generic JSON array stamped in local time with its offset,
// as SCADA gateways in the province send.
func genericJSON(id string, vals []value, t time.Time) []byte {
	ts := t.In(local).Format("2006-01-02T15:04:05.000-07:00")
	out := make([]jsonReading, 0, len(vals))
	for _, v := range vals {
		out = append(out, jsonReading{Sensor: id, TS: ts, Metric: v.Metric, Value: v.V, Unit: v.Unit})
	}
	b, _ := json.Marshal(out) // strings and finite floats always marshal
	return b
}

// badPayloads are the malformed messages the simulator mixes in, one of each kind validation
// must catch: cut short, NaN, no sensor, far in the future, an unreadable time, and a sensor
// other than the one the topic names (identity_mismatch).
var badPayloads = []func(id string, t time.Time) string{
	func(id string, _ time.Time) string {
		return `{"sensor": "` + id + `", "metric": "water_level", "value": `
	},
	func(id string, t time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":%d,"metric":"water_level","value":NaN,"unit":"m"}`, id, t.UnixMilli())
	},
	func(_ string, t time.Time) string {
		return fmt.Sprintf(`{"ts":%d,"metric":"water_level","value":1}`, t.UnixMilli())
	},
	func(id string, t time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":%q,"metric":"water_level","value":1}`, id, t.Add(48*time.Hour).Format(time.RFC3339))
	},
	func(id string, _ time.Time) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":"yesterday","metric":"rainfall","value":2}`, id)
	},
	func(id string, t time.Time) string {
		return fmt.Sprintf(`{"sensor":"%s-x","ts":%d,"metric":"rainfall","value":2}`, id, t.UnixMilli())
	},
}

// bad is the malformed message that replaces s's Message at t, if the share says so.
func (p *Province) bad(s *simSensor, t time.Time, share float64) (Message, bool) {
	ms := t.UnixMilli()
	if share <= 0 || unit(p.Seed, s.ID, "bad", ms) >= share {
		return Message{}, false
	}
	i := int(unit(p.Seed, s.ID, "which", ms) * float64(len(badPayloads)))
	return Message{fmt.Sprintf("province/%s/%s/%s", p.Name, s.Kind, s.ID), []byte(badPayloads[i](s.ID, t)), "json"}, true
}

// Messages are every Message the province's sensors send at simulated time t: the sensors
// whose interval ends at t (t is a multiple of interval since the Unix epoch; every sensor
// reports then), with a share of malformed ones.
func (p *Province) Messages(t time.Time, interval time.Duration, badShare float64, profiles map[string]config.Profile) []Message {
	var out []Message
	for _, s := range p.sensors {
		if m, ok := p.bad(s, t, badShare); ok {
			out = append(out, m)
			continue
		}
		vals, ok := p.values(s, t, interval)
		if !ok {
			continue
		}
		out = append(out, p.render(s, vals, t, profiles))
	}
	return out
}
