package main

import (
	"fmt"
	"testing"

	"github.com/haidang-ioc/ioc/dashboard/hub"
)

// TestProbeKeysFindsTheHubsItems: the benchmark's clients scan frames for the probes' keys
// instead of decoding them, so the scan must match what the hub actually sends.
func TestProbeKeysFindsTheHubsItems(t *testing.T) {
	h := hub.New(hub.Options{}, nil)
	for _, key := range []string{"r/s-0001/water_level", "r/p-0007/water_level", "r/p-0042/water_level", "camera/p-0001"} {
		h.Publish(hub.Item{Key: key, Kind: "reading", Topics: []string{"sensors"}, Data: 80.5})
	}
	c := h.Attach()
	if err := h.Subscribe(c, []string{"sensors"}); err != nil {
		t.Fatal(err)
	}
	frame := <-c.Frames()
	got := map[string]bool{}
	for _, k := range probeKeys(frame) {
		got[string(k)] = true
	}
	// both probe readings are found, the other sensor and the camera are not
	if !got["r/p-0007/water_level"] || !got["r/p-0042/water_level"] || got["r/s-0001/water_level"] || got["camera/p-0001"] {
		t.Fatalf("probe keys %v in %s", got, frame)
	}
	if fmt.Sprint(probeKeys([]byte(`{"type":"update","items":[{"kind":"reading","key":"r/p-0003`))) != "[]" {
		t.Fatal("a key cut off at the frame's end was returned")
	}
}
