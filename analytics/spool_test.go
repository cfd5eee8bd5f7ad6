package analytics

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/streams"
)

func openTestSpool(t *testing.T, dir string, maxBytes int64) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, maxBytes, 1<<10, "always", time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func record(i int) []byte { return []byte(fmt.Sprintf("record %03d %s", i, strings.Repeat("x", i%50))) }

// readAll reads and commits everything, returning the records in order.
func readAll(t *testing.T, s *Spool) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		recs, next, err := s.Read(300)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		if err := s.Commit(next); err != nil {
			t.Fatal(err)
		}
	}
}

// Records come back in order across segments and reopenings; what was committed does not come
// back, what was not does.
func TestSpoolKeepsOrderAcrossSegmentsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20)
	for i := 0; i < 100; i++ {
		if err := s.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, next, err := s.Read(500)
	if err != nil || len(recs) == 0 {
		t.Fatalf("read: %d records, %v", len(recs), err)
	}
	committed := len(recs)
	if err := s.Commit(next); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Read(500); err != nil { // read, not committed: must come back after a restart
		t.Fatal(err)
	}
	s.Close()

	s = openTestSpool(t, dir, 1<<20)
	if s.Pending() == 0 {
		t.Fatal("nothing pending after reopening")
	}
	before := s.appendedTo()     // what the earlier run left
	for i := 100; i < 120; i++ { // appends after the restart queue behind the old records
		if err := s.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	all := s.appendedTo()
	if s.reached(before) {
		t.Fatal("the earlier run's records are taken for stored before they are read")
	}
	got := readAll(t, s)
	if !s.reached(all) {
		t.Fatal("everything read and committed, and the mark is not reached")
	}
	if len(got) != 120-committed {
		t.Fatalf("read back %d records, want %d", len(got), 120-committed)
	}
	for j, rec := range got {
		if want := record(committed + j); !bytes.Equal(rec, want) {
			t.Fatalf("record %d = %q, want %q", j, rec, want)
		}
	}
	if s.Pending() != 0 {
		t.Fatalf("pending %d after reading everything", s.Pending())
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("%d segment files left after a full replay, want only the one being written: %v", len(segs), segs)
	}
}

// A torn tail (a crash in the middle of an append) and a flipped bit are detected, reported,
// moved aside and never replayed; the good records before them are.
func TestSpoolDetectsTornAndCorruptRecords(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"torn tail", func(t *testing.T, path string) {
			info, _ := os.Stat(path)
			if err := os.Truncate(path, info.Size()-5); err != nil {
				t.Fatal(err)
			}
		}},
		{"flipped bit", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data[len(data)-3] ^= 0x10
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
		}},
		{"a length past the end", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data = append(data, 0xff, 0xff, 0x00, 0x00, 1, 2, 3, 4, 'x')
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestSpool(t, dir, 1<<20)
			for i := 0; i < 3; i++ {
				if err := s.Append(record(i)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			damage.do(t, segs[0])

			reg := prometheus.NewRegistry()
			s, err := OpenSpool(dir, 1<<20, 1<<10, "always", time.Second, reg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := readAll(t, s)
			want := 3
			if damage.name != "a length past the end" {
				want = 2 // the damaged third record is lost, and only it
			}
			if len(got) != want {
				t.Fatalf("replayed %d records, want %d", len(got), want)
			}
			for i, rec := range got {
				if !bytes.Equal(rec, record(i)) {
					t.Fatalf("record %d = %q", i, rec)
				}
			}
			if n := counterValue(t, reg, "ioc_spool_corrupt_records_total"); n != 1 {
				t.Errorf("corrupt records counted %v, want 1", n)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, "*.corrupt"))
			if len(aside) != 1 {
				t.Errorf("damaged bytes kept in %v, want one .corrupt file", aside)
			}
			if s.Pending() != 0 {
				t.Errorf("pending %d after the replay", s.Pending())
			}
		})
	}
}

func TestSpoolRefusesWhenFull(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), 4<<10)
	var err error
	n := 0
	for ; n < 1000 && err == nil; n++ {
		err = s.Append(bytes.Repeat([]byte{'r'}, 100))
	}
	if err != ErrSpoolFull || n < 30 {
		t.Fatalf("after %d appends: %v, want ErrSpoolFull after about 37", n, err)
	}
	readAll(t, s)
	if err := s.Append([]byte("room again")); err != nil {
		t.Fatalf("after draining: %v", err)
	}
}

