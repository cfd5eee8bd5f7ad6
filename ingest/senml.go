package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// SenMLDecoder reads SenML JSON packs (RFC 8428): an array of records whose base fields (bn,
// bt, bu, bv, bs) apply to their own record and the ones after it. A record's name (bn + n)
// is "<sensor><sep><metric>", sep being the last ':' or '/', with a leading urn:dev:<type>:
// (RFC 9039) dropped: urn:dev:ow:lc-hong-bat-xat:water_level is metric water_level of sensor
// lc-hong-bat-xat. When SensorLevel is set the sensor id comes from that topic level instead
// and the whole last name segment is the metric. Times below 2^28 are relative to the time
// the message arrived (§4.5.3); a record without time is "now". Boolean values become 1 or 0,
// string and data values are text readings. Unknown fields are ignored, except those ending in
// "_", which the RFC says must be understood: a record carrying one is rejected.
type SenMLDecoder struct {
	// SensorLevel, when positive, names the topic level (from 1) that holds the sensor id.
	SensorLevel int
}

// senmlRecord is one record's fields; has tells which values it carries.
type senmlRecord struct {
	BN, BU, N, U  string
	BT, BV, BS, T float64
	V, S          float64
	VS, VD        string
	VB            bool
	has           senmlValues
}

// senmlValues flags the values a record carries.
type senmlValues uint8

const (
	hasV senmlValues = 1 << iota
	hasS
	hasVS
	hasVD
	hasVB
)

// senmlRelativeLimit: resolved times below 2^28 seconds are relative to now (RFC 8428 §4.5.3).
const senmlRelativeLimit = 1 << 28

// Decode implements Decoder.
func (d SenMLDecoder) Decode(topic string, payload []byte, now time.Time) ([]Reading, []Rejection) {
	body := bytes.TrimSpace(payload)
	if len(body) == 0 {
		return nil, []Rejection{{Reason: ReasonEmpty, Detail: "empty payload", Record: payload}}
	}
	if body[0] == '{' { // a lone record is not a pack, but devices send them: read it as one
		body = append(append([]byte{'['}, body...), ']')
	}
	if body[0] != '[' {
		return nil, []Rejection{{Reason: ReasonWrongType, Detail: "want a SenML pack (a JSON array of records)", Record: payload}}
	}
	sensor := ""
	if d.SensorLevel > 0 {
		sensor = topicLevel(topic, d.SensorLevel)
	}
	if readings, rejections, ok := scanPack(body, sensor, now); ok {
		for i := range rejections {
			rejections[i].Record = payload
		}
		return readings, noValues(readings, rejections, payload)
	}
	return d.decodeCarefully(body, payload, sensor, now)
}

// noValues adds a rejection for a pack that held no value at all (base fields only, or []).
func noValues(readings []Reading, rejections []Rejection, payload []byte) []Rejection {
	if len(readings) == 0 && len(rejections) == 0 {
		return []Rejection{{Reason: ReasonEmpty, Detail: "the pack holds no value", Record: payload}}
	}
	return rejections
}

// decodeCarefully reads a pack record by record, checking each field's type and name.
func (d SenMLDecoder) decodeCarefully(body, payload []byte, sensor string, now time.Time) ([]Reading, []Rejection) {
	var items []json.RawMessage
	if unmarshalNonFinite(body, &items) != nil {
		return nil, []Rejection{{Reason: ReasonMalformedJSON, Detail: jsonSyntaxDetail(body), Record: payload}}
	}
	var res senmlResolver
	var readings []Reading
	var rejections []Rejection
	for i, item := range items {
		rec, rej := parseSenMLRecord(item)
		if rej == nil {
			var r Reading
			var ok bool
			if r, ok, rej = res.resolve(&rec, sensor, now); rej == nil && ok {
				readings = append(readings, r)
			}
		}
		if rej != nil {
			rej.Detail = fmt.Sprintf("record %d: %s", i, rej.Detail)
			rej.Record = item
			rejections = append(rejections, *rej)
		}
	}
	return readings, noValues(readings, rejections, payload)
}

// parseSenMLRecord reads one record field by field, so that a wrong type names its field.
func parseSenMLRecord(raw json.RawMessage) (senmlRecord, *Rejection) {
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return senmlRecord{}, &Rejection{Reason: ReasonWrongType, Detail: "want a JSON object"}
	}
	var rec senmlRecord
	for key, val := range fields {
		if strings.HasSuffix(key, "_") {
			return rec, &Rejection{Reason: ReasonMustUnderstand, Detail: fmt.Sprintf("field %q must be understood (RFC 8428 §4.4) and is not", key)}
		}
		var rej *Rejection
		switch key {
		case "bn", "bu", "n", "u", "vs", "vd":
			var s string
			if val[0] != '"' || json.Unmarshal(val, &s) != nil {
				rej = &Rejection{Reason: ReasonWrongType, Detail: key + ": want a string, got " + clip(val)}
			} else {
				rec.setString(key, s)
			}
		case "bt", "bv", "bs", "t", "v", "s":
			var v float64
			if v, rej = numberField(key, val); rej == nil {
				rec.setNumber(key, v)
			}
		case "vb":
			if err := json.Unmarshal(val, &rec.VB); err != nil {
				rej = &Rejection{Reason: ReasonWrongType, Detail: "vb: want true or false, got " + clip(val)}
			}
			rec.has |= hasVB
		}
		if rej != nil {
			return rec, rej
		}
	}
	return rec, nil
}

