package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// ttnUplinkExample is shaped like The Things Stack v3 documentation's uplink message
// (Integrations > MQTT > "Uplink messages"), with a Dragino LSN50-style level sensor's decoded
// payload and two gateways.
const ttnUplinkExample = `{
  "end_device_ids": {
    "device_id": "lc-lora-nam-thi-01",
    "application_ids": {"application_id": "ioc-lao-cai"},
    "dev_eui": "70B3D57ED0000001",
    "join_eui": "0000000000000000",
    "dev_addr": "260B1234"
  },
  "correlation_ids": ["as:up:01H0Z2J0C0J9Z5ZQ6G1Z9KQ8XK"],
  "received_at": "2026-08-03T14:15:00.123456789Z",
  "uplink_message": {
    "session_key_id": "AYZ3dGQxQmF0aGVyb29t",
    "f_port": 2,
    "f_cnt": 4711,
    "frm_payload": "DE0BAAA=",
    "decoded_payload": {"level_cm": 512.5, "battery_v": 3.6, "water_temp": 24.1, "status": {"alarm": false}},
    "rx_metadata": [
      {"gateway_ids": {"gateway_id": "gw-coc-leu", "eui": "B827EBFFFE000001"}, "rssi": -112, "channel_rssi": -112, "snr": -3.5},
      {"gateway_ids": {"gateway_id": "gw-bat-xat", "eui": "B827EBFFFE000002"}, "rssi": -97, "channel_rssi": -97, "snr": 8.25}
    ],
    "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}}, "frequency": "923200000"},
    "received_at": "2026-08-03T14:15:00.100Z"
  }
}`

func TestTTNDecoder(t *testing.T) {
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	at := time.Date(2026, 8, 3, 14, 15, 0, 123456789, time.UTC)
	profiles := map[string]config.Profile{
		"level-sensor": {Values: []config.FieldMap{
			{Field: "level_cm", Metric: "water_level", Unit: "cm"},
			{Field: "water_temp", Metric: "temperature", Unit: "Cel"},
			{Field: "status.alarm", Metric: "alarm"},
			{Field: "absent_field", Metric: "rainfall", Unit: "mm"},
		}},
	}
	dev := "lc-lora-nam-thi-01"
	link := []Reading{
		{Time: at, Sensor: dev, Metric: "rssi", Value: -97, Unit: "dBm"},
		{Time: at, Sensor: dev, Metric: "snr", Value: 8.25, Unit: "dB"},
	}
	profiled := append([]Reading{
		{Time: at, Sensor: dev, Metric: "water_level", Value: 512.5, Unit: "cm"},
		{Time: at, Sensor: dev, Metric: "temperature", Value: 24.1, Unit: "Cel"},
		{Time: at, Sensor: dev, Metric: "alarm", Value: 0},
	}, link...)
	tests := []struct {
		name      string
		topicProf string
		catProf   string
		payload   string
		want      []Reading
		rejected  []Reason
	}{
		{"the catalog names the device's profile; best gateway kept", "", "level-sensor", ttnUplinkExample, profiled, nil},
		{"the topic's profile for devices the catalog gives none", "level-sensor", "", ttnUplinkExample, profiled, nil},
		{"no profile: fields named like metrics", "", "", strings.Replace(ttnUplinkExample, `"level_cm"`, `"water_level"`, 1),
			append([]Reading{{Time: at, Sensor: dev, Metric: "water_level", Value: 512.5}}, link...), nil},
		{"no profile and no field named like a metric", "", "", ttnUplinkExample, nil, []Reason{ReasonUnmapped}},
		{"no received_at: the time of arrival", "level-sensor", "", strings.Replace(ttnUplinkExample, `"received_at": "2026-08-03T14:15:00.123456789Z",`, "", 1),
			[]Reading{{Time: now, Sensor: dev, Metric: "water_level", Value: 512.5, Unit: "cm"}, {Time: now, Sensor: dev, Metric: "temperature", Value: 24.1, Unit: "Cel"},
				{Time: now, Sensor: dev, Metric: "alarm"}, {Time: now, Sensor: dev, Metric: "rssi", Value: -97, Unit: "dBm"}, {Time: now, Sensor: dev, Metric: "snr", Value: 8.25, Unit: "dB"}}, nil},
		{"a NaN from the payload formatter costs only its field", "level-sensor", "", strings.Replace(ttnUplinkExample, "512.5", "NaN", 1), profiled[1:], []Reason{ReasonNonFinite}},
		{"a value of the wrong type costs only its field", "level-sensor", "", strings.Replace(ttnUplinkExample, "512.5", `[1]`, 1), profiled[1:], []Reason{ReasonWrongType}},
		{"no decoded payload (no payload formatter)", "", "", `{"end_device_ids":{"device_id":"d"},"uplink_message":{"frm_payload":"AQ=="}}`, nil, []Reason{ReasonMissingField}},
		{"no device id", "", "", `{"end_device_ids":{},"uplink_message":{"decoded_payload":{"ph":7}}}`, nil, []Reason{ReasonMissingField}},
		{"bad received_at", "", "", `{"end_device_ids":{"device_id":"d"},"received_at":"yesterday","uplink_message":{"decoded_payload":{"ph":7}}}`, nil, []Reason{ReasonBadTimestamp}},
		{"a join accept, not an uplink", "", "", `{"end_device_ids":{"device_id":"d"},"join_accept":{"session_key_id":"x"}}`, nil, []Reason{ReasonMissingField}},
		{"an array", "", "", `[1]`, nil, []Reason{ReasonWrongType}},
		{"cut short", "", "", `{"end_device_ids":{"device_id":"d"`, nil, []Reason{ReasonMalformedJSON}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := &TTNDecoder{Profiles: profiles, Default: tt.topicProf, ProfileOf: func(id string) string {
				if id == dev {
					return tt.catProf
				}
				return ""
			}}
			got, rejected := dec.Decode("v3/ioc-lao-cai@ttn/devices/"+dev+"/up", []byte(tt.payload), now)
			assertDecoded(t, got, rejected, tt.want, tt.rejected)
		})
	}
}

func FuzzTTNDecoder(f *testing.F) {
	f.Add([]byte(ttnUplinkExample))
	f.Add([]byte(`{"end_device_ids":{"device_id":"d"},"uplink_message":{"decoded_payload":{"ph":NaN},"rx_metadata":[{"rssi":-90}]}}`))
	f.Add([]byte(`{"uplink_message":null}`))
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	dec := &TTNDecoder{}
	f.Fuzz(func(t *testing.T, payload []byte) {
		readings, rejections := dec.Decode("v3/a@t/devices/d/up", payload, now)
		assertSane(t, payload, readings, rejections)
	})
}

// BenchmarkTTNDecoderUplink decodes one The Things Stack uplink through its device profile.
func BenchmarkTTNDecoderUplink(b *testing.B) {
	d := &TTNDecoder{Profiles: map[string]config.Profile{"level-sensor": {Values: []config.FieldMap{
		{Field: "level_cm", Metric: "water_level", Unit: "cm"}, {Field: "water_temp", Metric: "temperature", Unit: "Cel"}, {Field: "status.alarm", Metric: "alarm"},
	}}}, Default: "level-sensor"}
	payload := []byte(ttnUplinkExample)
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := d.Decode("v3/app@ttn/devices/d/up", payload, now); len(r) != 5 {
			b.Fatalf("%d readings, want 5", len(r))
		}
	}
}
