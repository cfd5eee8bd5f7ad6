package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/streams"
)

// EventDecoder turns one payload into camera events, and a Rejection for what it cannot read.
// A decoder that implements it (an NVR's format) carries events, not readings.
type EventDecoder interface {
	DecodeEvents(topic string, payload []byte, now time.Time) ([]streams.CameraEvent, []Rejection)
}

// FrigateDecoder reads the events the Frigate NVR publishes on frigate/events:
// {"type": "new|update|end", "before": {...}, "after": {...}}. The object in "after" becomes
// one camera event: the camera is Frigate's camera name (name catalog cameras the same), the
// kind is object, the state the message type, the rule the zones the object is in, the class
// the normalised label; a recognised licence plate is kept. False positives are dropped.
type FrigateDecoder struct{}

type frigateObject struct {
	ID           string          `json:"id"`
	Camera       string          `json:"camera"`
	Label        string          `json:"label"`
	SubLabel     json.RawMessage `json:"sub_label"`
	Score        *float64        `json:"score"`
	TopScore     *float64        `json:"top_score"`
	FalsePos     bool            `json:"false_positive"`
	StartTime    *float64        `json:"start_time"`
	EndTime      *float64        `json:"end_time"`
	FrameTime    *float64        `json:"frame_time"`
	CurrentZones []string        `json:"current_zones"`
	EnteredZones []string        `json:"entered_zones"`
	Plate        json.RawMessage `json:"recognized_license_plate"`
}

type frigateEvent struct {
	Type  string         `json:"type"`
	After *frigateObject `json:"after"`
}

// Decode implements Decoder: Frigate messages carry no readings.
func (FrigateDecoder) Decode(string, []byte, time.Time) ([]Reading, []Rejection) { return nil, nil }

// DecodeEvents implements EventDecoder.
func (FrigateDecoder) DecodeEvents(_ string, payload []byte, now time.Time) ([]streams.CameraEvent, []Rejection) {
	reject := func(reason Reason, format string, args ...any) ([]streams.CameraEvent, []Rejection) {
		return nil, []Rejection{{Reason: reason, Detail: fmt.Sprintf(format, args...), Record: payload}}
	}
	body := bytes.TrimSpace(payload)
	if len(body) == 0 {
		return reject(ReasonEmpty, "empty payload")
	}
	var ev frigateEvent
	err := unmarshalNonFinite(body, &ev)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return reject(ReasonMalformedJSON, "%s", jsonSyntaxDetail(body))
	case err != nil && hasNonFinite(body):
		return reject(ReasonNonFinite, "a number is NaN or infinite: %v", err)
	case err != nil:
		return reject(ReasonWrongType, "not a Frigate event: %v", err)
	case ev.Type != "new" && ev.Type != "update" && ev.Type != "end":
		return reject(ReasonWrongType, "type %q: want new, update or end", ev.Type)
	case ev.After == nil:
		return reject(ReasonMissingField, "no \"after\" object")
	}
	o := ev.After
	switch {
	case o.Camera == "":
		return reject(ReasonMissingField, "after.camera is empty")
	case o.ID == "":
		return reject(ReasonMissingField, "after.id is empty")
	case o.Label == "":
		return reject(ReasonMissingField, "after.label is empty")
	case o.FalsePos:
		return nil, nil
	}
	// The time of what the message reports: the end of an ended object, the frame of an update.
	at := o.FrameTime
	switch {
	case ev.Type == "new" && o.StartTime != nil:
		at = o.StartTime
	case ev.Type == "end" && o.EndTime != nil:
		at = o.EndTime
	case at == nil:
		at = o.StartTime
	}
	if at == nil {
		return reject(ReasonMissingField, "no start_time, frame_time or end_time")
	}
	if *at < 0 || *at > 4e9 {
		return reject(ReasonBadTimestamp, "event time %v is not a Unix time in 1970-2106", *at)
	}
	sec, frac := math.Modf(*at)
	e := streams.CameraEvent{
		Time:   time.Unix(int64(sec), int64(frac*1e9)).UTC().Truncate(time.Millisecond),
		Camera: o.Camera, Source: "frigate", Kind: streams.EventObject, Topic: "frigate/events",
		Rule: strings.Join(o.CurrentZones, ","), State: ev.Type, ObjectClass: streams.NormalizeClass(o.Label),
		ObjectID: o.ID, Plate: jsonText(o.Plate), Received: now,
		Data: []streams.KV{{Name: "label", Value: o.Label}},
	}
	for _, s := range []*float64{o.TopScore, o.Score} {
		if s != nil && *s >= 0 && *s <= 1 {
			e.Score = *s
			break
		}
	}
	if sub := jsonText(o.SubLabel); sub != "" {
		e.Data = append(e.Data, streams.KV{Name: "sub_label", Value: sub})
	}
	if len(o.EnteredZones) > 0 {
		e.Data = append(e.Data, streams.KV{Name: "entered_zones", Value: strings.Join(o.EnteredZones, ",")})
	}
	if e.Plate != "" && e.ObjectClass != streams.ClassVehicle {
		e.ObjectClass = streams.ClassLicensePlate
	}
	return []streams.CameraEvent{e}, nil
}

// hasNonFinite tells whether a payload holds a bare NaN or Infinity.
func hasNonFinite(body []byte) bool {
	_, changed := quoteNonFinite(body)
	return changed
}

// jsonText reads a field Frigate sends as a string, or as [text, score] in newer versions.
func jsonText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var pair []any
	if json.Unmarshal(raw, &pair) == nil && len(pair) > 0 {
		if s, ok := pair[0].(string); ok {
			return s
		}
	}
	return ""
}