// setString sets one of rec's string fields (bn, bu, n, u, vs, vd); other keys are ignored.
func (rec *senmlRecord) setString(key, s string) {
	switch key {
	case "bn":
		rec.BN = s
	case "bu":
		rec.BU = s
	case "n":
		rec.N = s
	case "u":
		rec.U = s
	case "vs":
		rec.VS, rec.has = s, rec.has|hasVS
	case "vd":
		rec.VD, rec.has = s, rec.has|hasVD
	}
}

// setNumber sets one of rec's number fields (bt, bv, bs, t, v, s); other keys are ignored.
func (rec *senmlRecord) setNumber(key string, v float64) {
	switch key {
	case "bt":
		rec.BT = v
	case "bv":
		rec.BV = v
	case "bs":
		rec.BS = v
	case "t":
		rec.T = v
	case "v":
		rec.V, rec.has = v, rec.has|hasV
	case "s":
		rec.S, rec.has = v, rec.has|hasS
	}
}

// senmlResolver carries the base fields from record to record (RFC 8428 §4.6).
type senmlResolver struct {
	bn, bu string
	bt     float64
	bv, bs float64
	// the sensor and metric of the last name, kept so that a pack's records share the strings
	lastName, lastSensor, lastMetric string
}

// resolve turns a record into a reading; ok is false for a record that only sets base fields.
func (res *senmlResolver) resolve(rec *senmlRecord, topicSensor string, now time.Time) (Reading, bool, *Rejection) {
	if rec.BN != "" {
		res.bn = rec.BN
	}
	if rec.BU != "" {
		res.bu = rec.BU
	}
	if rec.BT != 0 { // bt, bv and bs given again replace the base
		res.bt = rec.BT
	}
	if rec.BV != 0 {
		res.bv = rec.BV
	}
	if rec.BS != 0 {
		res.bs = rec.BS
	}
	if rec.has == 0 {
		if rec.N == "" {
			return Reading{}, false, nil // a record of base fields only
		}
		return Reading{}, false, &Rejection{Reason: ReasonMissingField, Detail: "no value (v, vs, vb, vd or s)"}
	}
	var r Reading
	var rej *Rejection
	if r.Sensor, r.Metric, rej = res.name(res.bn+rec.N, topicSensor); rej != nil {
		return r, false, rej
	}
	switch {
	case rec.has&hasV != 0:
		r.Value = res.bv + rec.V
	case rec.has&hasVB != 0:
		if rec.VB {
			r.Value = 1
		}
	case rec.has&hasVS != 0:
		r.Text = rec.VS
	case rec.has&hasVD != 0:
		r.Text = rec.VD
	default:
		r.Value = res.bs + rec.S
	}
	r.Unit = rec.U
	if r.Unit == "" {
		r.Unit = res.bu
	}
	t := res.bt + rec.T
	if math.IsNaN(t) || math.IsInf(t, 0) || math.Abs(t) > 1e12 {
		return r, false, &Rejection{Reason: ReasonBadTimestamp, Detail: fmt.Sprintf("time %g is not a time", t)}
	}
	if t < senmlRelativeLimit {
		r.Time = now.Add(time.Duration(t * float64(time.Second))).UTC()
	} else {
		r.Time = time.UnixMicro(int64(math.Round(t * 1e6))).UTC() // float seconds: keep microseconds
	}
	return r, true, nil
}

// name splits a resolved SenML name into sensor and metric.
func (res *senmlResolver) name(full, topicSensor string) (sensor, metric string, rej *Rejection) {
	if full == res.lastName && full != "" {
		return res.lastSensor, res.lastMetric, nil
	}
	rest := full
	if strings.HasPrefix(rest, "urn:dev:") {
		if i := strings.IndexByte(rest[len("urn:dev:"):], ':'); i >= 0 {
			rest = rest[len("urn:dev:")+i+1:]
		}
	}
	i := strings.LastIndexAny(rest, ":/")
	switch {
	case rest == "" || i == len(rest)-1:
		return "", "", &Rejection{Reason: ReasonMissingField, Detail: fmt.Sprintf("name %q has no metric", full)}
	case topicSensor != "":
		sensor, metric = topicSensor, rest[i+1:]
	case i <= 0:
		return "", "", &Rejection{Reason: ReasonMissingField, Detail: fmt.Sprintf("name %q has no sensor part (want <sensor>:<metric>)", full)}
	default:
		sensor, metric = rest[:i], rest[i+1:]
	}
	res.lastName, res.lastSensor, res.lastMetric = full, sensor, metric
	return sensor, metric, nil
}

// topicLevel returns level n (from 1) of topic, or "".
func topicLevel(topic string, n int) string {
	for i := 1; ; i++ {
		level, rest, more := strings.Cut(topic, "/")
		if i == n {
			return level
		}
		if !more {
			return ""
		}
		topic = rest
	}
}
