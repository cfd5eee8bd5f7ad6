package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextDoublesWithinJitterAndCaps(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 800 * time.Millisecond}
	for i, ceil := range []time.Duration{100, 200, 400, 800, 800, 800} {
		ceil *= time.Millisecond
		d := b.Next()
		if d < ceil/2 || d > ceil {
			t.Fatalf("attempt %d: delay %s outside [%s, %s]", i+1, d, ceil/2, ceil)
		}
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Initial: time.Hour, Max: time.Hour}
	if b.Wait(ctx) {
		t.Fatal("Wait must report a cancelled context")
	}
}
