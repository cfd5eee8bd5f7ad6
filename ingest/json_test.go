package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJSONDecoder(t *testing.T) {
	ts := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)
	good := Reading{Time: ts, Sensor: "lc-hong-laocai", Metric: "water_level", Value: 81.42, Unit: "m"}
	tests := []struct {
		name     string
		payload  string
		want     []Reading
		rejected []Reason
	}{
		{"object, RFC 3339 with offset", `{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"}`,
			[]Reading{good}, nil},
		{"epoch milliseconds", `{"sensor":"lc-hong-laocai","ts":1785766500000,"metric":"water_level","value":81.42,"unit":"m"}`,
			[]Reading{good}, nil},
		{"no unit, unknown fields ignored", `{"sensor":"s1","ts":"2026-08-03T14:15:00Z","metric":"vehicle_count","value":12,"battery":3.1}`,
			[]Reading{{Time: ts, Sensor: "s1", Metric: "vehicle_count", Value: 12}}, nil},
		{"escaped string", `{"sensor":"tr\u1ea1m-1","ts":"2026-08-03T14:15:00Z","metric":"ph","value":7}`,
			[]Reading{{Time: ts, Sensor: "trạm-1", Metric: "ph", Value: 7}}, nil},
		{"array keeps good records around bad ones", `[
			{"sensor":"a","ts":"2026-08-03T14:15:00Z","metric":"ph","value":7.1},
			{"ts":"2026-08-03T14:15:00Z","metric":"ph","value":7.2},
			{"sensor":"c","ts":"2026-08-03T14:15:00Z","metric":"ph","value":"7.3"},
			{"sensor":"d","ts":"2026-08-03T14:15:00Z","metric":"ph","value":7.4}]`,
			[]Reading{{Time: ts, Sensor: "a", Metric: "ph", Value: 7.1}, {Time: ts, Sensor: "d", Metric: "ph", Value: 7.4}},
			[]Reason{ReasonMissingField, ReasonWrongType}},
		{"Python's bare NaN keeps the rest", `[{"sensor":"a","ts":1785766500000,"metric":"ph","value":NaN},
			{"sensor":"b","ts":1785766500000,"metric":"ph","value":-Infinity},
			{"sensor":"c","ts":1785766500000,"metric":"ph","value":7}]`,
			[]Reading{{Time: ts, Sensor: "c", Metric: "ph", Value: 7}}, []Reason{ReasonNonFinite, ReasonNonFinite}},
		{"NaN inside a string is just text", `{"sensor":"NaN-Infinity","ts":1785766500000,"metric":"ph","value":7}`,
			[]Reading{{Time: ts, Sensor: "NaN-Infinity", Metric: "ph", Value: 7}}, nil},
		{"string NaN", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":"NaN"}`, nil, []Reason{ReasonNonFinite}},
		{"number out of range", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":1e999}`, nil, []Reason{ReasonNonFinite}},
		{"value null", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":null}`, nil, []Reason{ReasonMissingField}},
		{"value bool", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":true}`, nil, []Reason{ReasonWrongType}},
		{"no ts", `{"sensor":"a","metric":"ph","value":7}`, nil, []Reason{ReasonMissingField}},
		{"ts not a time", `{"sensor":"a","ts":"03/08/2026","metric":"ph","value":7}`, nil, []Reason{ReasonBadTimestamp}},
		{"ts absurd number", `{"sensor":"a","ts":1e300,"metric":"ph","value":7}`, nil, []Reason{ReasonBadTimestamp}},
		{"ts an object", `{"sensor":"a","ts":{},"metric":"ph","value":7}`, nil, []Reason{ReasonBadTimestamp}},
		{"empty sensor", `{"sensor":" ","ts":1785766500000,"metric":"ph","value":7}`, nil, []Reason{ReasonMissingField}},
		{"sensor a number", `{"sensor":17,"ts":1785766500000,"metric":"ph","value":7}`, nil, []Reason{ReasonWrongType}},
		{"unit a number", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":7,"unit":5}`, nil, []Reason{ReasonWrongType}},
		{"cut short", `{"sensor":"a","ts":1785766500000,"metric":"ph","val`, nil, []Reason{ReasonMalformedJSON}},
		{"trailing garbage", `{"sensor":"a","ts":1785766500000,"metric":"ph","value":7} x`, nil, []Reason{ReasonMalformedJSON}},
		{"empty", "  \n", nil, []Reason{ReasonEmpty}},
		{"empty array", `[]`, nil, []Reason{ReasonEmpty}},
		{"scalar", `42`, nil, []Reason{ReasonWrongType}},
		{"array of scalars", `[1, {"sensor":"a","ts":1785766500000,"metric":"ph","value":7}]`,
			[]Reading{{Time: ts, Sensor: "a", Metric: "ph", Value: 7}}, []Reason{ReasonWrongType}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := JSONDecoder{}.Decode("", []byte(tt.payload), time.Time{})
			assertDecoded(t, got, rejected, tt.want, tt.rejected)
		})
	}
}

// assertDecoded compares a decoder's readings and rejections with the expected ones.
func assertDecoded(t *testing.T, got []Reading, rejected []Rejection, want []Reading, reasons []Reason) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d readings %+v, want %d %+v (rejections %+v)", len(got), got, len(want), want, rejected)
	}
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) || got[i].Sensor != want[i].Sensor || got[i].Metric != want[i].Metric ||
			got[i].Value != want[i].Value || got[i].Text != want[i].Text || got[i].Unit != want[i].Unit {
			t.Errorf("reading %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(rejected) != len(reasons) {
		t.Fatalf("rejections %+v, want reasons %v", rejected, reasons)
	}
	for i, r := range rejected {
		if r.Reason != reasons[i] {
			t.Errorf("rejection %d: reason %s (%s), want %s", i, r.Reason, r.Detail, reasons[i])
		}
		if r.Detail == "" || len(r.Record) == 0 && r.Reason != ReasonEmpty {
			t.Errorf("rejection %d lacks detail or record: %+v", i, r)
		}
	}
}

// assertSane is what every decoder's fuzz target checks: no crash, no accepted reading without
// sensor, metric and time or with a non-finite value, no rejection without reason and detail,
// and no payload that vanishes without a reading or a rejection.
func assertSane(t *testing.T, payload []byte, readings []Reading, rejections []Rejection) {
	t.Helper()
	for _, r := range readings {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Sensor == "" || r.Metric == "" || r.Time.IsZero() {
			t.Fatalf("accepted a bad reading %+v from %q", r, payload)
		}
	}
	for _, r := range rejections {
		if r.Reason == "" || r.Detail == "" {
			t.Fatalf("rejection without reason or detail: %+v", r)
		}
	}
	if len(readings) == 0 && len(rejections) == 0 {
		t.Fatalf("payload %q vanished: no reading, no rejection", payload)
	}
}

// The record kept with a rejection inside an array is that record, not the whole payload.
func TestJSONDecoderRejectionKeepsItsRecord(t *testing.T) {
	_, rej := JSONDecoder{}.Decode("", []byte(`[{"sensor":"a","ts":1785766500000,"metric":"ph","value":7},{"sensor":"b"}]`), time.Time{})
	if len(rej) != 1 || string(rej[0].Record) != `{"sensor":"b"}` || rej[0].Detail != "record 1: metric: missing" {
		t.Fatalf("rejection = %+v", rej)
	}
}

func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"}`,
		`[{"sensor":"a","ts":1785766500000,"metric":"ph","value":NaN},{"sensor":"b","ts":1,"metric":"x","value":-Infinity}]`,
		`{"sensor":"\u00e9","ts":"x","value":"inf"}`, `[`, `"NaN"`, `[[]]`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"Sensor":"a","sensor":"b","ts":1,"metric":"m","value":1e3,"x":null,"y":true}`))
	f.Add([]byte(` {"sensor":"a","ts":1785766500000,"metric":"m","value":-0.5,"unit":null} `))
	f.Add([]byte(`[{"sensor":"a","ts":1,"metric":"m","value":1}, {"sensor":"b","ts":2,"metric":"m"} ,{"x":[1]}]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		readings, rejections := JSONDecoder{}.Decode("", payload, time.Time{})
		assertSane(t, payload, readings, rejections)
		// Where the fast path reads a record, encoding/json must read the same fields (for
		// valid UTF-8, which the pipeline checks before any decoder runs).
		body := bytes.TrimSpace(payload)
		if fast, _, ok := scanRecords(body); ok && utf8.Valid(payload) {
			var items []json.RawMessage
			err := json.Unmarshal(body, &items)
			careful := make([]jsonRecord, len(items))
			for i := range items {
				if err == nil {
					err = json.Unmarshal(items[i], &careful[i])
				}
			}
			if err != nil || fmt.Sprintf("%q", fast) != fmt.Sprintf("%q", careful) {
				t.Fatalf("fast path %q, encoding/json %q (%v), for %q", fast, careful, err, payload)
			}
		}
		if fast, ok := scanRecord(body); ok && utf8.Valid(payload) {
			var careful jsonRecord
			if err := json.Unmarshal(body, &careful); err != nil || fmt.Sprintf("%q", fast) != fmt.Sprintf("%q", careful) {
				t.Fatalf("fast path %q, encoding/json %q (%v), for %q", fast, careful, err, payload)
			}
		}
	})
}

func BenchmarkJSONDecoderObject(b *testing.B) {
	payload := []byte(`{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := (JSONDecoder{}).Decode("", payload, time.Time{}); len(r) != 1 {
			b.Fatal("no reading")
		}
	}
}

func BenchmarkJSONDecoderArray100(b *testing.B) {
	recs := make([]map[string]any, 100)
	for i := range recs {
		recs[i] = map[string]any{"sensor": "lc-hong-laocai", "ts": 1785766500000 + i*1000, "metric": "water_level", "value": 81.42 + float64(i), "unit": "m"}
	}
	payload, _ := json.Marshal(recs)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := (JSONDecoder{}).Decode("", payload, time.Time{}); len(r) != 100 {
			b.Fatal("readings lost")
		}
	}
}
