package analytics

import (
	"time"

	"github.com/haidang-ioc/ioc/ingest"
)

const (
	insertReadings    = "INSERT INTO readings (ts, sensor_id, metric, value, text, unit, quality, ingest_time, topic, stored_by)"
	insertDeadLetters = "INSERT INTO dead_letters (ts, source, topic, reason, detail, payload, payload_size)"
)

// readingColumns holds readings column by column, in insertReadings' order.
type readingColumns struct {
	ts, ingestTime                             []time.Time
	sensor, metric, text, unit, quality, topic []string
	value                                      []float64
}

func (c *readingColumns) add(r *ingest.Reading) {
	c.ts = append(c.ts, r.Time)
	c.sensor = append(c.sensor, r.Sensor)
	c.metric = append(c.metric, r.Metric)
	c.value = append(c.value, r.Value)
	c.text = append(c.text, r.Text)
	c.unit = append(c.unit, r.Unit)
	c.quality = append(c.quality, string(r.Quality))
	c.ingestTime = append(c.ingestTime, r.Received)
	c.topic = append(c.topic, r.Topic)
}

func (c *readingColumns) len() int { return len(c.ts) }

func (c *readingColumns) columns() []any {
	return []any{c.ts, c.sensor, c.metric, c.value, c.text, c.unit, c.quality, c.ingestTime, c.topic}
}

// insertColumns is the columns of insertReadings, the LowCardinality ones (sensor_id, metric,
// unit, quality, topic, stored_by) as []any of values boxed once each by box: clickhouse-go
// appends LowCardinality columns row by row through reflection, which boxes every string of a
// []string anew and was a third of the writer's time (docs/BENCHMARKS.md).
func (c *readingColumns) insertColumns(box *boxes, storedBy string) []any {
	by, boxed := make([]any, c.len()), any(storedBy)
	for i := range by {
		by[i] = boxed
	}
	return []any{c.ts, box.column(c.sensor), box.column(c.metric), c.value, c.text,
		box.column(c.unit), box.column(c.quality), c.ingestTime, box.column(c.topic), by}
}

// boxes keeps one boxed copy of each string seen, so that columns of repeated strings cost
// no allocation per row.
type boxes struct {
	m map[string]any
}

func (b *boxes) column(strs []string) []any {
	if b.m == nil || len(b.m) > 1<<20 { // bounded: a flood of distinct strings starts afresh
		b.m = make(map[string]any)
	}
	out := make([]any, len(strs))
	for i, s := range strs {
		v, ok := b.m[s]
		if !ok {
			v = s
			b.m[s] = v
		}
		out[i] = v
	}
	return out
}

func (c *readingColumns) reset() {
	c.ts, c.ingestTime = c.ts[:0], c.ingestTime[:0]
	c.sensor, c.metric, c.text, c.unit, c.quality, c.topic = c.sensor[:0], c.metric[:0], c.text[:0], c.unit[:0], c.quality[:0], c.topic[:0]
	c.value = c.value[:0]
}

// deadLetterColumns holds dead letters column by column, in insertDeadLetters' order.
type deadLetterColumns struct {
	ts                                     []time.Time
	source, topic, reason, detail, payload []string
	size                                   []uint32
}

func (c *deadLetterColumns) add(d *ingest.DeadLetter) {
	c.ts = append(c.ts, d.Time)
	c.source = append(c.source, d.Source)
	c.topic = append(c.topic, d.Topic)
	c.reason = append(c.reason, string(d.Reason))
	c.detail = append(c.detail, d.Detail)
	c.payload = append(c.payload, string(d.Payload))
	c.size = append(c.size, uint32(min(d.PayloadSize, 1<<32-1)))
}

func (c *deadLetterColumns) len() int { return len(c.ts) }

func (c *deadLetterColumns) columns() []any {
	return []any{c.ts, c.source, c.topic, c.reason, c.detail, c.payload, c.size}
}

func (c *deadLetterColumns) reset() {
	c.ts = c.ts[:0]
	c.source, c.topic, c.reason, c.detail, c.payload = c.source[:0], c.topic[:0], c.reason[:0], c.detail[:0], c.payload[:0]
	c.size = c.size[:0]
}

// batch is what one flush stores: the rows of several deliveries and their acknowledgements.
type batch struct {
	readings       readingColumns
	dead           deadLetterColumns
	status         statusColumns
	events         eventColumns
	acks           []func()
	done           []chan error // Flush callers waiting for this batch
	readingsStored bool
	deadStored     bool
	statusStored   bool
	eventsStored   bool
	boxes          boxes // kept across resets: the same sensors come back batch after batch
}

func newBatch(capacity int) *batch {
	b := &batch{}
	b.readings = readingColumns{
		ts: make([]time.Time, 0, capacity), ingestTime: make([]time.Time, 0, capacity),
		sensor: make([]string, 0, capacity), metric: make([]string, 0, capacity), text: make([]string, 0, capacity), unit: make([]string, 0, capacity),
		quality: make([]string, 0, capacity), topic: make([]string, 0, capacity), value: make([]float64, 0, capacity),
	}
	return b
}

func (b *batch) add(q queued) {
	d := q.d
	for i := range d.Readings {
		b.readings.add(&d.Readings[i])
	}
	for i := range d.DeadLetters {
		b.dead.add(&d.DeadLetters[i])
	}
	for i := range d.CameraEvents {
		b.events.add(&d.CameraEvents[i])
	}
	for i := range q.statuses {
		b.status.add(&q.statuses[i])
	}
	b.acks = append(b.acks, d.Ack)
}

func (b *batch) rows() int { return b.readings.len() + b.dead.len() + b.status.len() + b.events.len() }

// empty tells whether b holds nothing to store and nothing to acknowledge.
func (b *batch) empty() bool { return len(b.acks) == 0 }

func (b *batch) reset() {
	b.readings.reset()
	b.dead.reset()
	b.status.reset()
	b.events.reset()
	clear(b.acks)
	b.acks = b.acks[:0]
	b.done = b.done[:0]
	b.readingsStored, b.deadStored, b.statusStored, b.eventsStored = false, false, false, false
}
