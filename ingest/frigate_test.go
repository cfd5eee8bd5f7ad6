package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/streams"
)

// A Frigate event as its documentation shows one (MQTT topic frigate/events).
const frigateNew = `{"type":"new","before":{"id":"1607123955.475377-mxklsc","camera":"lc-cam-kim-thanh","label":"person"},
 "after":{"id":"1607123955.475377-mxklsc","camera":"lc-cam-kim-thanh","frame_time":1785805261.837752,"snapshot_time":0,
 "label":"person","sub_label":null,"top_score":0.958984375,"false_positive":false,"start_time":1785805255.475377,
 "end_time":null,"score":0.7890625,"box":[424,500,536,712],"area":23744,"ratio":2.113207,"region":[264,450,667,853],
 "current_zones":["cong_kiem_soat"],"entered_zones":["bai_xe","cong_kiem_soat"],"thumbnail":null,"has_snapshot":false,
 "has_clip":false,"stationary":false,"motionless_count":0,"position_changes":2}}`

var frigateNow = time.Date(2026, 8, 3, 14, 30, 0, 0, time.UTC)

func TestFrigateDecoder(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		want    streams.CameraEvent
	}{
		{"new person", frigateNew, streams.CameraEvent{Time: time.Unix(1785805255, 475e6).UTC(), Camera: "lc-cam-kim-thanh",
			State: "new", ObjectClass: streams.ClassPerson, ObjectID: "1607123955.475377-mxklsc", Rule: "cong_kiem_soat", Score: 0.958984375}},
		{"update takes the frame time", strings.Replace(frigateNew, `"type":"new"`, `"type":"update"`, 1),
			streams.CameraEvent{Time: time.Unix(1785805261, 837e6).UTC(), State: "update", ObjectClass: streams.ClassPerson}},
		{"end takes the end time", strings.Replace(strings.Replace(frigateNew, `"type":"new"`, `"type":"end"`, 1), `"end_time":null`, `"end_time":1785805300.5`, 1),
			streams.CameraEvent{Time: time.Unix(1785805300, 500e6).UTC(), State: "end", ObjectClass: streams.ClassPerson}},
		{"car with a recognised plate", strings.Replace(strings.Replace(frigateNew, `"label":"person","sub_label"`, `"label":"car","sub_label"`, 1),
			`"position_changes":2`, `"position_changes":2,"recognized_license_plate":["24A-123.45",0.93]`, 1),
			streams.CameraEvent{Time: time.Unix(1785805255, 475e6).UTC(), State: "new", ObjectClass: streams.ClassVehicle, Plate: "24A-123.45"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, rej := FrigateDecoder{}.DecodeEvents("frigate/events", []byte(c.payload), frigateNow)
			if len(rej) != 0 || len(events) != 1 {
				t.Fatalf("events %+v rejections %+v", events, rej)
			}
			e := events[0]
			if e.Source != "frigate" || e.Kind != streams.EventObject || e.Camera != "lc-cam-kim-thanh" || !e.Received.Equal(frigateNow) {
				t.Errorf("event %+v", e)
			}
			w := c.want
			if !e.Time.Equal(w.Time) || e.State != w.State || e.ObjectClass != w.ObjectClass || e.Plate != w.Plate ||
				(w.Rule != "" && e.Rule != w.Rule) || (w.Score != 0 && e.Score != w.Score) || (w.ObjectID != "" && e.ObjectID != w.ObjectID) {
				t.Errorf("got  %+v\nwant %+v", e, w)
			}
		})
	}
	if events, rej := (FrigateDecoder{}).DecodeEvents("frigate/events", []byte(strings.Replace(frigateNew, `"false_positive":false`, `"false_positive":true`, 1)), frigateNow); len(events)+len(rej) != 0 {
		t.Errorf("a false positive gave %v %v; want nothing", events, rej)
	}
}

func TestFrigateDecoderRejects(t *testing.T) {
	cases := map[string]struct {
		payload string
		reason  Reason
	}{
		"empty":          {"  ", ReasonEmpty},
		"not json":       {`{"type":"new",`, ReasonMalformedJSON},
		"unknown type":   {strings.Replace(frigateNew, `"type":"new"`, `"type":"created"`, 1), ReasonWrongType},
		"no after":       {`{"type":"new","before":{}}`, ReasonMissingField},
		"no camera":      {strings.Replace(frigateNew, `"camera":"lc-cam-kim-thanh","frame_time"`, `"camera":"","frame_time"`, 1), ReasonMissingField},
		"NaN time":       {strings.Replace(frigateNew, `"start_time":1785805255.475377`, `"start_time":NaN`, 1), ReasonNonFinite},
		"absurd time":    {strings.Replace(frigateNew, `"start_time":1785805255.475377`, `"start_time":-5`, 1), ReasonBadTimestamp},
		"label a number": {strings.Replace(frigateNew, `"label":"person","sub_label"`, `"label":7,"sub_label"`, 1), ReasonWrongType},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			events, rej := FrigateDecoder{}.DecodeEvents("frigate/events", []byte(c.payload), frigateNow)
			if len(events) != 0 || len(rej) != 1 || rej[0].Reason != c.reason {
				t.Fatalf("events %v rejections %+v; want one %s", events, rej, c.reason)
			}
		})
	}
}

// Through the pipeline, an event far in the future is a dead letter like a reading would be.
func TestPipelineChecksEventTimes(t *testing.T) {
	p := Pipeline{MaxPayloadBytes: 1 << 20, DeadLetterPayloadBytes: 256, EventTimes: TimeWindow{MaxFuture: 5 * time.Minute, MaxAge: 24 * time.Hour}}
	d := p.Process("frigate/events", []byte(frigateNew), FrigateDecoder{}, time.Unix(1785805255, 0).Add(-time.Hour))
	if len(d.CameraEvents) != 0 || len(d.DeadLetters) != 1 || d.DeadLetters[0].Reason != ReasonFutureTimestamp {
		t.Fatalf("delivery %+v", d)
	}
	d = p.Process("frigate/events", []byte(frigateNew), FrigateDecoder{}, time.Unix(1785805260, 0))
	if len(d.CameraEvents) != 1 || len(d.DeadLetters) != 0 || len(d.Readings) != 0 {
		t.Fatalf("delivery %+v", d)
	}
}

func FuzzFrigateDecoder(f *testing.F) {
	f.Add([]byte(frigateNew))
	f.Add([]byte(`{"type":"end","after":{"id":"x","camera":"c","label":"car","end_time":1e9,"recognized_license_plate":["A",1]}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		events, rej := FrigateDecoder{}.DecodeEvents("frigate/events", payload, frigateNow)
		if len(events) > 1 || (len(events) == 1 && len(rej) != 0) {
			t.Fatalf("events %v with rejections %v", events, rej)
		}
		for _, e := range events {
			if e.Camera == "" || e.ObjectID == "" || e.Time.IsZero() || math.IsNaN(e.Score) {
				t.Fatalf("incomplete event %+v", e)
			}
		}
		for _, r := range rej {
			if r.Reason == "" || r.Detail == "" {
				t.Fatalf("rejection without reason or detail: %+v", r)
			}
		}
	})
}

// BenchmarkFrigateDecoder decodes one Frigate NVR event.
func BenchmarkFrigateDecoder(b *testing.B) {
	payload := []byte(frigateNew)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if e, _ := (FrigateDecoder{}).DecodeEvents("frigate/events", payload, frigateNow); len(e) != 1 {
			b.Fatalf("%d events, want 1", len(e))
		}
	}
}
