package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// JSONDecoder reads generic JSON readings: one object or an array of objects of the form
//
//	{"sensor": "lc-hong-laocai", "ts": "2026-08-03T21:15:00+07:00", "metric": "water_level", "value": 81.42, "unit": "m"}
//
// where ts is an RFC 3339 time or epoch milliseconds and unit may be left out. Fields it does
// not know are ignored. Each record is read on its own, so one bad record in an array costs
// only itself. Bare NaN and Infinity, which Python's json module writes, are read as
// non-finite values rather than as a broken payload.
type JSONDecoder struct{}

// jsonRecord holds a record's fields undecoded, so each can be checked for its own type.
type jsonRecord struct {
	Sensor json.RawMessage `json:"sensor"`
	TS     json.RawMessage `json:"ts"`
	Metric json.RawMessage `json:"metric"`
	Value  json.RawMessage `json:"value"`
	Unit   json.RawMessage `json:"unit"`
}

// Decode returns the readings of payload (Time, Sensor, Metric, Value, Unit set) and a
// rejection for every record it could not read.
func (JSONDecoder) Decode(_ string, payload []byte, _ time.Time) ([]Reading, []Rejection) {
	body := bytes.TrimSpace(payload)
	if len(body) == 0 {
		return nil, []Rejection{{Reason: ReasonEmpty, Detail: "empty payload", Record: payload}}
	}
	if rec, ok := scanRecord(body); ok { // one flat record, the common case: no reflection
		return oneRecord(rec, payload)
	}
	if recs, raws, ok := scanRecords(body); ok { // an array of them
		return manyRecords(recs, raws)
	}
	if !json.Valid(body) {
		fixed, ok := quoteNonFinite(body)
		if !ok || !json.Valid(fixed) {
			return nil, []Rejection{{Reason: ReasonMalformedJSON, Detail: jsonSyntaxDetail(body), Record: payload}}
		}
		body = fixed
	}
	switch body[0] {
	case '{':
		var rec jsonRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			return nil, []Rejection{{Reason: ReasonMalformedJSON, Detail: err.Error(), Record: payload}}
		}
		return oneRecord(rec, payload)
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, []Rejection{{Reason: ReasonMalformedJSON, Detail: err.Error(), Record: payload}}
		}
		if len(items) == 0 {
			return nil, []Rejection{{Reason: ReasonEmpty, Detail: "empty array", Record: payload}}
		}
		readings := make([]Reading, 0, len(items))
		var rejections []Rejection
		for i, item := range items {
			r, rej := decodeRecord(item)
			readings, rejections = keep(readings, rejections, i, item, r, rej)
		}
		return readings, rejections
	default:
		return nil, []Rejection{{Reason: ReasonWrongType, Detail: "want a JSON object or an array of objects", Record: payload}}
	}
}

// manyRecords is the answer for a payload of an array of records read by scanRecords.
func manyRecords(recs []jsonRecord, raws [][]byte) ([]Reading, []Rejection) {
	readings := make([]Reading, 0, len(recs))
	var rejections []Rejection
	for i, rec := range recs {
		r, rej := checkRecord(rec)
		readings, rejections = keep(readings, rejections, i, raws[i], r, rej)
	}
	return readings, rejections
}

// keep adds record i of an array (its bytes raw) to the readings, or its rejection, naming the
// record, to the rejections.
func keep(readings []Reading, rejections []Rejection, i int, raw []byte, r Reading, rej *Rejection) ([]Reading, []Rejection) {
	if rej != nil {
		rej.Detail = fmt.Sprintf("record %d: %s", i, rej.Detail)
		rej.Record = raw
		return readings, append(rejections, *rej)
	}
	return append(readings, r), rejections
}

// oneRecord is the answer for a payload of one record.
func oneRecord(rec jsonRecord, payload []byte) ([]Reading, []Rejection) {
	r, rej := checkRecord(rec)
	if rej != nil {
		rej.Record = payload
		return nil, []Rejection{*rej}
	}
	return []Reading{r}, nil
}

func decodeRecord(raw json.RawMessage) (Reading, *Rejection) {
	if len(raw) == 0 || raw[0] != '{' {
		return Reading{}, &Rejection{Reason: ReasonWrongType, Detail: "want a JSON object"}
	}
	var rec jsonRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return Reading{}, &Rejection{Reason: ReasonMalformedJSON, Detail: err.Error()}
	}
	return checkRecord(rec)
}

