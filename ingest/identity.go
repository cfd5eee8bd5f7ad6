package ingest

import (
	"fmt"
	"time"
)

// ReasonIdentityMismatch: a reading on a topic that names one device whose payload names
// another sensor (a device publishing as another, or a misconfigured one).
const ReasonIdentityMismatch Reason = "identity_mismatch"

// deviceTopic checks that every reading on a topic whose level names the publishing device is
// that device's own: the broker's ACLs let a device publish only on its own topics, and this
// keeps it from naming another sensor inside them.
type deviceTopic struct {
	Decoder
	level int // 1-based level of the topic that names the device
}

// Decode implements Decoder.
func (d deviceTopic) Decode(topic string, payload []byte, now time.Time) ([]Reading, []Rejection) {
	readings, rejections := d.Decoder.Decode(topic, payload, now)
	device := topicLevel(topic, d.level)
	kept := readings[:0]
	for _, r := range readings {
		switch {
		case device == "":
			rejections = append(rejections, Rejection{Reason: ReasonIdentityMismatch, Record: payload,
				Detail: fmt.Sprintf("topic %q has no level %d (or an empty one) to name the device; sensor %s refused", topic, d.level, r.Sensor)})
		case r.Sensor != device:
			rejections = append(rejections, Rejection{Reason: ReasonIdentityMismatch, Record: payload,
				Detail: fmt.Sprintf("topic names device %s, the reading is of sensor %s", device, r.Sensor)})
		default:
			kept = append(kept, r)
		}
	}
	return kept, rejections
}
