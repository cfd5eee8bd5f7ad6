package ingest

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// MappedDecoder reads a vendor's JSON (one object, or an array of them) through a per-topic
// mapping in config: where the sensor id is (a JSON path or a topic level), where the time is
// and in which format, and which fields hold which metrics in which units.
type MappedDecoder struct {
	Mapping config.Mapping
	// loc is the zone of time layouts that carry none.
	loc *time.Location
}

// NewMappedDecoder builds the decoder of one mapped topic; the mapping is already validated.
func NewMappedDecoder(m config.Mapping) (*MappedDecoder, error) {
	loc := geo.Zone // device times without a zone are Việt Nam's
	if m.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(m.TimeZone); err != nil {
			return nil, fmt.Errorf("time zone %q: %w", m.TimeZone, err)
		}
	}
	return &MappedDecoder{Mapping: m, loc: loc}, nil
}

// Decode implements Decoder.
func (d *MappedDecoder) Decode(topic string, payload []byte, now time.Time) ([]Reading, []Rejection) {
	doc, rej := parseJSONDocument(payload)
	if rej != nil {
		return nil, []Rejection{*rej}
	}
	items, isArray := doc.([]any)
	if !isArray {
		items = []any{doc}
	} else if len(items) == 0 {
		return nil, []Rejection{{Reason: ReasonEmpty, Detail: "empty array", Record: payload}}
	}
	var readings []Reading
	var rejections []Rejection
	for i, item := range items {
		rs, rejs := d.record(topic, item, now)
		for _, rej := range rejs {
			if isArray {
				rej.Detail = fmt.Sprintf("record %d: %s", i, rej.Detail)
			}
			rej.Record = payload
			rejections = append(rejections, rej)
		}
		readings = append(readings, rs...)
	}
	return readings, rejections
}

func (d *MappedDecoder) record(topic string, item any, now time.Time) ([]Reading, []Rejection) {
	obj, ok := item.(map[string]any)
	if !ok {
		return nil, []Rejection{{Reason: ReasonWrongType, Detail: "want a JSON object"}}
	}
	sensor, rej := d.sensor(topic, obj)
	if rej != nil {
		return nil, []Rejection{*rej}
	}
	t := now.UTC()
	if d.Mapping.Time != "" {
		raw, found := jsonPath(obj, d.Mapping.Time)
		if !found {
			return nil, []Rejection{{Reason: ReasonMissingField, Detail: d.Mapping.Time + ": missing"}}
		}
		if t, rej = parseMappedTime(raw, d.Mapping.TimeFormat, d.loc); rej != nil {
			rej.Detail = d.Mapping.Time + ": " + rej.Detail
			return nil, []Rejection{*rej}
		}
	}
	return fieldReadings(obj, d.Mapping.Values, sensor, t)
}

func (d *MappedDecoder) sensor(topic string, obj map[string]any) (string, *Rejection) {
	if lvl, ok := strings.CutPrefix(d.Mapping.Sensor, "topic:"); ok {
		n, _ := strconv.Atoi(lvl)
		if s := topicLevel(topic, n); s != "" {
			return s, nil
		}
		return "", &Rejection{Reason: ReasonMissingField, Detail: fmt.Sprintf("topic %q has no level %d for the sensor id", topic, n)}
	}
	raw, found := jsonPath(obj, d.Mapping.Sensor)
	switch v := raw.(type) {
	case string:
		if strings.TrimSpace(v) != "" {
			return v, nil
		}
	case float64: // numeric device ids
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	if !found {
		return "", &Rejection{Reason: ReasonMissingField, Detail: d.Mapping.Sensor + ": missing"}
	}
	return "", &Rejection{Reason: ReasonWrongType, Detail: fmt.Sprintf("%s: want a sensor id, got %v", d.Mapping.Sensor, raw)}
}

// parseMappedTime reads a time in the mapping's format.
func parseMappedTime(raw any, format string, loc *time.Location) (time.Time, *Rejection) {
	bad := func(want string) (time.Time, *Rejection) {
		return time.Time{}, &Rejection{Reason: ReasonBadTimestamp, Detail: fmt.Sprintf("want %s, got %v", want, raw)}
	}
	switch format {
	case "unix", "unix_ms":
		v, ok := raw.(float64)
		if !ok {
			if s, isStr := raw.(string); isStr {
				var err error
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return bad("a number of seconds")
				}
			} else {
				return bad("a number")
			}
		}
		if format == "unix_ms" {
			v /= 1000
		}
		if math.IsNaN(v) || math.Abs(v) > 1e12 {
			return bad("a Unix time")
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	default:
		s, ok := raw.(string)
		if !ok {
			return bad("a string")
		}
		layout := format
		if format == "" || format == "rfc3339" {
			layout = time.RFC3339Nano
		}
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			return bad("a time like " + layout)
		}
		return t.UTC(), nil
	}
}

