package analytics

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/haidang-ioc/ioc/streams"
)

const (
	insertCameraStatus = "INSERT INTO camera_status (ts, ms, camera_id, state, reason, detail, change, since, mode, codec, width, height, " +
		"fps, bitrate_kbps, keyframe_interval_s, packets_received, packets_lost, jitter_ms, last_packet_age_s, ingest_time)"
	insertCameraEvents = "INSERT INTO camera_events (ts, ms, camera_id, source, kind, topic, rule, state, operation, object_class, " +
		"object_id, plate, score, count, data, ingest_time)"
)

// statusColumns holds camera statuses column by column, in insertCameraStatus' order.
type statusColumns struct {
	ts, since, ingestTime                         []time.Time
	camera, state, reason, detail, mode, codec    []string
	change                                        []uint8
	ms, width, height                             []uint16
	fps, bitrate, keyframe, jitter, lastPacketAge []float32
	received, lost                                []uint64
}

func (c *statusColumns) add(s *streams.CameraStatus) {
	c.ts = append(c.ts, s.Time)
	c.ms = append(c.ms, uint16(s.Time.Nanosecond()/1e6))
	c.camera = append(c.camera, s.Camera)
	c.state = append(c.state, string(s.State))
	c.reason = append(c.reason, string(s.Reason))
	c.detail = append(c.detail, s.Detail)
	var change uint8
	if s.Change {
		change = 1
	}
	c.change = append(c.change, change)
	since := s.Since
	if since.IsZero() {
		since = s.Time
	}
	c.since = append(c.since, since)
	c.mode = append(c.mode, s.Mode)
	c.codec = append(c.codec, s.Codec)
	c.width = append(c.width, uint16(min(max(s.Width, 0), math.MaxUint16)))
	c.height = append(c.height, uint16(min(max(s.Height, 0), math.MaxUint16)))
	c.fps = append(c.fps, float32(s.FPS))
	c.bitrate = append(c.bitrate, float32(s.BitrateKbps))
	c.keyframe = append(c.keyframe, float32(s.KeyframeInterval))
	c.received = append(c.received, s.PacketsReceived)
	c.lost = append(c.lost, s.PacketsLost)
	c.jitter = append(c.jitter, float32(s.JitterMs))
	age := float32(-1)
	if s.LastPacketAge >= 0 {
		age = float32(s.LastPacketAge.Seconds())
	}
	c.lastPacketAge = append(c.lastPacketAge, age)
	c.ingestTime = append(c.ingestTime, s.Time)
}

func (c *statusColumns) len() int { return len(c.ts) }

func (c *statusColumns) columns() []any {
	return []any{c.ts, c.ms, c.camera, c.state, c.reason, c.detail, c.change, c.since, c.mode, c.codec, c.width, c.height,
		c.fps, c.bitrate, c.keyframe, c.received, c.lost, c.jitter, c.lastPacketAge, c.ingestTime}
}

func (c *statusColumns) reset() { *c = statusColumns{} }

// encode appends row i to a spool record.
func (c *statusColumns) encode(buf []byte, i int) []byte {
	buf = binary.AppendVarint(buf, c.ts[i].UnixMilli())
	for _, s := range []string{c.camera[i], c.state[i], c.reason[i], c.detail[i], c.mode[i], c.codec[i]} {
		buf = appendString(buf, s)
	}
	buf = append(buf, c.change[i])
	buf = binary.AppendVarint(buf, c.since[i].UnixMilli())
	buf = binary.AppendUvarint(buf, uint64(c.width[i]))
	buf = binary.AppendUvarint(buf, uint64(c.height[i]))
	for _, f := range []float32{c.fps[i], c.bitrate[i], c.keyframe[i], c.jitter[i], c.lastPacketAge[i]} {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(f))
	}
	buf = binary.AppendUvarint(buf, c.received[i])
	return binary.AppendUvarint(buf, c.lost[i])
}

