package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

var now = time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)

func testPipeline() *Pipeline {
	return &Pipeline{
		MaxPayloadBytes:        256,
		DeadLetterPayloadBytes: 32,
		Checks:                 []Check{FiniteValue{}, TimeWindow{MaxFuture: 5 * time.Minute, MaxAge: 24 * time.Hour}},
	}
}

func TestPipelineProcess(t *testing.T) {
	rec := func(ts string) string {
		return `{"sensor":"lc-hong-laocai","ts":"` + ts + `","metric":"water_level","value":81.4,"unit":"m"}`
	}
	tests := []struct {
		name     string
		payload  string
		readings int
		reasons  []Reason
	}{
		{"good", rec("2026-08-03T21:14:00+07:00"), 1, nil},
		{"four minutes ahead is clock skew, accepted", rec("2026-08-03T14:19:00Z"), 1, nil},
		{"six minutes ahead", rec("2026-08-03T14:21:00Z"), 0, []Reason{ReasonFutureTimestamp}},
		{"older than the horizon", rec("2026-08-01T14:15:00Z"), 0, []Reason{ReasonStaleTimestamp}},
		{"before 1970", rec("1969-12-31T23:59:59Z"), 0, []Reason{ReasonBadTimestamp}},
		{"past what DateTime holds", rec("2200-01-01T00:00:00Z"), 0, []Reason{ReasonBadTimestamp}},
		{"oversized", `{"sensor":"` + strings.Repeat("x", 300) + `"}`, 0, []Reason{ReasonOversized}},
		{"invalid UTF-8", "{\"sensor\":\"\xff\xfe\"}", 0, []Reason{ReasonInvalidUTF8}},
		{"one stale record among good ones", "[" + rec("2026-08-03T14:10:00Z") + "," + rec("2020-01-01T00:00:00Z") + "]", 1, []Reason{ReasonStaleTimestamp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testPipeline().Process("province/lao-cai/river_gauge/lc-hong-laocai", []byte(tt.payload), JSONDecoder{}, now)
			if len(d.Readings) != tt.readings {
				t.Fatalf("readings = %+v, want %d (dead letters %+v)", d.Readings, tt.readings, d.DeadLetters)
			}
			if len(d.DeadLetters) != len(tt.reasons) {
				t.Fatalf("dead letters = %+v, want reasons %v", d.DeadLetters, tt.reasons)
			}
			for i, dl := range d.DeadLetters {
				if dl.Reason != tt.reasons[i] {
					t.Errorf("dead letter %d reason %s (%s), want %s", i, dl.Reason, dl.Detail, tt.reasons[i])
				}
				if dl.Topic != "province/lao-cai/river_gauge/lc-hong-laocai" || dl.Source != "mqtt" || !dl.Time.Equal(now) {
					t.Errorf("dead letter %d lacks its origin: %+v", i, dl)
				}
				if len(dl.Payload) > 32 || dl.PayloadSize < len(dl.Payload) || dl.PayloadSize == 0 {
					t.Errorf("dead letter %d copy is not bounded: %d bytes of %d", i, len(dl.Payload), dl.PayloadSize)
				}
			}
			for _, r := range d.Readings {
				if r.Topic == "" || !r.Received.Equal(now) || r.Quality != QualityGood || r.Time.Location() != time.UTC {
					t.Errorf("reading not completed: %+v", r)
				}
			}
		})
	}
}

// The dead letter's payload is a copy: the transport may reuse its buffer after the handler.
func TestDeadLetterPayloadIsACopy(t *testing.T) {
	buf := []byte(`{"broken`)
	d := testPipeline().Process("t", buf, JSONDecoder{}, now)
	copy(buf, "XXXXXXXX")
	if len(d.DeadLetters) != 1 || string(d.DeadLetters[0].Payload) != `{"broken` {
		t.Fatalf("dead letter = %+v", d.DeadLetters)
	}
}

type constDecoder []Reading

func (c constDecoder) Decode(string, []byte, time.Time) ([]Reading, []Rejection) {
	return append([]Reading(nil), c...), nil
}

func TestFiniteValueGuardsEveryDecoder(t *testing.T) {
	dec := constDecoder{{Time: now, Sensor: "a", Metric: "m", Value: math.Inf(1)}, {Time: now, Sensor: "a", Metric: "m", Value: 1}}
	d := testPipeline().Process("t", []byte("x"), dec, now)
	if len(d.Readings) != 1 || len(d.DeadLetters) != 1 || d.DeadLetters[0].Reason != ReasonNonFinite {
		t.Fatalf("delivery = %+v", d)
	}
}

func BenchmarkPipelineProcess(b *testing.B) {
	p := testPipeline()
	p.MaxPayloadBytes = 1 << 20
	payload := []byte(`{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"}`)
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Process("province/lao-cai/river_gauge/lc-hong-laocai", payload, JSONDecoder{}, now); len(d.Readings) != 1 {
			b.Fatal("lost")
		}
	}
}

// BenchmarkPipelineProcessTrusted is BenchmarkPipelineProcess with what ioc serve adds by
// default: the device-identity check of the topic and plausibility.
func BenchmarkPipelineProcessTrusted(b *testing.B) {
	p := testPipeline()
	p.MaxPayloadBytes = 1 << 20
	cat, err := ParseCatalog([]byte(testCatalog), nil)
	if err != nil {
		b.Fatal(err)
	}
	p.Plausibility = NewPlausibility(func() *Catalog { return cat })
	dec, err := NewDecoder(config.Topic{Pattern: "province/+/+/+", Format: "json", QoS: 1, DeviceLevel: 4}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"}`)
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Process("province/lao-cai/river_gauge/lc-hong-laocai", payload, dec, now); len(d.Readings) != 1 || d.Readings[0].Quality != QualityGood {
			b.Fatal("lost or suspect")
		}
	}
}

// On a topic whose level names the device, a reading of another sensor is a dead letter
// (identity_mismatch) and the device's own readings in the same payload are kept.
func TestIdentityMismatch(t *testing.T) {
	dec, err := NewDecoder(config.Topic{Pattern: "province/+/+/+", Format: "json", QoS: 1, DeviceLevel: 4}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 8, 3, 14, 20, 0, 0, time.UTC)
	payload := []byte(`[{"sensor":"lc-hong-laocai","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":81.42,"unit":"m"},
		{"sensor":"lc-ngoi-bo","ts":"2026-08-03T21:15:00+07:00","metric":"water_level","value":99,"unit":"m"}]`)
	d := testPipeline().Process("province/lao-cai/river_gauge/lc-hong-laocai", payload, dec, now)
	if len(d.Readings) != 1 || d.Readings[0].Sensor != "lc-hong-laocai" {
		t.Errorf("readings %+v: want the device's own only", d.Readings)
	}
	if len(d.DeadLetters) != 1 || d.DeadLetters[0].Reason != ReasonIdentityMismatch ||
		d.DeadLetters[0].Detail != "topic names device lc-hong-laocai, the reading is of sensor lc-ngoi-bo" {
		t.Errorf("dead letters %+v: want one identity_mismatch", d.DeadLetters)
	}
	d = testPipeline().Process("province/lao-cai/river_gauge", payload, dec, now)
	if len(d.Readings) != 0 || len(d.DeadLetters) != 2 || d.DeadLetters[0].Reason != ReasonIdentityMismatch {
		t.Errorf("a topic without the device level: %+v", d)
	}
	if _, err := NewDecoder(config.Topic{Pattern: "frigate/+", Format: "frigate", DeviceLevel: 2}, nil, nil); err == nil {
		t.Error("device_level on camera events accepted")
	}
}
