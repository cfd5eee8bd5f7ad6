package streams

import (
	"strings"
	"time"
)

// EventKind is what a camera event reports, whatever vendor vocabulary it came in.
type EventKind string

// Kinds of camera events.
const (
	// EventMotion: motion detected or ended (ONVIF CellMotionDetector, IsMotion).
	EventMotion EventKind = "motion"
	// EventLineCrossing: an object crossed a rule's line (ONVIF LineDetector/Crossed).
	EventLineCrossing EventKind = "line_crossing"
	// EventIntrusion: objects inside a rule's field (ONVIF FieldDetector/ObjectsInside).
	EventIntrusion EventKind = "intrusion"
	// EventObjectCount: a counting rule's count (ONVIF CountAggregation/Counter).
	EventObjectCount EventKind = "object_count"
	// EventObject: an object the camera or NVR classified (vehicle, person, license plate, …).
	EventObject EventKind = "object"
	// EventTamper: the camera was covered, moved or defocused.
	EventTamper EventKind = "tamper"
	// EventOther: any other ONVIF topic, kept with its topic.
	EventOther EventKind = "other"
)

// EventKinds lists the kinds of camera events.
var EventKinds = []string{string(EventMotion), string(EventLineCrossing), string(EventIntrusion), string(EventObjectCount),
	string(EventObject), string(EventTamper), string(EventOther)}

// Object classes, normalised from ONVIF's and Frigate's vocabularies.
const (
	ClassPerson       = "person"
	ClassVehicle      = "vehicle"
	ClassLicensePlate = "license_plate"
	ClassFace         = "face"
	ClassAnimal       = "animal"
)

// CameraEvent is one thing a camera's (or an NVR's) analytics reported.
type CameraEvent struct {
	// Time is when the camera says it happened, in UTC.
	Time   time.Time
	Camera string
	// Source is where it came from: "onvif" (the RTSP metadata track) or "frigate" (MQTT).
	Source string
	Kind   EventKind
	// Topic is the vendor's name for the event: the ONVIF topic, or the Frigate event type.
	Topic string
	// Rule is the analytics rule (or Frigate zones) that produced it.
	Rule string
	// State is the event's value: "true"/"false" for motion and intrusion, the count for
	// object_count, new/update/end for Frigate objects.
	State string
	// Operation is ONVIF's PropertyOperation (Initialized, Changed, Deleted), or empty.
	Operation   string
	ObjectClass string
	ObjectID    string
	Plate       string
	// Score is the classifier's confidence in 0..1, 0 when not given.
	Score float64
	// Count is the count of an object_count event, or the objects an intrusion event names.
	Count int64
	// Data is the other name=value pairs of the event, in document order.
	Data []KV
	// Received is when the event reached us, in UTC.
	Received time.Time
}

// KV is one name=value pair of an event's source or data.
type KV struct{ Name, Value string }

// DataString renders Data as name=value pairs separated by "; ".
func (e *CameraEvent) DataString() string {
	var b strings.Builder
	for i, kv := range e.Data {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(kv.Name)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// NormalizeClass maps a vendor's object class to one of the Class constants, or to its own
// lower-case name when none fits.
func NormalizeClass(class string) string {
	c := strings.ToLower(strings.TrimSpace(class))
	switch c {
	case "human", "person", "people", "pedestrian":
		return ClassPerson
	case "vehicle", "vehical", "car", "truck", "bus", "motorcycle", "motorbike", "bicycle", "bike", "van":
		return ClassVehicle
	case "licenseplate", "license_plate", "plate", "numberplate":
		return ClassLicensePlate
	case "face":
		return ClassFace
	case "animal", "dog", "cat", "bird", "horse", "cow", "buffalo":
		return ClassAnimal
	}
	return c
}