// scanRecord is the fast path for a payload of one flat record: an object whose values are
// strings without escapes, JSON numbers, booleans or null, each name once. It returns the
// record's fields as encoding/json would (the raw bytes of each value); ok is false for
// anything else, valid or not, which the careful path then reads and names its errors.
func scanRecord(body []byte) (rec jsonRecord, ok bool) {
	s := jsonScanner{b: body}
	if rec, ok = scanObject(&s); !ok {
		return rec, false
	}
	s.ws()
	return rec, s.i == len(body)
}

// scanRecords is scanRecord for a payload of an array of flat records, with each record's
// bytes (for its rejection).
func scanRecords(body []byte) (recs []jsonRecord, raws [][]byte, ok bool) {
	s := jsonScanner{b: body}
	if !s.consume('[') || s.peek() == ']' {
		return nil, nil, false
	}
	n := countByte(body, '{')
	recs, raws = make([]jsonRecord, 0, n), make([][]byte, 0, n)
	for first := true; !s.consume(']'); first = false {
		if !first && !s.consume(',') {
			return nil, nil, false
		}
		s.ws()
		start := s.i
		rec, ok := scanObject(&s)
		if !ok {
			return nil, nil, false
		}
		recs, raws = append(recs, rec), append(raws, body[start:s.i])
	}
	s.ws()
	return recs, raws, s.i == len(body)
}

// scanObject reads a flat object at s (see scanRecord).
func scanObject(s *jsonScanner) (rec jsonRecord, ok bool) {
	if !s.consume('{') {
		return rec, false
	}
	for first := true; !s.consume('}'); first = false {
		if !first && !s.consume(',') {
			return rec, false
		}
		key, isStr := s.str()
		if !isStr || !s.consume(':') {
			return rec, false
		}
		s.ws()
		start := s.i
		if _, isNum := s.number(); !isNum && !s.skipScalar() {
			return rec, false
		}
		raw := json.RawMessage(s.b[start:s.i])
		var field *json.RawMessage
		switch string(key) {
		case "sensor":
			field = &rec.Sensor
		case "ts":
			field = &rec.TS
		case "metric":
			field = &rec.Metric
		case "value":
			field = &rec.Value
		case "unit":
			field = &rec.Unit
		default: // names differing from these only in case are left to the careful path
			if strings.EqualFold(string(key), "sensor") || strings.EqualFold(string(key), "ts") || strings.EqualFold(string(key), "metric") ||
				strings.EqualFold(string(key), "value") || strings.EqualFold(string(key), "unit") {
				return rec, false
			}
			continue
		}
		if *field != nil { // a name twice: the careful path decides
			return rec, false
		}
		*field = raw
	}
	return rec, true
}

