package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// TTNDecoder reads The Things Stack v3 uplink messages (LoRaWAN), as its MQTT integration
// publishes them on v3/{application}@{tenant}/devices/{device}/up. The sensor is
// end_device_ids.device_id; the time is received_at; the readings are the fields of
// uplink_message.decoded_payload (what the application's payload formatter produced) mapped
// by the device's profile: the profile its catalog entry names, else the topic's, else every
// field named like a known metric. The best gateway's RSSI and SNR (rx_metadata) become the
// link-quality metrics rssi and snr.
type TTNDecoder struct {
	Profiles map[string]config.Profile
	// Default is the topic's profile, for devices whose catalog entry names none.
	Default string
	// ProfileOf returns the profile the catalog names for a device, or "".
	ProfileOf func(sensor string) string
}

type ttnUplink struct {
	EndDeviceIDs struct {
		DeviceID string `json:"device_id"`
	} `json:"end_device_ids"`
	ReceivedAt    string `json:"received_at"`
	UplinkMessage *struct {
		DecodedPayload map[string]any `json:"decoded_payload"`
		RxMetadata     []struct {
			RSSI *float64 `json:"rssi"`
			SNR  *float64 `json:"snr"`
		} `json:"rx_metadata"`
	} `json:"uplink_message"`
}

// Decode implements Decoder.
func (d *TTNDecoder) Decode(_ string, payload []byte, now time.Time) ([]Reading, []Rejection) {
	reject := func(reason Reason, format string, args ...any) ([]Reading, []Rejection) {
		return nil, []Rejection{{Reason: reason, Detail: fmt.Sprintf(format, args...), Record: payload}}
	}
	body := bytes.TrimSpace(payload)
	if len(body) == 0 {
		return reject(ReasonEmpty, "empty payload")
	}
	var up ttnUplink
	err := unmarshalNonFinite(body, &up) // a bare NaN from a payload formatter is rejected below
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return reject(ReasonMalformedJSON, "%s", jsonSyntaxDetail(body))
	case err != nil:
		return reject(ReasonWrongType, "not a The Things Stack uplink message: %v", err)
	}
	sensor := up.EndDeviceIDs.DeviceID
	switch {
	case sensor == "":
		return reject(ReasonMissingField, "end_device_ids.device_id: missing")
	case up.UplinkMessage == nil:
		return reject(ReasonMissingField, "uplink_message: missing")
	case up.UplinkMessage.DecodedPayload == nil:
		return reject(ReasonMissingField, "uplink_message.decoded_payload: missing (does the application have a payload formatter?)")
	}
	t := now.UTC()
	if up.ReceivedAt != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, up.ReceivedAt); err != nil {
			return reject(ReasonBadTimestamp, "received_at: want RFC 3339, got %q", up.ReceivedAt)
		}
		t = t.UTC()
	}
	readings, rejections := fieldReadings(up.UplinkMessage.DecodedPayload, d.fields(sensor, up.UplinkMessage.DecodedPayload), sensor, t)
	for i := range rejections {
		rejections[i].Record = payload
		rejections[i].Detail = "uplink_message.decoded_payload." + rejections[i].Detail
	}
	if len(readings) == 0 {
		return nil, rejections // the link quality of an uplink without a reading is no news
	}
	// The best gateway is the one that heard the device loudest.
	best := -1
	for i, md := range up.UplinkMessage.RxMetadata {
		if md.RSSI != nil && (best < 0 || *md.RSSI > *up.UplinkMessage.RxMetadata[best].RSSI) {
			best = i
		}
	}
	if best >= 0 {
		md := up.UplinkMessage.RxMetadata[best]
		readings = append(readings, Reading{Time: t, Sensor: sensor, Metric: "rssi", Value: *md.RSSI, Unit: "dBm"})
		if md.SNR != nil {
			readings = append(readings, Reading{Time: t, Sensor: sensor, Metric: "snr", Value: *md.SNR, Unit: "dB"})
		}
	}
	return readings, rejections
}

// fields returns the field mapping for a device: its profile's, or every known metric.
func (d *TTNDecoder) fields(sensor string, decoded map[string]any) []config.FieldMap {
	name := d.Default
	if d.ProfileOf != nil {
		if p := d.ProfileOf(sensor); p != "" {
			name = p
		}
	}
	if p, ok := d.Profiles[name]; ok {
		return p.Values
	}
	var maps []config.FieldMap
	for key, v := range decoded {
		switch v.(type) {
		case float64, bool, string:
		default:
			continue // an object or a list is not a reading
		}
		if _, known := Metrics[key]; known {
			maps = append(maps, config.FieldMap{Field: key, Metric: key})
		}
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].Field < maps[j].Field })
	return maps
}
