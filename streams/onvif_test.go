package streams

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var received = time.Date(2026, 11, 22, 3, 0, 5, 0, time.UTC)

// notificationDoc wraps one notification message the way ONVIF Profile S/T cameras send it.
func notificationDoc(topic, op string, source, data string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">
 <tt:Event>
  <wsnt:NotificationMessage>
   <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">` + topic + `</wsnt:Topic>
   <wsnt:Message>
    <tt:Message UtcTime="2026-11-22T03:00:01.250Z" PropertyOperation="` + op + `">
     <tt:Source>
      <tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSource_1"/>
      ` + source + `
     </tt:Source>
     <tt:Data>` + data + `</tt:Data>
    </tt:Message>
   </wsnt:Message>
  </wsnt:NotificationMessage>
 </tt:Event>
</tt:MetadataStream>`
}

func TestParseMetadataEvents(t *testing.T) {
	eventTime := time.Date(2026, 11, 22, 3, 0, 1, 250e6, time.UTC)
	cases := []struct {
		name string
		doc  string
		want CameraEvent
	}{
		{"motion", notificationDoc("tns1:RuleEngine/CellMotionDetector/Motion", "Changed",
			`<tt:SimpleItem Name="Rule" Value="MotionNight"/>`, `<tt:SimpleItem Name="IsMotion" Value="true"/>`),
			CameraEvent{Kind: EventMotion, Topic: "tns1:RuleEngine/CellMotionDetector/Motion", Rule: "MotionNight", State: "true", Operation: "Changed"}},
		{"line crossing with object", notificationDoc("tns1:RuleEngine/LineDetector/Crossed", "Changed",
			`<tt:SimpleItem Name="Rule" Value="StopLine"/>`, `<tt:SimpleItem Name="ObjectId" Value="42"/><tt:SimpleItem Name="ClassTypes" Value="Vehicle"/>`),
			CameraEvent{Kind: EventLineCrossing, Topic: "tns1:RuleEngine/LineDetector/Crossed", Rule: "StopLine", State: "crossed", Operation: "Changed", ObjectID: "42", ObjectClass: ClassVehicle}},
		{"field detector", notificationDoc("tns1:RuleEngine/FieldDetector/ObjectsInside", "Initialized",
			`<tt:SimpleItem Name="Rule" Value="BorderFence"/>`, `<tt:SimpleItem Name="IsInside" Value="true"/>`),
			CameraEvent{Kind: EventIntrusion, Topic: "tns1:RuleEngine/FieldDetector/ObjectsInside", Rule: "BorderFence", State: "true", Operation: "Initialized"}},
		{"counter", notificationDoc("tns1:RuleEngine/CountAggregation/Counter", "Changed",
			`<tt:SimpleItem Name="Rule" Value="LaneCount"/>`, `<tt:SimpleItem Name="Count" Value="17"/>`),
			CameraEvent{Kind: EventObjectCount, Topic: "tns1:RuleEngine/CountAggregation/Counter", Rule: "LaneCount", State: "17", Count: 17, Operation: "Changed"}},
		{"tamper, vendor prefix", notificationDoc("tnsaxis:VideoSource/Tampering", "Changed",
			``, `<tt:SimpleItem Name="State" Value="1"/>`),
			CameraEvent{Kind: EventTamper, Topic: "tnsaxis:VideoSource/Tampering", State: "1", Operation: "Changed"}},
		{"unknown topic kept", notificationDoc("tns1:Device/Trigger/DigitalInput", "Changed",
			`<tt:SimpleItem Name="InputToken" Value="DI_0"/>`, `<tt:SimpleItem Name="LogicalState" Value="true"/>`),
			CameraEvent{Kind: EventOther, Topic: "tns1:Device/Trigger/DigitalInput", Operation: "Changed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, err := ParseMetadata([]byte(c.doc), "lc-cam-01", received, DefaultMetadataLimits)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1: %+v", len(events), events)
			}
			got := events[0]
			want := c.want
			want.Camera, want.Source, want.Time, want.Received = "lc-cam-01", "onvif", eventTime, received
			got.Data, want.Data = nil, nil
			if got.Kind != want.Kind || got.Topic != want.Topic || got.Rule != want.Rule || got.State != want.State ||
				got.Operation != want.Operation || got.ObjectID != want.ObjectID || got.ObjectClass != want.ObjectClass ||
				got.Count != want.Count || !got.Time.Equal(want.Time) || got.Camera != want.Camera || got.Source != want.Source {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseMetadataKeepsOtherItems(t *testing.T) {
	doc := notificationDoc("tns1:Device/Trigger/DigitalInput", "Changed",
		`<tt:SimpleItem Name="InputToken" Value="DI_0"/>`, `<tt:SimpleItem Name="LogicalState" Value="true"/>`)
	events, err := ParseMetadata([]byte(doc), "c", received, DefaultMetadataLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := events[0].DataString(), "VideoSourceConfigurationToken=VideoSource_1; InputToken=DI_0; LogicalState=true"; got != want {
		t.Errorf("data %q, want %q", got, want)
	}
}

func TestParseMetadataObjects(t *testing.T) {
	doc := `<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">
 <tt:VideoAnalytics>
  <tt:Frame UtcTime="2026-11-22T03:00:02Z">
   <tt:Object ObjectId="7">
    <tt:Appearance>
     <tt:Shape><tt:BoundingBox left="0.1" top="0.2" right="0.3" bottom="0.4"/></tt:Shape>
     <tt:Class><tt:Type Likelihood="0.93">Vehicle</tt:Type></tt:Class>
     <tt:LicensePlateInfo><tt:PlateNumber>24A-123.45</tt:PlateNumber></tt:LicensePlateInfo>
    </tt:Appearance>
   </tt:Object>
   <tt:Object ObjectId="8">
    <tt:Appearance><tt:Class><tt:ClassCandidate><tt:Type>Human</tt:Type><tt:Likelihood>0.8</tt:Likelihood></tt:ClassCandidate></tt:Class></tt:Appearance>
   </tt:Object>
   <tt:Object ObjectId="9"><tt:Appearance><tt:Shape/></tt:Appearance></tt:Object>
  </tt:Frame>
 </tt:VideoAnalytics>
</tt:MetadataStream>`
	events, err := ParseMetadata([]byte(doc), "lc-cam-02", received, DefaultMetadataLimits)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2 (the unclassified object is not an event): %+v", len(events), events)
	}
	frame := time.Date(2026, 11, 22, 3, 0, 2, 0, time.UTC)
	v, p := events[0], events[1]
	if v.Kind != EventObject || v.ObjectID != "7" || v.ObjectClass != ClassVehicle || v.Plate != "24A-123.45" || v.Score != 0.93 || !v.Time.Equal(frame) {
		t.Errorf("vehicle: %+v", v)
	}
	if p.ObjectID != "8" || p.ObjectClass != ClassPerson || p.Score != 0.8 {
		t.Errorf("person: %+v", p)
	}
}

func TestParseMetadataHeartbeatHasNoEvents(t *testing.T) {
	doc := `<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics><tt:Frame UtcTime="2026-11-22T03:00:02Z"/></tt:VideoAnalytics></tt:MetadataStream>`
	events, err := ParseMetadata([]byte(doc), "c", received, DefaultMetadataLimits)
	if err != nil || len(events) != 0 {
		t.Fatalf("events %v, err %v; want none, no error", events, err)
	}
}

func TestParseMetadataMissingTimeIsReceived(t *testing.T) {
	doc := strings.Replace(notificationDoc("tns1:RuleEngine/CellMotionDetector/Motion", "Changed", "", `<tt:SimpleItem Name="IsMotion" Value="false"/>`),
		`UtcTime="2026-11-22T03:00:01.250Z" `, "", 1)
	events, err := ParseMetadata([]byte(doc), "c", received, DefaultMetadataLimits)
	if err != nil || len(events) != 1 || !events[0].Time.Equal(received) {
		t.Fatalf("events %+v, err %v; want one at the received time", events, err)
	}
}

func TestParseMetadataRejects(t *testing.T) {
	deep := `<tt:MetadataStream xmlns:tt="x">` + strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40) + `</tt:MetadataStream>`
	wide := `<tt:MetadataStream xmlns:tt="x">` + strings.Repeat("<a/>", 30000) + `</tt:MetadataStream>`
	cases := []struct {
		name, doc, want string
	}{
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><tt:MetadataStream>&lol2;</tt:MetadataStream>`, "DOCTYPE"},
		{"undeclared entity", `<tt:MetadataStream xmlns:tt="x">&xxe;</tt:MetadataStream>`, "entity"},
		{"too deep", deep, "nested deeper"},
		{"too many elements", wide, "more than"},
		{"too big", `<tt:MetadataStream>` + strings.Repeat(" ", 300<<10) + `</tt:MetadataStream>`, "over the limit"},
		{"truncated", `<tt:MetadataStream xmlns:tt="x"><tt:Event>`, "unexpected EOF"},
		{"wrong root", `<html><body/></html>`, "root element"},
		{"not xml", `{"type":"new"}`, "no MetadataStream"},
		{"other charset", `<?xml version="1.0" encoding="ISO-8859-1"?><tt:MetadataStream/>`, "charset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMetadata([]byte(c.doc), "c", received, DefaultMetadataLimits)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

// A topic (or any text we keep) over 1 KB refuses the document with its reason; it never
// becomes an event with an empty or cut topic. Exactly 1 KB is read.
func TestParseMetadataRefusesOversizedText(t *testing.T) {
	long := "tns1:RuleEngine/" + strings.Repeat("x", maxTextBytes)
	events, err := ParseMetadata([]byte(notificationDoc(long, "Changed", `<tt:SimpleItem Name="Rule" Value="r"/>`, `<tt:SimpleItem Name="IsMotion" Value="true"/>`)), "c", received, DefaultMetadataLimits)
	var me *MetadataError
	if !errors.As(err, &me) || me.Reason != RefusedTextTooLong || !strings.Contains(err.Error(), "Topic") || len(events) != 0 {
		t.Fatalf("a %d-byte topic: events %+v, err %v; want refused as %s naming Topic", len(long), events, err, RefusedTextTooLong)
	}
	fits := "tns1:" + strings.Repeat("y", maxTextBytes-len("tns1:"))
	events, err = ParseMetadata([]byte(notificationDoc(fits, "Changed", "", `<tt:SimpleItem Name="IsMotion" Value="true"/>`)), "c", received, DefaultMetadataLimits)
	if err != nil || len(events) != 1 || events[0].Topic != fits {
		t.Fatalf("a %d-byte topic: events %+v, err %v; want one event with the whole topic", len(fits), events, err)
	}
	_, err = ParseMetadata([]byte(`<html/>`), "c", received, DefaultMetadataLimits)
	if !errors.As(err, &me) || me.Reason != RefusedMalformed {
		t.Fatalf("a wrong root: err %v, want refused as %s", err, RefusedMalformed)
	}
}

func TestTopicKind(t *testing.T) {
	for topic, want := range map[string]EventKind{
		"tns1:RuleEngine/CellMotionDetector/Motion":         EventMotion,
		"tns1:VideoSource/MotionAlarm":                      EventMotion,
		"tns1:RuleEngine/LineDetector/Crossed":              EventLineCrossing,
		"tns1:RuleEngine/FieldDetector/ObjectsInside":       EventIntrusion,
		"tns1:RuleEngine/CountAggregation/Counter":          EventObjectCount,
		"tns1:VideoSource/GlobalSceneChange/ImagingService": EventTamper,
		"tns1:RuleEngine/LicensePlateRecognition/Plate":     EventObject,
		"tns1:Monitoring/ProcessorUsage":                    EventOther,
	} {
		if got := TopicKind(topic); got != want {
			t.Errorf("TopicKind(%q) = %s, want %s", topic, got, want)
		}
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(notificationDoc("tns1:RuleEngine/CellMotionDetector/Motion", "Changed", `<tt:SimpleItem Name="Rule" Value="r"/>`, `<tt:SimpleItem Name="IsMotion" Value="true"/>`)))
	f.Add([]byte(`<tt:MetadataStream xmlns:tt="x"><tt:VideoAnalytics><tt:Frame UtcTime="2026-11-22T03:00:02Z"><tt:Object ObjectId="1"><tt:Appearance><tt:Class><tt:Type Likelihood="0.5">Car</tt:Type></tt:Class></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	lim := MetadataLimits{MaxBytes: 64 << 10, MaxDepth: 16, MaxElements: 2000}
	f.Fuzz(func(t *testing.T, doc []byte) {
		events, err := ParseMetadata(doc, "c", received, lim)
		if err != nil && len(events) > 0 {
			t.Fatal("events returned with an error")
		}
		var me *MetadataError
		if err != nil && (!errors.As(err, &me) || me.Reason == "") {
			t.Fatalf("an error without a reason: %v", err)
		}
		for _, e := range events {
			if e.Camera != "c" || e.Source != "onvif" || e.Time.IsZero() || e.Kind == "" {
				t.Fatalf("incomplete event %+v", e)
			}
			if len(e.Topic) > maxTextBytes || len(e.Plate) > maxTextBytes {
				t.Fatalf("unbounded text in %+v", e)
			}
		}
	})
}