// decodeStatus reads one row written by statusColumns.encode.
func (d *spoolDecoder) decodeStatus() streams.CameraStatus {
	s := streams.CameraStatus{Time: time.UnixMilli(d.varint()).UTC()}
	s.Camera = d.str(true)
	s.State, s.Reason = streams.State(d.str(true)), streams.Reason(d.str(true))
	s.Detail, s.Mode, s.Codec = d.str(false), d.str(true), d.str(true)
	s.Change = d.byte() == 1
	s.Since = time.UnixMilli(d.varint()).UTC()
	s.Width, s.Height = int(d.uvarint()), int(d.uvarint())
	s.FPS, s.BitrateKbps, s.KeyframeInterval, s.JitterMs = d.float32(), d.float32(), d.float32(), d.float32()
	if age := d.float32(); age >= 0 {
		s.LastPacketAge = time.Duration(age * float64(time.Second))
	} else {
		s.LastPacketAge = -1
	}
	s.PacketsReceived, s.PacketsLost = d.uvarint(), d.uvarint()
	return s
}

// eventColumns holds camera events column by column, in insertCameraEvents' order.
type eventColumns struct {
	ts, ingestTime                                                                    []time.Time
	ms                                                                                []uint16
	camera, source, kind, topic, rule, state, operation, class, objectID, plate, data []string
	score                                                                             []float32
	count                                                                             []int64
}

func (c *eventColumns) add(e *streams.CameraEvent) {
	c.ts = append(c.ts, e.Time.Truncate(time.Second))
	c.ms = append(c.ms, uint16(e.Time.Nanosecond()/1e6))
	c.camera = append(c.camera, e.Camera)
	c.source = append(c.source, e.Source)
	c.kind = append(c.kind, string(e.Kind))
	c.topic = append(c.topic, e.Topic)
	c.rule = append(c.rule, e.Rule)
	c.state = append(c.state, e.State)
	c.operation = append(c.operation, e.Operation)
	c.class = append(c.class, e.ObjectClass)
	c.objectID = append(c.objectID, e.ObjectID)
	c.plate = append(c.plate, e.Plate)
	c.score = append(c.score, float32(e.Score))
	c.count = append(c.count, e.Count)
	c.data = append(c.data, e.DataString())
	received := e.Received
	if received.IsZero() {
		received = e.Time
	}
	c.ingestTime = append(c.ingestTime, received)
}

func (c *eventColumns) len() int { return len(c.ts) }

func (c *eventColumns) columns() []any {
	return []any{c.ts, c.ms, c.camera, c.source, c.kind, c.topic, c.rule, c.state, c.operation, c.class,
		c.objectID, c.plate, c.score, c.count, c.data, c.ingestTime}
}

func (c *eventColumns) reset() { *c = eventColumns{} }

// encode appends row i to a spool record; the data pairs travel as their rendered string.
func (c *eventColumns) encode(buf []byte, i int) []byte {
	buf = binary.AppendVarint(buf, c.ts[i].Unix()*1000+int64(c.ms[i]))
	for _, s := range []string{c.camera[i], c.source[i], c.kind[i], c.topic[i], c.rule[i], c.state[i], c.operation[i],
		c.class[i], c.objectID[i], c.plate[i], c.data[i]} {
		buf = appendString(buf, s)
	}
	buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(c.score[i]))
	buf = binary.AppendVarint(buf, c.count[i])
	return binary.AppendVarint(buf, c.ingestTime[i].UnixMilli())
}

// decodeEvent reads one row written by eventColumns.encode into c.
func (d *spoolDecoder) decodeEvent(c *eventColumns) {
	tsMs := d.varint()
	strs := make([]string, 11)
	for i := range strs {
		strs[i] = d.str(i != 10 && i != 9 && i != 8)
	}
	score, count, ingest := d.float32(), d.varint(), d.varint()
	if d.err != nil {
		return
	}
	ts := time.UnixMilli(tsMs).UTC()
	c.ts = append(c.ts, ts.Truncate(time.Second))
	c.ms = append(c.ms, uint16(ts.Nanosecond()/1e6))
	c.camera, c.source, c.kind, c.topic = append(c.camera, strs[0]), append(c.source, strs[1]), append(c.kind, strs[2]), append(c.topic, strs[3])
	c.rule, c.state, c.operation, c.class = append(c.rule, strs[4]), append(c.state, strs[5]), append(c.operation, strs[6]), append(c.class, strs[7])
	c.objectID, c.plate, c.data = append(c.objectID, strs[8]), append(c.plate, strs[9]), append(c.data, strs[10])
	c.score = append(c.score, float32(score))
	c.count = append(c.count, count)
	c.ingestTime = append(c.ingestTime, time.UnixMilli(ingest).UTC())
}
