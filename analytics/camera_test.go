package analytics

import (
	"context"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

// Camera statuses and events land in their tables with every field, directly and through a
// forced spool alike.
func TestWriterStoresCameraRows(t *testing.T) {
	for _, forced := range []bool{false, true} {
		name := "direct"
		if forced {
			name = "through the spool"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			wc := writerConfig()
			var spool *Spool
			if forced {
				wc.Spool.Force = true
				spool = openTestSpool(t, t.TempDir(), 64<<20)
			}
			w, conn, _ := startWriterWith(t, testenv.ClickHouseConfig(t), true, spool, wc)
			st := streams.CameraStatus{Time: t0, Camera: "lc-cam-1", State: streams.StateDegraded, Reason: streams.ReasonLowFPS,
				Detail: "5.0 frames/s, expected 25", Change: true, Since: t0, Mode: streams.ModeHealth, Codec: "H264",
				Width: 1920, Height: 1080, FPS: 5, BitrateKbps: 800, KeyframeInterval: 2, PacketsReceived: 400, PacketsLost: 4,
				JitterMs: 1.25, LastPacketAge: 500 * time.Millisecond}
			ev := streams.CameraEvent{Time: t0.Add(1250 * time.Millisecond), Camera: "lc-cam-1", Source: "onvif", Kind: streams.EventObject,
				Topic: "VideoAnalytics/Object", ObjectClass: streams.ClassVehicle, ObjectID: "7", Plate: "24A-123.45", Score: 0.75,
				Data: []streams.KV{{Name: "zone", Value: "Cửa khẩu"}}, Received: t0.Add(2 * time.Second)}
			refused := streams.RefusedMetadata{Time: t0, Camera: "lc-cam-1", Reason: streams.RefusedTextTooLong,
				Detail: "onvif metadata: the text of Topic is longer than 1024 bytes", Document: []byte("<tt:MetadataStream>"), Size: 5000}
			if err := w.DeliverCamera(ctx, []streams.CameraStatus{st}, []streams.CameraEvent{ev}, []streams.RefusedMetadata{refused}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the camera rows", func() bool {
				var n uint64
				_ = conn.QueryRow(ctx, "SELECT count() FROM camera_events").Scan(&n)
				return n == 1
			})
			var state, reason, codec string
			var width uint16
			var fps, age float32
			var lost uint64
			if err := conn.QueryRow(ctx, "SELECT state, reason, codec, width, fps, last_packet_age_s, packets_lost FROM camera_status WHERE camera_id = 'lc-cam-1'").
				Scan(&state, &reason, &codec, &width, &fps, &age, &lost); err != nil {
				t.Fatal(err)
			}
			if state != "degraded" || reason != "low_fps" || codec != "H264" || width != 1920 || fps != 5 || age != 0.5 || lost != 4 {
				t.Errorf("camera_status row: %s %s %s %d %g %g %d", state, reason, codec, width, fps, age, lost)
			}
			var ts time.Time
			var ms uint16
			var class, plate, data string
			if err := conn.QueryRow(ctx, "SELECT ts, ms, object_class, plate, data FROM camera_events").Scan(&ts, &ms, &class, &plate, &data); err != nil {
				t.Fatal(err)
			}
			if !ts.Equal(t0.Add(time.Second)) || ms != 250 || class != "vehicle" || plate != "24A-123.45" || data != "zone=Cửa khẩu" {
				t.Errorf("camera_events row: %s %d %s %s %q", ts, ms, class, plate, data)
			}
			var source, topic, reason2, payload string
			var size uint32
			if err := conn.QueryRow(ctx, "SELECT source, topic, reason, payload, payload_size FROM dead_letters").Scan(&source, &topic, &reason2, &payload, &size); err != nil {
				t.Fatal(err)
			}
			if source != "onvif" || topic != "lc-cam-1" || reason2 != "onvif_text_too_long" || payload != "<tt:MetadataStream>" || size != 5000 {
				t.Errorf("dead letter of a refused document: %s %s %s %q %d", source, topic, reason2, payload, size)
			}
		})
	}
}

