package streams

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MetadataLimits bound what one ONVIF metadata document may cost to parse.
type MetadataLimits struct {
	MaxBytes    int // a larger document is refused unread
	MaxDepth    int // elements nested deeper are refused
	MaxElements int // documents with more elements are refused
}

// DefaultMetadataLimits are generous for real cameras (a document is a few kilobytes, a
// handful of levels deep) and small enough that a hostile one costs nothing.
var DefaultMetadataLimits = MetadataLimits{MaxBytes: 256 << 10, MaxDepth: 32, MaxElements: 20000}

// maxTextBytes bounds the text of one element we keep (topic, class, plate): a document
// with a longer one is refused, never read with the text cut or left out.
const maxTextBytes = 1024

// Why a metadata document was refused, as its dead letter says.
const (
	// RefusedTextTooLong: an element whose text we keep (topic, class, plate) is longer
	// than maxTextBytes.
	RefusedTextTooLong = "onvif_text_too_long"
	// RefusedMalformed: anything else ParseMetadata refuses (not XML, a DOCTYPE, too
	// large, too deep, the wrong root).
	RefusedMalformed = "onvif_malformed"
	// RefusedReassembly: the RTP packets did not make a whole document (a lost packet, an
	// oversized document).
	RefusedReassembly = "onvif_reassembly"
)

// MetadataError is why ParseMetadata refused a document.
type MetadataError struct {
	Reason string // one of the Refused* constants
	Err    error
}

func (e *MetadataError) Error() string { return "onvif metadata: " + e.Err.Error() }

func (e *MetadataError) Unwrap() error { return e.Err }

// RefusedMetadata is a metadata document a camera sent that was refused, for the dead
// letters. It names the camera by its catalog id, never by its URL.
type RefusedMetadata struct {
	Time   time.Time // when it arrived, UTC
	Camera string
	Reason string // one of the Refused* constants
	Detail string
	// Document is a bounded copy of the document's bytes; Size is their full length.
	Document []byte
	Size     int
}

func refuse(reason, format string, args ...any) error {
	return &MetadataError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ParseMetadata reads one ONVIF metadata document (a tt:MetadataStream, as the metadata track
// carries it in one access unit) of camera, received at received, into events: each
// wsnt:NotificationMessage of tt:Event becomes one event, and each classified tt:Object of a
// tt:VideoAnalytics frame an EventObject. Elements are matched by local name, so vendors'
// namespace prefixes do not matter. Event times are the camera's UtcTime (received when the
// document gives none).
//
// It is safe on hostile input: entities other than XML's five are errors, never expanded; a
// DOCTYPE is refused; size, depth and element count are bounded by lim.
func ParseMetadata(doc []byte, camera string, received time.Time, lim MetadataLimits) ([]CameraEvent, error) {
	if len(doc) > lim.MaxBytes {
		return nil, refuse(RefusedMalformed, "document of %d bytes is over the limit of %d", len(doc), lim.MaxBytes)
	}
	p := metadataParser{camera: camera, received: received.UTC()}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("charset %q: only UTF-8 is read", label)
	}
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &MetadataError{Reason: RefusedMalformed, Err: err}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if elements > lim.MaxElements {
				return nil, refuse(RefusedMalformed, "more than %d elements", lim.MaxElements)
			}
			if len(p.stack) >= lim.MaxDepth {
				return nil, refuse(RefusedMalformed, "elements nested deeper than %d", lim.MaxDepth)
			}
			if len(p.stack) == 0 && t.Name.Local != "MetadataStream" {
				return nil, refuse(RefusedMalformed, "root element is %q, want MetadataStream", t.Name.Local)
			}
			p.start(t)
		case xml.EndElement:
			p.end(t.Name.Local)
		case xml.CharData:
			if p.text != nil {
				if p.text.Len()+len(t) > maxTextBytes {
					return nil, refuse(RefusedTextTooLong, "the text of %s is longer than %d bytes", p.parent(1), maxTextBytes)
				}
				p.text.Write(t)
			}
		case xml.Directive:
			return nil, refuse(RefusedMalformed, "DOCTYPE and other directives are not allowed")
		}
	}
	if !p.sawRoot {
		return nil, refuse(RefusedMalformed, "no MetadataStream element")
	}
	return p.events, nil
}

// metadataParser holds what the token loop has seen so far.
type metadataParser struct {
	camera   string
	received time.Time
	stack    []string
	sawRoot  bool
	events   []CameraEvent

	text      *strings.Builder // collects the current element's text, when it is one we keep
	frameTime time.Time
	obj       *CameraEvent // the tt:Object being read
	note      *notification
}

// notification is a wsnt:NotificationMessage being read.
type notification struct {
	topic, operation string
	time             time.Time
	source, data     []KV
}