// fieldReadings takes the mapped fields of obj as readings of sensor at t. A field that is
// absent is skipped (devices leave out what they did not measure); a field with a bad value is
// rejected alone; a payload none of whose mapped fields is there is rejected.
func fieldReadings(obj map[string]any, maps []config.FieldMap, sensor string, t time.Time) ([]Reading, []Rejection) {
	readings := make([]Reading, 0, len(maps))
	var rejections []Rejection
	for _, m := range maps {
		raw, found := jsonPath(obj, m.Field)
		if !found || raw == nil {
			continue
		}
		r := Reading{Time: t, Sensor: sensor, Metric: m.Metric, Unit: m.Unit}
		if rej := setValue(&r, raw); rej != nil {
			rej.Detail = fmt.Sprintf("%s: %s", m.Field, rej.Detail)
			rejections = append(rejections, *rej)
			continue
		}
		readings = append(readings, r)
	}
	if len(readings) == 0 && len(rejections) == 0 {
		return nil, []Rejection{{Reason: ReasonUnmapped, Detail: fmt.Sprintf("none of the mapped fields (%s) is in the payload", fieldNames(maps))}}
	}
	return readings, rejections
}

// setValue stores a decoded JSON value in r: numbers (also as strings, which vendors send),
// booleans as 1 or 0, other strings as text.
func setValue(r *Reading, raw any) *Rejection {
	switch v := raw.(type) {
	case float64:
		r.Value = v
	case bool:
		if v {
			r.Value = 1
		}
	case string:
		word := strings.TrimSpace(v)
		if nonFiniteWords[strings.ToLower(word)] {
			return &Rejection{Reason: ReasonNonFinite, Detail: v}
		}
		if f, err := strconv.ParseFloat(word, 64); err == nil && !math.IsInf(f, 0) {
			r.Value = f
		} else {
			r.Text = v
		}
	default:
		return &Rejection{Reason: ReasonWrongType, Detail: fmt.Sprintf("want a number, got %T", raw)}
	}
	return nil
}

func fieldNames(maps []config.FieldMap) string {
	names := make([]string, len(maps))
	for i, m := range maps {
		names[i] = m.Field
	}
	return strings.Join(names, ", ")
}

// jsonPath follows a dotted path (device.id, data.0.level) through decoded JSON.
func jsonPath(doc any, path string) (any, bool) {
	cur := doc
	for _, key := range strings.Split(path, ".") {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// parseJSONDocument decodes a whole payload into generic JSON values, with bare NaN and
// Infinity read as strings so that only their own values are rejected.
func parseJSONDocument(payload []byte) (any, *Rejection) {
	body := bytes.TrimSpace(payload)
	if len(body) == 0 {
		return nil, &Rejection{Reason: ReasonEmpty, Detail: "empty payload", Record: payload}
	}
	var doc any
	if unmarshalNonFinite(body, &doc) != nil {
		return nil, &Rejection{Reason: ReasonMalformedJSON, Detail: jsonSyntaxDetail(body), Record: payload}
	}
	switch doc.(type) {
	case map[string]any, []any:
		return doc, nil
	}
	return nil, &Rejection{Reason: ReasonWrongType, Detail: "want a JSON object or an array of objects", Record: payload}
}
