package camsim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"
)

// ScriptEvent is one event a simulated camera's analytics report on its metadata track.
type ScriptEvent struct {
	// Kind is motion, line_crossing, intrusion, object_count or object.
	Kind string
	Rule string
	// State is the event's value: "true"/"false" for motion and intrusion.
	State string
	// Count is an object_count event's count.
	Count int
	// Class and Plate describe an object event's object (Vehicle, Human, …).
	Class, Plate string
	ObjectID     int
}

// DefaultScript is what a simulated traffic camera's analytics report, in a loop: motion
// starting, a vehicle with its plate, a line crossing, a lane count, an intrusion into a
// fenced field, and motion ending.
var DefaultScript = []ScriptEvent{
	{Kind: "motion", Rule: "ChuyenDong", State: "true"},
	{Kind: "object", Class: "Vehicle", Plate: "24A-123.45", ObjectID: 1},
	{Kind: "line_crossing", Rule: "VachDung", ObjectID: 1},
	{Kind: "object_count", Rule: "DemXe", Count: 17},
	{Kind: "intrusion", Rule: "HangRao", State: "true"},
	{Kind: "object", Class: "Human", ObjectID: 2},
	{Kind: "intrusion", Rule: "HangRao", State: "false"},
	{Kind: "motion", Rule: "ChuyenDong", State: "false"},
}

var topics = map[string]string{
	"motion":        "tns1:RuleEngine/CellMotionDetector/Motion",
	"line_crossing": "tns1:RuleEngine/LineDetector/Crossed",
	"intrusion":     "tns1:RuleEngine/FieldDetector/ObjectsInside",
	"object_count":  "tns1:RuleEngine/CountAggregation/Counter",
}

const docHead = `<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">`

func utc(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// heartbeatDocument is an analytics frame with no objects, as cameras send between events.
func heartbeatDocument(now time.Time) []byte {
	return []byte(docHead + `<tt:VideoAnalytics><tt:Frame UtcTime="` + utc(now) + `"/></tt:VideoAnalytics></tt:MetadataStream>`)
}

// document renders e as an ONVIF metadata document stamped now.
func (e ScriptEvent) document(now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(docHead)
	if e.Kind == "object" {
		fmt.Fprintf(&b, `<tt:VideoAnalytics><tt:Frame UtcTime="%s"><tt:Object ObjectId="%d"><tt:Appearance>`, utc(now), e.ObjectID)
		b.WriteString(`<tt:Shape><tt:BoundingBox left="0.40" top="0.30" right="0.60" bottom="0.70"/></tt:Shape>`)
		fmt.Fprintf(&b, `<tt:Class><tt:Type Likelihood="0.92">%s</tt:Type></tt:Class>`, esc(e.Class))
		if e.Plate != "" {
			fmt.Fprintf(&b, `<tt:LicensePlateInfo><tt:PlateNumber>%s</tt:PlateNumber></tt:LicensePlateInfo>`, esc(e.Plate))
		}
		b.WriteString(`</tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>`)
		return b.Bytes()
	}
	data := ""
	switch e.Kind {
	case "motion":
		data = item("IsMotion", e.State)
	case "intrusion":
		data = item("IsInside", e.State)
	case "object_count":
		data = item("Count", strconv.Itoa(e.Count))
	case "line_crossing":
		data = item("ObjectId", strconv.Itoa(e.ObjectID))
	}
	fmt.Fprintf(&b, `<tt:Event><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">%s</wsnt:Topic>`, topics[e.Kind])
	fmt.Fprintf(&b, `<wsnt:Message><tt:Message UtcTime="%s" PropertyOperation="Changed"><tt:Source>`, utc(now))
	b.WriteString(item("VideoSourceConfigurationToken", "VideoSource_1") + item("VideoAnalyticsConfigurationToken", "Analytics_1") + item("Rule", e.Rule))
	b.WriteString(`</tt:Source><tt:Data>` + data + `</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tt:Event></tt:MetadataStream>`)
	return b.Bytes()
}

func item(name, value string) string {
	return `<tt:SimpleItem Name="` + esc(name) + `" Value="` + esc(value) + `"/>`
}
