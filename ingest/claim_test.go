package ingest

import (
	"testing"
	"time"
)

// A claim is taken over at once when its holder ran here and is gone (or had this pid: a
// restarted container), or when it was not renewed for two keepalives; a fresh claim of a live
// process elsewhere is not.
func TestClaimStale(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	me := claim{Host: "node-a", PID: 4242, Started: now}
	for _, c := range []struct {
		name  string
		held  claim
		stale bool
	}{
		{"same host, dead pid", claim{Host: "node-a", PID: 1 << 30, At: now}, true},
		{"same host, my pid (container restarted)", claim{Host: "node-a", PID: 4242, At: now}, true},
		{"same host, live pid", claim{Host: "node-a", PID: 1, At: now}, false},
		{"other host, renewed", claim{Host: "node-b", PID: 7, At: now.Add(-time.Second)}, false},
		{"other host, silent two keepalives", claim{Host: "node-b", PID: 7, At: now.Add(-61 * time.Second)}, true},
	} {
		if got := c.held.stale(me, 30*time.Second, now); got != c.stale {
			t.Errorf("%s: stale = %v, want %v", c.name, got, c.stale)
		}
	}
}