// A camera that changes state twice within one second keeps both changes, each with its own
// reason, even read with FINAL (the ReplacingMergeTree's key).
func TestTwoCameraChangesInOneSecond(t *testing.T) {
	ctx := context.Background()
	w, conn, _ := startWriterWith(t, testenv.ClickHouseConfig(t), true, nil, writerConfig())
	first := streams.CameraStatus{Time: t0.Add(100 * time.Millisecond), Camera: "lc-cam-1", State: streams.StateOffline,
		Reason: streams.ReasonTimeout, Change: true, Since: t0, LastPacketAge: -1}
	second := first
	second.Time, second.Reason = t0.Add(700*time.Millisecond), streams.ReasonRefused
	for _, st := range []streams.CameraStatus{first, second} { // two deliveries, as the session makes them
		if err := w.DeliverCamera(ctx, []streams.CameraStatus{st}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var reasons []string
	waitFor(t, "both camera changes", func() bool {
		rows, err := conn.Query(ctx, "SELECT reason FROM camera_status FINAL WHERE camera_id = 'lc-cam-1' ORDER BY ts, ms")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		reasons = reasons[:0]
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			reasons = append(reasons, r)
		}
		return len(reasons) == 2
	})
	if reasons[0] != "timeout" || reasons[1] != "refused" {
		t.Errorf("stored reasons %v, want [timeout refused]", reasons)
	}
}

// CameraEvents reads one camera's events back newest first, to the millisecond, of the kinds
// asked, at most the limit; an unknown kind and a limit out of range are refused.
func TestCameraEventsNewestFirst(t *testing.T) {
	ctx := context.Background()
	w, conn, _ := startWriter(t, testenv.ClickHouseConfig(t), true)
	var evs []streams.CameraEvent
	for i, k := range []streams.EventKind{streams.EventMotion, streams.EventLineCrossing, streams.EventObject, streams.EventLineCrossing} {
		evs = append(evs, streams.CameraEvent{Time: t0.Add(time.Duration(i) * 400 * time.Millisecond), Camera: "cam-a", Source: "onvif", Kind: k,
			Rule: "VachDung", State: "true", Plate: "24A-123.45", Received: t0})
	}
	evs = append(evs, streams.CameraEvent{Time: t0, Camera: "cam-b", Source: "onvif", Kind: streams.EventMotion, Received: t0})
	if err := w.DeliverCamera(ctx, nil, evs, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	q := NewQuerier(conn, config.Default().Analytics)
	all, err := q.CameraEvents(ctx, "cam-a", t0.Add(-time.Minute), t0.Add(time.Minute), nil, 100)
	if err != nil || len(all) != 4 || !all[0].Time.Equal(t0.Add(1200*time.Millisecond)) || !all[3].Time.Equal(t0) || all[0].Camera != "cam-a" || all[1].Kind != streams.EventObject {
		t.Fatalf("cam-a's events: %+v %v", all, err)
	}
	lines, err := q.CameraEvents(ctx, "cam-a", t0.Add(-time.Minute), t0.Add(time.Minute), []string{"line_crossing"}, 1)
	if err != nil || len(lines) != 1 || lines[0].Kind != streams.EventLineCrossing || !lines[0].Time.Equal(t0.Add(1200*time.Millisecond)) || lines[0].Plate != "24A-123.45" {
		t.Errorf("the newest line crossing: %+v %v", lines, err)
	}
	// to the millisecond: [0.4 s, 1.2 s) holds the events at 0.4 and 0.8 s
	mid, err := q.CameraEvents(ctx, "cam-a", t0.Add(400*time.Millisecond), t0.Add(1200*time.Millisecond), nil, 100)
	if err != nil || len(mid) != 2 || !mid[0].Time.Equal(t0.Add(800*time.Millisecond)) || !mid[1].Time.Equal(t0.Add(400*time.Millisecond)) {
		t.Errorf("events in [0.4 s, 1.2 s): %+v %v", mid, err)
	}
	if _, err := q.CameraEvents(ctx, "cam-a", t0, t0.Add(time.Minute), []string{"explosion"}, 10); err == nil {
		t.Error("an unknown kind was taken")
	}
	if _, err := q.CameraEvents(ctx, "cam-a", t0, t0.Add(time.Minute), nil, MaxCameraEvents+1); err == nil {
		t.Error("a limit over the maximum was taken")
	}
}