// A batch survives the spool's encoding exactly, readings, text and dead letters alike, and
// a stored table is not spooled again.
func TestSpoolRecordRoundTrip(t *testing.T) {
	ts := time.Date(2026, 8, 3, 14, 15, 0, 0, time.UTC)
	b := newBatch(4)
	b.add(queued{d: ingest.Delivery{
		Readings: []ingest.Reading{
			{Time: ts, Sensor: "lc-hong-laocai", Metric: "water_level", Value: 81.42, Unit: "m", Quality: ingest.QualityGood, Received: ts.Add(time.Second), Topic: "senml/lc-hong-laocai"},
			{Time: ts, Sensor: "fire-1", Metric: "status", Text: "Báo cháy tầng 2", Quality: ingest.QualityGood, Received: ts, Topic: "t"},
		},
		DeadLetters: []ingest.DeadLetter{{Time: ts, Source: "mqtt", Topic: "t", Reason: ingest.ReasonNonFinite, Detail: "value NaN", Payload: []byte(`{"v":NaN}`), PayloadSize: 9}},
	}})
	// A record without camera rows, as version 1 wrote it, still reads.
	v2 := encodeSpoolRecord(b)
	v1 := append([]byte{1}, v2[1:len(v2)-2]...)
	if err := decodeSpoolRecord(v1, newBatch(4), map[string]string{}); err != nil {
		t.Fatalf("a version 1 record: %v", err)
	}
	b.add(queued{
		d: ingest.Delivery{CameraEvents: []streams.CameraEvent{{Time: ts.Add(1250 * time.Millisecond), Camera: "cam-1", Source: "onvif",
			Kind: streams.EventObject, Topic: "VideoAnalytics/Object", ObjectClass: "vehicle", ObjectID: "7", Plate: "24A-123.45",
			Score: 0.5, Count: 3, Data: []streams.KV{{Name: "a", Value: "b"}}, Received: ts.Add(2 * time.Second)}}},
		statuses: []streams.CameraStatus{{Time: ts, Camera: "cam-1", State: streams.StateDegraded, Reason: streams.ReasonLowFPS,
			Detail: "5 frames/s", Change: true, Since: ts, Mode: "health", Codec: "H264", Width: 1920, Height: 1080, FPS: 5,
			BitrateKbps: 900, KeyframeInterval: 2, PacketsReceived: 100, PacketsLost: 3, JitterMs: 1.5, LastPacketAge: 250 * time.Millisecond}},
	})
	rec := encodeSpoolRecord(b)
	got := newBatch(4)
	if err := decodeSpoolRecord(rec, got, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []struct {
		name      string
		got, want []any
	}{
		{"readings", got.readings.columns(), b.readings.columns()},
		{"dead letters", got.dead.columns(), b.dead.columns()},
		{"camera status", got.status.columns(), b.status.columns()},
		{"camera events", got.events.columns(), b.events.columns()},
	} {
		if fmt.Sprint(table.got) != fmt.Sprint(table.want) {
			t.Errorf("%s round trip:\n got %v\nwant %v", table.name, table.got, table.want)
		}
	}
	b.readingsStored = true
	got = newBatch(4)
	if err := decodeSpoolRecord(encodeSpoolRecord(b), got, map[string]string{}); err != nil || got.readings.len() != 0 || got.dead.len() != 1 {
		t.Fatalf("stored readings spooled again: %d readings, %d dead letters, %v", got.readings.len(), got.dead.len(), err)
	}
	for cut := 1; cut < len(rec); cut += 7 {
		if err := decodeSpoolRecord(rec[:cut], newBatch(4), map[string]string{}); err == nil {
			t.Fatalf("a record cut at %d of %d decoded without error", cut, len(rec))
		}
	}
}

// counterValue reads a counter or gauge without labels from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// /healthz shows the spool degraded while batches wait in it.
func TestSpoolCheck(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), 1<<20)
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("empty spool: %v", err)
	}
	if err := s.Append(record(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "wait on disk") {
		t.Fatalf("spool holding a batch: %v", err)
	}
	readAll(t, s)
	if err := s.Check(context.Background()); err != nil {
		t.Fatalf("replayed spool: %v", err)
	}
}
