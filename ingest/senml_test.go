package ingest

import (
	"fmt"
	"math"
	"testing"
	"time"
	"unicode/utf8"
)

// The packs are RFC 8428's own examples (§5.1.1–5.1.6, §5.4), then the shapes devices in the
// field send.
func TestSenMLDecoder(t *testing.T) {
	now := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)
	at := func(sec float64) time.Time {
		return time.UnixMicro(int64(math.Round(sec * 1e6))).UTC()
	}
	tests := []struct {
		name     string
		level    int
		topic    string
		payload  string
		want     []Reading
		rejected []Reason
	}{
		{"§5.1.1 single datapoint: the name is the device alone, no metric",
			0, "", `[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]`, nil, []Reason{ReasonMissingField}},
		{"§5.1.1 single datapoint with the sensor id from the topic",
			2, "senml/10e2073a01080063", `[{"n":"temperature","u":"Cel","v":23.1}]`,
			[]Reading{{Time: now, Sensor: "10e2073a01080063", Metric: "temperature", Value: 23.1, Unit: "Cel"}}, nil},
		{"§5.1.2 multiple datapoints: base name, own units",
			0, "", `[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},{"n":"current","u":"A","v":1.2}]`,
			[]Reading{
				{Time: now, Sensor: "10e2073a01080063", Metric: "voltage", Value: 120.1, Unit: "V"},
				{Time: now, Sensor: "10e2073a01080063", Metric: "current", Value: 1.2, Unit: "A"}}, nil},
		{"§5.1.3 multiple measurements: base time, base unit, relative offsets",
			0, "", `[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},
			{"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},{"n":"current","v":1.7}]`,
			[]Reading{
				{Time: at(1276020076.001), Sensor: "10e2073a0108006", Metric: "voltage", Value: 120.1, Unit: "V"},
				{Time: at(1276020071.001), Sensor: "10e2073a0108006", Metric: "current", Value: 1.2, Unit: "A"},
				{Time: at(1276020072.001), Sensor: "10e2073a0108006", Metric: "current", Value: 1.3, Unit: "A"},
				{Time: at(1276020076.001), Sensor: "10e2073a0108006", Metric: "current", Value: 1.7, Unit: "A"}}, nil},
		{"§5.1.4 multiple data types: string, boolean and data values",
			0, "", `[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},{"n":"label","vs":"Machine Room"},
			{"n":"open","vb":false},{"n":"nfc-reader","vd":"aGkgCg"}]`,
			[]Reading{
				{Time: now, Sensor: "10e2073a01080063", Metric: "temp", Value: 23.1, Unit: "Cel"},
				{Time: now, Sensor: "10e2073a01080063", Metric: "label", Text: "Machine Room"},
				{Time: now, Sensor: "10e2073a01080063", Metric: "open", Value: 0},
				{Time: now, Sensor: "10e2073a01080063", Metric: "nfc-reader", Text: "aGkgCg"}}, nil},
		{"§5.1.6 collection of resources: a path-like base name",
			0, "", `[{"bn":"2001:db8::2/","bt":1.320078429e+09,"n":"temperature","v":27.2,"u":"Cel"},{"n":"humidity","v":80,"u":"%RH"}]`,
			[]Reading{
				{Time: at(1320078429), Sensor: "2001:db8::2", Metric: "temperature", Value: 27.2, Unit: "Cel"},
				{Time: at(1320078429), Sensor: "2001:db8::2", Metric: "humidity", Value: 80, Unit: "%RH"}}, nil},
		{"§4.5.3 times below 2^28 are relative to now",
			0, "", `[{"n":"lc-rain-sa-pa:rainfall","t":-600,"u":"mm","v":2.5},{"n":"lc-rain-sa-pa:rainfall","v":1}]`,
			[]Reading{
				{Time: now.Add(-10 * time.Minute), Sensor: "lc-rain-sa-pa", Metric: "rainfall", Value: 2.5, Unit: "mm"},
				{Time: now, Sensor: "lc-rain-sa-pa", Metric: "rainfall", Value: 1}}, nil},
		{"DOMAIN.md's river gauge pack", 0, "",
			`[{"bn":"urn:dev:ow:lc-hong-bat-xat:","bt":1785805200,"bu":"m","n":"water_level","v":81.42},
			{"n":"water_level","t":600,"v":81.57},{"n":"temperature","u":"Cel","v":24.1}]`,
			[]Reading{
				{Time: at(1785805200), Sensor: "lc-hong-bat-xat", Metric: "water_level", Value: 81.42, Unit: "m"},
				{Time: at(1785805800), Sensor: "lc-hong-bat-xat", Metric: "water_level", Value: 81.57, Unit: "m"},
				{Time: at(1785805200), Sensor: "lc-hong-bat-xat", Metric: "temperature", Value: 24.1, Unit: "Cel"}}, nil},
		{"base value and sum", 0, "", `[{"bn":"g:","bv":80,"n":"water_level","v":1.5},{"n":"rainfall","bs":10,"s":2}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "water_level", Value: 81.5}, {Time: now, Sensor: "g", Metric: "rainfall", Value: 12}}, nil},
		{"a lone record, not in a pack", 0, "", `{"n":"g:ph","v":7.2}`, []Reading{{Time: now, Sensor: "g", Metric: "ph", Value: 7.2}}, nil},
		{"unknown fields are ignored", 0, "", `[{"n":"g:ph","v":7.2,"vendor":{"x":1},"ut":60}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "ph", Value: 7.2}}, nil},
		{"§4.4 a field ending in _ must be understood: its record is rejected, the rest kept", 0, "",
			`[{"n":"g:ph","v":7.2},{"n":"g:ph","t":1,"v":7.3,"bx_":1},{"n":"g:ph","t":2,"v":7.4}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "ph", Value: 7.2}, {Time: now.Add(2 * time.Second), Sensor: "g", Metric: "ph", Value: 7.4}},
			[]Reason{ReasonMustUnderstand}},
		{"a wrong type costs only its record", 0, "", `[{"n":"g:ph","v":"7.2"},{"n":"g:do","v":6.1},{"n":5,"v":1},{"n":"g:x","vb":"yes"}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "do", Value: 6.1}}, []Reason{ReasonWrongType, ReasonWrongType, ReasonWrongType}},
		{"a number field of the wrong type, alone in an otherwise plain pack", 0, "", `[{"n":"g:ph","v":"7.2"},{"n":"g:do","t":true,"v":6.1},{"n":"g:do","v":6.2}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "do", Value: 6.2}}, []Reason{ReasonWrongType, ReasonWrongType}},
		{"bare NaN from a device", 0, "", `[{"n":"g:ph","v":NaN},{"n":"g:do","v":6.1}]`,
			[]Reading{{Time: now, Sensor: "g", Metric: "do", Value: 6.1}}, []Reason{ReasonNonFinite}},
		{"a record without a value", 0, "", `[{"n":"g:ph"}]`, nil, []Reason{ReasonMissingField}},
		{"base fields only", 0, "", `[{"bn":"g:"}]`, nil, []Reason{ReasonEmpty}},
		{"a name ending in its separator", 0, "", `[{"bn":"g:","v":1}]`, nil, []Reason{ReasonMissingField}},
		{"an absurd time", 0, "", `[{"n":"g:ph","bt":1e300,"v":7}]`, nil, []Reason{ReasonBadTimestamp}},
		{"empty pack", 0, "", `[]`, nil, []Reason{ReasonEmpty}},
		{"not a pack", 0, "", `"hello"`, nil, []Reason{ReasonWrongType}},
		{"cut short", 0, "", `[{"n":"g:ph","v":7`, nil, []Reason{ReasonMalformedJSON}},
		{"empty", 0, "", ``, nil, []Reason{ReasonEmpty}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := SenMLDecoder{SensorLevel: tt.level}.Decode(tt.topic, []byte(tt.payload), now)
			assertDecoded(t, got, rejected, tt.want, tt.rejected)
		})
	}
}

func FuzzSenMLDecoder(f *testing.F) {
	for _, s := range []string{
		`[{"bn":"urn:dev:ow:lc-hong-bat-xat:","bt":1785805200,"bu":"m","n":"water_level","v":81.42},{"n":"water_level","t":600,"v":81.57}]`,
		`[{"n":"g:label","vs":"x"},{"n":"g:open","vb":true},{"n":"g:ph","v":NaN,"x_":1}]`,
		`{"n":"a:b","s":1,"bs":2}`, `[{"bn":"g:"}]`, `[`, `[[]]`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		readings, rejections := SenMLDecoder{}.Decode("senml/x", payload, now)
		assertSane(t, payload, readings, rejections)
		// Where the fast path reads a pack, the careful path must read the same readings (for
		// valid UTF-8, which the pipeline checks before any decoder runs).
		if fast, fastRej, ok := scanPack(payload, "", now); ok && utf8.Valid(payload) {
			fastRej = noValues(fast, fastRej, payload) // as Decode does after either path
			careful, carefulRej := SenMLDecoder{}.decodeCarefully(payload, payload, "", now)
			if fmt.Sprint(fast) != fmt.Sprint(careful) || fmt.Sprint(reasons(fastRej)) != fmt.Sprint(reasons(carefulRej)) {
				t.Fatalf("fast path %+v %v, careful path %+v %v, for %q", fast, reasons(fastRej), careful, reasons(carefulRej), payload)
			}
		}
	})
}

// BenchmarkSenMLPack100 decodes a pack of 100 records: one gauge's minutes, like a gateway's.
func BenchmarkSenMLPack100(b *testing.B) {
	payload := []byte(`[{"bn":"urn:dev:ops:s-0001:","bt":1785805200,"bu":"m","n":"water_level","v":81.42}`)
	for i := 1; i < 100; i++ {
		payload = fmt.Appendf(payload, `,{"n":"water_level","t":%d,"v":%.2f}`, i*60, 80+float64(i)/100)
	}
	payload = append(payload, ']')
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if r, _ := (SenMLDecoder{}).Decode("senml/x", payload, time.Time{}); len(r) != 100 {
			b.Fatalf("%d readings", len(r))
		}
	}
}

func reasons(rejs []Rejection) []Reason {
	out := make([]Reason, len(rejs))
	for i, r := range rejs {
		out[i] = r.Reason
	}
	return out
}