// checkRecord reads a record's fields into a reading.
func checkRecord(rec jsonRecord) (Reading, *Rejection) {
	var r Reading
	var rej *Rejection
	if r.Sensor, rej = requiredString("sensor", rec.Sensor); rej != nil {
		return r, rej
	}
	if r.Metric, rej = requiredString("metric", rec.Metric); rej != nil {
		return r, rej
	}
	if r.Value, rej = numberField("value", rec.Value); rej != nil {
		return r, rej
	}
	if r.Time, rej = timeField("ts", rec.TS); rej != nil {
		return r, rej
	}
	if !isNull(rec.Unit) {
		if r.Unit, rej = requiredString("unit", rec.Unit); rej != nil {
			return r, rej
		}
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func requiredString(name string, raw json.RawMessage) (string, *Rejection) {
	if isNull(raw) {
		return "", &Rejection{Reason: ReasonMissingField, Detail: name + ": missing"}
	}
	if raw[0] != '"' {
		return "", &Rejection{Reason: ReasonWrongType, Detail: name + ": want a string, got " + clip(raw)}
	}
	var s string
	if bytes.IndexByte(raw, '\\') < 0 {
		s = string(raw[1 : len(raw)-1]) // no escapes: the bytes between the quotes are the string
	} else if err := json.Unmarshal(raw, &s); err != nil {
		return "", &Rejection{Reason: ReasonWrongType, Detail: name + ": " + err.Error()}
	}
	if strings.TrimSpace(s) == "" {
		return "", &Rejection{Reason: ReasonMissingField, Detail: name + ": empty"}
	}
	return s, nil
}

// nonFiniteWords are the spellings of NaN and the infinities that devices send, as strings or
// (once quoteNonFinite has quoted them) as bare words.
var nonFiniteWords = map[string]bool{
	"nan": true, "inf": true, "+inf": true, "-inf": true,
	"infinity": true, "+infinity": true, "-infinity": true,
}

func numberField(name string, raw json.RawMessage) (float64, *Rejection) {
	if isNull(raw) {
		return 0, &Rejection{Reason: ReasonMissingField, Detail: name + ": missing"}
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil && nonFiniteWords[strings.ToLower(strings.TrimSpace(s))] {
			return 0, &Rejection{Reason: ReasonNonFinite, Detail: name + ": " + s}
		}
		return 0, &Rejection{Reason: ReasonWrongType, Detail: name + ": want a number, got " + clip(raw)}
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, &Rejection{Reason: ReasonWrongType, Detail: name + ": want a number, got " + clip(raw)}
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, &Rejection{Reason: ReasonNonFinite, Detail: name + ": " + clip(raw) + " is out of range"}
		}
		return 0, &Rejection{Reason: ReasonWrongType, Detail: name + ": " + err.Error()}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, &Rejection{Reason: ReasonNonFinite, Detail: name + ": " + clip(raw)}
	}
	return v, nil
}

// timeField reads an RFC 3339 time or a number of milliseconds since the Unix epoch.
func timeField(name string, raw json.RawMessage) (time.Time, *Rejection) {
	if isNull(raw) {
		return time.Time{}, &Rejection{Reason: ReasonMissingField, Detail: name + ": missing"}
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, &Rejection{Reason: ReasonBadTimestamp, Detail: name + ": " + err.Error()}
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, &Rejection{Reason: ReasonBadTimestamp, Detail: name + ": want RFC 3339 (2026-08-03T21:15:00+07:00) or epoch milliseconds, got " + clip(raw)}
		}
		return t.UTC(), nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || math.Abs(ms) > 1e15 {
		return time.Time{}, &Rejection{Reason: ReasonBadTimestamp, Detail: name + ": want RFC 3339 or epoch milliseconds, got " + clip(raw)}
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// unmarshalNonFinite decodes body into v (a pointer) like json.Unmarshal, except that a body
// which is not JSON only because of bare NaN, Infinity or -Infinity (as Python's json module
// writes them) is decoded with those words as strings, for the checks to reject as
// non-finite. The error is that of the last attempt: on the words quoted when there were any.
func unmarshalNonFinite(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	if fixed, changed := quoteNonFinite(body); changed {
		reflect.ValueOf(v).Elem().SetZero() // nothing of the failed attempt stays
		err = json.Unmarshal(fixed, v)
	}
	return err
}

// quoteNonFinite turns the bare words NaN, Infinity and -Infinity outside strings into JSON
// strings, so that a payload from Python's json module parses and only its non-finite values
// are rejected. It reports whether it changed anything.
func quoteNonFinite(b []byte) ([]byte, bool) {
	var out []byte
	inString, escaped, changed := false, false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			out = append(out, c)
			continue
		}
		if c == '"' {
			inString = true
			out = append(out, c)
			continue
		}
		matched := false
		for _, word := range []string{"NaN", "Infinity", "-Infinity"} {
			if bytes.HasPrefix(b[i:], []byte(word)) {
				out = append(out, '"')
				out = append(out, word...)
				out = append(out, '"')
				i += len(word) - 1
				matched, changed = true, true
				break
			}
		}
		if !matched {
			out = append(out, c)
		}
	}
	return out, changed
}

func jsonSyntaxDetail(body []byte) string {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if err != nil {
		return "invalid JSON: " + err.Error()
	}
	return "invalid JSON"
}

// clip shortens a raw value for an error detail.
func clip(raw []byte) string {
	const max = 64
	if len(raw) <= max {
		return string(raw)
	}
	return string(raw[:max]) + "…"
}
