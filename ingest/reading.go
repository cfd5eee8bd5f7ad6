package ingest

import "time"

// Reading is one measured value of one sensor's metric at one time.
type Reading struct {
	// Time is when the sensor measured the value, in UTC.
	Time   time.Time
	Sensor string
	Metric string
	Value  float64
	// Text is the value of a text metric (SenML vs), with Value 0.
	Text string
	// Unit is the metric's canonical unit once the pipeline has checked the reading; before,
	// the unit the sensor sent (empty when it sent none).
	Unit    string
	Quality Quality
	// Received is when ingest took the message, in UTC.
	Received time.Time
	// Topic is the MQTT topic the reading came on.
	Topic string
}

// Quality says how far a stored reading can be trusted.
type Quality string

// Qualities of stored readings.
const (
	// QualityGood marks a reading that passed every check.
	QualityGood Quality = "good"
	// QualityUnknownSensor marks a reading of a sensor missing from the catalog, stored because
	// ingest.accept_unknown_sensors is on.
	QualityUnknownSensor Quality = "unknown_sensor"
)

// Reason is the stable code stored with a dead letter and counted in /metrics.
type Reason string

// The reasons a payload or one of its records is rejected.
const (
	ReasonEmpty           Reason = "empty_payload"
	ReasonOversized       Reason = "oversized"
	ReasonInvalidUTF8     Reason = "invalid_utf8"
	ReasonMalformedJSON   Reason = "malformed_json"
	ReasonMissingField    Reason = "missing_field"
	ReasonWrongType       Reason = "wrong_type"
	ReasonNonFinite       Reason = "non_finite"
	ReasonBadTimestamp    Reason = "bad_timestamp"
	ReasonFutureTimestamp Reason = "future_timestamp"
	ReasonStaleTimestamp  Reason = "stale_timestamp"
	ReasonUnknownSensor   Reason = "unknown_sensor"
	ReasonUnknownMetric   Reason = "unknown_metric"
	ReasonUnknownUnit     Reason = "unknown_unit"
	ReasonWrongUnit       Reason = "wrong_unit"
	ReasonOutOfRange      Reason = "out_of_range"
	// ReasonMustUnderstand: a SenML record carries a field ending in "_", which RFC 8428 §4.4
	// says a reader that does not know it must reject.
	ReasonMustUnderstand Reason = "must_understand"
	// ReasonUnmapped: a payload none of whose fields the topic's mapping or profile names.
	ReasonUnmapped Reason = "unmapped_payload"
)

// Reasons lists every reason, so counters can start at zero.
var Reasons = []Reason{
	ReasonEmpty, ReasonOversized, ReasonInvalidUTF8, ReasonMalformedJSON, ReasonMissingField,
	ReasonWrongType, ReasonNonFinite, ReasonBadTimestamp, ReasonFutureTimestamp, ReasonStaleTimestamp,
	ReasonUnknownSensor, ReasonUnknownMetric, ReasonUnknownUnit, ReasonWrongUnit, ReasonOutOfRange,
	ReasonMustUnderstand, ReasonUnmapped,
}

// Rejection is why one payload, or one record inside it, was not accepted.
type Rejection struct {
	Reason Reason
	// Detail says what exactly was wrong, for the person reading dead_letters.
	Detail string
	// Record is the offending bytes: the record, or the whole payload.
	Record []byte
}

// DeadLetter is a rejected payload or record, kept with its reason.
type DeadLetter struct {
	// Time is when ingest received it, in UTC.
	Time   time.Time
	Source string
	Topic  string
	Reason Reason
	Detail string
	// Payload is a bounded copy of the rejected bytes; PayloadSize is their full length.
	Payload     []byte
	PayloadSize int
}
