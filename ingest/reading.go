package ingest

import "time"

// Reading is one measured value of one sensor's metric at one time.
type Reading struct {
	// Time is when the sensor measured the value, in UTC.
	Time   time.Time
	Sensor string
	Metric string
	Value  float64
	// Unit as the sensor sent it; empty when it sent none.
	Unit    string
	Quality Quality
	// Received is when ingest took the message, in UTC.
	Received time.Time
	// Topic is the MQTT topic the reading came on.
	Topic string
}

// Quality says how far a stored reading can be trusted.
type Quality string

// QualityGood marks a reading that passed every check.
const QualityGood Quality = "good"

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
)

// Reasons lists every reason, so counters can start at zero.
var Reasons = []Reason{
	ReasonEmpty, ReasonOversized, ReasonInvalidUTF8, ReasonMalformedJSON, ReasonMissingField,
	ReasonWrongType, ReasonNonFinite, ReasonBadTimestamp, ReasonFutureTimestamp, ReasonStaleTimestamp,
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
