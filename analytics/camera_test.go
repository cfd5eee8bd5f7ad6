package analytics

import (
	"context"
	"testing"
	"time"

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
