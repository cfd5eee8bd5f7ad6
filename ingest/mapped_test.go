package ingest

import (
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

func TestMappedDecoder(t *testing.T) {
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	at := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC) // 21:15 in Việt Nam
	values := []config.FieldMap{
		{Field: "data.level_cm", Metric: "water_level", Unit: "cm"},
		{Field: "data.rain", Metric: "rainfall", Unit: "mm"},
		{Field: "state", Metric: "status"},
	}
	tests := []struct {
		name     string
		mapping  config.Mapping
		topic    string
		payload  string
		want     []Reading
		rejected []Reason
	}{
		{"sensor from the topic, local time layout", config.Mapping{Sensor: "topic:3", Time: "time", TimeFormat: "2006-01-02 15:04:05", Values: values},
			"vendor/acme/tram-7/data", `{"time":"2026-08-03 21:15:00","data":{"level_cm":"812.5","rain":1.2},"state":"OK"}`,
			[]Reading{{Time: at, Sensor: "tram-7", Metric: "water_level", Value: 812.5, Unit: "cm"},
				{Time: at, Sensor: "tram-7", Metric: "rainfall", Value: 1.2, Unit: "mm"},
				{Time: at, Sensor: "tram-7", Metric: "status", Text: "OK"}}, nil},
		{"sensor from a JSON path, unix seconds, array of records", config.Mapping{Sensor: "dev.id", Time: "ts", TimeFormat: "unix", Values: values},
			"vendor/x", `[{"dev":{"id":"a"},"ts":1785766500,"data":{"rain":0}},{"dev":{"id":7},"ts":"1785766500","data":{"rain":3}}]`,
			[]Reading{{Time: at, Sensor: "a", Metric: "rainfall", Value: 0, Unit: "mm"}, {Time: at, Sensor: "7", Metric: "rainfall", Value: 3, Unit: "mm"}}, nil},
		{"unix milliseconds, RFC 3339 default", config.Mapping{Sensor: "id", Time: "t", TimeFormat: "unix_ms", Values: values},
			"v", `{"id":"a","t":1785766500000,"data":{"rain":2}}`, []Reading{{Time: at, Sensor: "a", Metric: "rainfall", Value: 2, Unit: "mm"}}, nil},
		{"no time field configured: the time of arrival", config.Mapping{Sensor: "id", Values: values},
			"v", `{"id":"a","data":{"rain":2}}`, []Reading{{Time: now, Sensor: "a", Metric: "rainfall", Value: 2, Unit: "mm"}}, nil},
		{"a bad record costs only itself", config.Mapping{Sensor: "id", Time: "t", Values: values},
			"v", `[{"id":"a","t":"2026-08-03T21:15:00+07:00","data":{"rain":2}},{"id":"b","t":"soon","data":{"rain":2}},{"t":"2026-08-03T14:15:00Z","data":{"rain":1}},{"id":"c","t":"2026-08-03T14:15:00Z"}]`,
			[]Reading{{Time: at, Sensor: "a", Metric: "rainfall", Value: 2, Unit: "mm"}}, []Reason{ReasonBadTimestamp, ReasonMissingField, ReasonUnmapped}},
		{"NaN as a string", config.Mapping{Sensor: "id", Values: values}, "v", `{"id":"a","data":{"rain":"NaN"}}`, nil, []Reason{ReasonNonFinite}},
		{"a value that is an object", config.Mapping{Sensor: "id", Values: values}, "v", `{"id":"a","data":{"rain":{}}}`, nil, []Reason{ReasonWrongType}},
		{"sensor id of the wrong type", config.Mapping{Sensor: "id", Values: values}, "v", `{"id":true,"data":{"rain":1}}`, nil, []Reason{ReasonWrongType}},
		{"topic too short for the sensor level", config.Mapping{Sensor: "topic:5", Values: values}, "a/b", `{"data":{"rain":1}}`, nil, []Reason{ReasonMissingField}},
		{"time missing", config.Mapping{Sensor: "id", Time: "t", Values: values}, "v", `{"id":"a","data":{"rain":1}}`, nil, []Reason{ReasonMissingField}},
		{"time of the wrong type", config.Mapping{Sensor: "id", Time: "t", TimeFormat: "unix", Values: values}, "v", `{"id":"a","t":[],"data":{"rain":1}}`, nil, []Reason{ReasonBadTimestamp}},
		{"empty array", config.Mapping{Sensor: "id", Values: values}, "v", `[]`, nil, []Reason{ReasonEmpty}},
		{"scalar", config.Mapping{Sensor: "id", Values: values}, "v", `3`, nil, []Reason{ReasonWrongType}},
		{"broken", config.Mapping{Sensor: "id", Values: values}, "v", `{"id":`, nil, []Reason{ReasonMalformedJSON}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := NewMappedDecoder(tt.mapping)
			if err != nil {
				t.Fatal(err)
			}
			got, rejected := dec.Decode(tt.topic, []byte(tt.payload), now)
			assertDecoded(t, got, rejected, tt.want, tt.rejected)
		})
	}
}

func FuzzMappedDecoder(f *testing.F) {
	f.Add([]byte(`{"time":"2026-08-03 21:15:00","data":{"level_cm":"812.5","rain":1.2},"state":"OK","dev":{"id":"x"}}`))
	f.Add([]byte(`[{"dev":{"id":7},"time":NaN}]`))
	dec, err := NewMappedDecoder(config.Mapping{Sensor: "dev.id", Time: "time", TimeFormat: "2006-01-02 15:04:05",
		Values: []config.FieldMap{{Field: "data.level_cm", Metric: "water_level", Unit: "cm"}, {Field: "state", Metric: "status"}}})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		readings, rejections := dec.Decode("vendor/x", payload, now)
		assertSane(t, payload, readings, rejections)
	})
}

// BenchmarkMappedDecoder decodes one vendor record: the sensor from the topic, a local time
// layout, three mapped fields.
func BenchmarkMappedDecoder(b *testing.B) {
	d, err := NewMappedDecoder(config.Mapping{Sensor: "topic:3", Time: "time", TimeFormat: "2006-01-02 15:04:05", Values: []config.FieldMap{
		{Field: "data.level_cm", Metric: "water_level", Unit: "cm"}, {Field: "data.rain", Metric: "rainfall", Unit: "mm"}, {Field: "state", Metric: "status"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"time":"2026-08-03 21:15:00","data":{"level_cm":"812.5","rain":1.2},"state":"OK"}`)
	now := time.Date(2026, 8, 3, 15, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := d.Decode("vendor/acme/tram-7/data", payload, now); len(r) != 3 {
			b.Fatalf("%d readings, want 3", len(r))
		}
	}
}
