package analytics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/haidang-ioc/ioc/ingest"
)

// A spool record is one batch's rows that were not stored yet, column by column:
//
//	version byte (1)
//	uvarint n, then n readings: ts, sensor, metric, value, text, unit, quality, ingest_time, topic
//	uvarint m, then m dead letters: ts, source, topic, reason, detail, payload, payload_size
//	uvarint k, then k camera statuses (version 2: statusColumns.encode)
//	uvarint e, then e camera events (version 2: eventColumns.encode)
//
// times are varint Unix seconds (camera rows: milliseconds), strings uvarint length + bytes,
// values IEEE 754 bits. Version 1 records (readings and dead letters only) are still read.
const spoolRecordVersion = 2

// encodeSpoolRecord encodes the rows of b that are not stored yet.
func encodeSpoolRecord(b *batch) []byte {
	buf := make([]byte, 0, 64*(b.readings.len()+b.dead.len())+16)
	buf = append(buf, spoolRecordVersion)
	if b.readingsStored {
		buf = binary.AppendUvarint(buf, 0)
	} else {
		c := &b.readings
		buf = binary.AppendUvarint(buf, uint64(c.len()))
		for i := range c.ts {
			buf = binary.AppendVarint(buf, c.ts[i].Unix())
			buf = appendString(buf, c.sensor[i])
			buf = appendString(buf, c.metric[i])
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(c.value[i]))
			buf = appendString(buf, c.text[i])
			buf = appendString(buf, c.unit[i])
			buf = appendString(buf, c.quality[i])
			buf = binary.AppendVarint(buf, c.ingestTime[i].Unix())
			buf = appendString(buf, c.topic[i])
		}
	}
	if b.deadStored {
		buf = binary.AppendUvarint(buf, 0)
	} else {
		d := &b.dead
		buf = binary.AppendUvarint(buf, uint64(d.len()))
		for i := range d.ts {
			buf = binary.AppendVarint(buf, d.ts[i].Unix())
			buf = appendString(buf, d.source[i])
			buf = appendString(buf, d.topic[i])
			buf = appendString(buf, d.reason[i])
			buf = appendString(buf, d.detail[i])
			buf = appendString(buf, d.payload[i])
			buf = binary.AppendUvarint(buf, uint64(d.size[i]))
		}
	}
	buf = appendRows(buf, b.statusStored, b.status.len(), b.status.encode)
	return appendRows(buf, b.eventsStored, b.events.len(), b.events.encode)
}

// appendRows appends a table's row count and rows, or a count of 0 when it is stored already.
func appendRows(buf []byte, stored bool, n int, encode func([]byte, int) []byte) []byte {
	if stored {
		return binary.AppendUvarint(buf, 0)
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	for i := range n {
		buf = encode(buf, i)
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// spoolDecoder reads records back into a batch. It shares repeated strings (sensor ids,
// metrics, units, topics) between rows, so that replaying costs few allocations.
type spoolDecoder struct {
	data   []byte
	err    error
	intern map[string]string
}

var errSpoolRecord = errors.New("malformed spool record")

// decodeSpoolRecord appends the rows of rec to b.
func decodeSpoolRecord(rec []byte, b *batch, intern map[string]string) error {
	if len(rec) == 0 || rec[0] < 1 || rec[0] > spoolRecordVersion {
		return fmt.Errorf("%w: unknown version", errSpoolRecord)
	}
	d := spoolDecoder{data: rec[1:], intern: intern}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		r := ingest.Reading{
			Time:   time.Unix(d.varint(), 0).UTC(),
			Sensor: d.str(true), Metric: d.str(true),
			Value: math.Float64frombits(d.uint64()),
			Text:  d.str(false), Unit: d.str(true), Quality: ingest.Quality(d.str(true)),
			Received: time.Unix(d.varint(), 0).UTC(),
			Topic:    d.str(true),
		}
		if d.err == nil {
			b.readings.add(&r)
		}
	}
	m := d.uvarint()
	for i := uint64(0); i < m && d.err == nil; i++ {
		ts := time.Unix(d.varint(), 0).UTC()
		source, topic, reason, detail, payload := d.str(true), d.str(true), d.str(true), d.str(false), d.str(false)
		size := d.uvarint()
		if d.err == nil {
			b.dead.add(&ingest.DeadLetter{Time: ts, Source: source, Topic: topic, Reason: ingest.Reason(reason),
				Detail: detail, Payload: []byte(payload), PayloadSize: int(min(size, math.MaxUint32))})
		}
	}
	if rec[0] >= 2 {
		k := d.uvarint()
		for i := uint64(0); i < k && d.err == nil; i++ {
			if st := d.decodeStatus(); d.err == nil {
				b.status.add(&st)
			}
		}
		e := d.uvarint()
		for i := uint64(0); i < e && d.err == nil; i++ {
			d.decodeEvent(&b.events)
		}
	}
	if d.err == nil && len(d.data) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the last row", errSpoolRecord, len(d.data))
	}
	return d.err
}

func (d *spoolDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.data) < 1 {
		d.err = fmt.Errorf("%w: cut short", errSpoolRecord)
		return 0
	}
	v := d.data[0]
	d.data = d.data[1:]
	return v
}

// float32 reads an IEEE 754 single, widened.
func (d *spoolDecoder) float32() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.data) < 4 {
		d.err = fmt.Errorf("%w: cut short", errSpoolRecord)
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(d.data))
	d.data = d.data[4:]
	return float64(v)
}

func (d *spoolDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad length", errSpoolRecord)
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *spoolDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.data)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad number", errSpoolRecord)
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *spoolDecoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.data) < 8 {
		d.err = fmt.Errorf("%w: cut short", errSpoolRecord)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.data)
	d.data = d.data[8:]
	return v
}

// str reads a string; shared ones are interned.
func (d *spoolDecoder) str(shared bool) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.data)) {
		d.err = fmt.Errorf("%w: string cut short", errSpoolRecord)
		return ""
	}
	raw := d.data[:n]
	d.data = d.data[n:]
	if !shared {
		return string(raw)
	}
	if s, ok := d.intern[string(raw)]; ok { // no allocation for the lookup
		return s
	}
	s := string(raw)
	if len(d.intern) < 100000 {
		d.intern[s] = s
	}
	return s
}