func (p *metadataParser) parent(n int) string {
	if len(p.stack) < n {
		return ""
	}
	return p.stack[len(p.stack)-n]
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (p *metadataParser) collect() {
	p.text = &strings.Builder{}
}

func (p *metadataParser) start(t xml.StartElement) {
	name := t.Name.Local
	parent := p.parent(1)
	p.stack = append(p.stack, name)
	switch {
	case name == "MetadataStream" && len(p.stack) == 1:
		p.sawRoot = true
	case name == "Frame" && parent == "VideoAnalytics":
		p.frameTime = parseONVIFTime(attr(t, "UtcTime"))
	case name == "Object" && parent == "Frame":
		p.obj = &CameraEvent{Kind: EventObject, Topic: "VideoAnalytics/Object", ObjectID: attr(t, "ObjectId"), Time: p.frameTime}
	case p.obj != nil && name == "Type" && (parent == "Class" || parent == "ClassCandidate"):
		if l, err := strconv.ParseFloat(attr(t, "Likelihood"), 64); err == nil {
			p.obj.Score = max(p.obj.Score, l)
		}
		p.collect()
	case p.obj != nil && (name == "Likelihood" && parent == "ClassCandidate" || name == "PlateNumber"):
		p.collect()
	case name == "NotificationMessage":
		p.note = &notification{}
	case p.note != nil && name == "Topic" && parent == "NotificationMessage":
		p.collect()
	case p.note != nil && name == "Message" && parent == "Message":
		p.note.time = parseONVIFTime(attr(t, "UtcTime"))
		p.note.operation = attr(t, "PropertyOperation")
	case p.note != nil && name == "SimpleItem":
		kv := KV{Name: attr(t, "Name"), Value: attr(t, "Value")}
		switch parent {
		case "Source", "Key":
			p.note.source = append(p.note.source, kv)
		case "Data":
			p.note.data = append(p.note.data, kv)
		}
	}
}

func (p *metadataParser) end(name string) {
	if len(p.stack) > 0 {
		p.stack = p.stack[:len(p.stack)-1]
	}
	text := ""
	if p.text != nil {
		text = strings.TrimSpace(p.text.String())
		p.text = nil
	}
	switch {
	case p.obj != nil && name == "Type":
		if p.obj.ObjectClass == "" || p.obj.ObjectClass == ClassLicensePlate {
			p.obj.ObjectClass = NormalizeClass(text)
		}
	case p.obj != nil && name == "Likelihood":
		if l, err := strconv.ParseFloat(text, 64); err == nil {
			p.obj.Score = max(p.obj.Score, l)
		}
	case p.obj != nil && name == "PlateNumber":
		p.obj.Plate = text
		if p.obj.ObjectClass == "" {
			p.obj.ObjectClass = ClassLicensePlate
		}
	case p.obj != nil && name == "Object":
		if p.obj.ObjectClass != "" {
			p.emit(*p.obj)
		}
		p.obj = nil
	case p.note != nil && name == "Topic":
		p.note.topic = text
	case p.note != nil && name == "NotificationMessage":
		p.emit(p.note.event())
		p.note = nil
	}
}

func (p *metadataParser) emit(e CameraEvent) {
	e.Camera, e.Source, e.Received = p.camera, "onvif", p.received
	if e.Time.IsZero() {
		e.Time = p.received
	}
	p.events = append(p.events, e)
}

// event turns a notification into an event: the kind from the topic, the rule from the
// source, the state from the data item that kind is about.
func (n *notification) event() CameraEvent {
	e := CameraEvent{Topic: n.topic, Operation: n.operation, Time: n.time, Kind: TopicKind(n.topic)}
	for _, kv := range n.source {
		switch kv.Name {
		case "Rule", "RuleName":
			e.Rule = kv.Value
		default:
			e.Data = append(e.Data, kv)
		}
	}
	stateItems := map[EventKind][]string{
		EventMotion:       {"IsMotion", "State", "Motion"},
		EventIntrusion:    {"IsInside", "State"},
		EventObjectCount:  {"Count", "Value"},
		EventTamper:       {"State", "IsTamper"},
		EventLineCrossing: {"State"},
	}[e.Kind]
	for _, kv := range n.data {
		switch {
		case e.State == "" && containsName(stateItems, kv.Name):
			e.State = kv.Value
		case kv.Name == "ObjectId":
			e.ObjectID = kv.Value
		case kv.Name == "ClassTypes" || kv.Name == "ObjectClass" || kv.Name == "Class":
			e.ObjectClass = NormalizeClass(kv.Value)
		case kv.Name == "PlateNumber" || kv.Name == "LicensePlate":
			e.Plate = kv.Value
		default:
			e.Data = append(e.Data, kv)
		}
	}
	switch e.Kind {
	case EventObjectCount:
		e.Count, _ = strconv.ParseInt(e.State, 10, 64)
	case EventLineCrossing:
		if e.State == "" {
			e.State = "crossed"
		}
	}
	if e.Plate != "" && e.ObjectClass == "" {
		e.ObjectClass = ClassLicensePlate
	}
	return e
}

func containsName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// TopicKind classifies an ONVIF event topic such as tns1:RuleEngine/CellMotionDetector/Motion,
// whatever namespace prefixes the vendor uses.
func TopicKind(topic string) EventKind {
	t := strings.ToLower(topic)
	switch {
	case strings.Contains(t, "linedetector") || strings.Contains(t, "crossed") || strings.Contains(t, "linecross"):
		return EventLineCrossing
	case strings.Contains(t, "fielddetector") || strings.Contains(t, "objectsinside") || strings.Contains(t, "intrusion"):
		return EventIntrusion
	case strings.Contains(t, "countaggregation") || strings.Contains(t, "counter"):
		return EventObjectCount
	case strings.Contains(t, "tamper") || strings.Contains(t, "globalscenechange") || strings.Contains(t, "imagetoo"):
		return EventTamper
	case strings.Contains(t, "motion"):
		return EventMotion
	case strings.Contains(t, "licenseplate") || strings.Contains(t, "objectdetection") || strings.Contains(t, "recognition"):
		return EventObject
	}
	return EventOther
}

// parseONVIFTime reads an xs:dateTime; the zero time when it is missing or unreadable.
func parseONVIFTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
