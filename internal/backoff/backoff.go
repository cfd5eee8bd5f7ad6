// Package backoff paces retry loops: exponential delays with jitter, capped, and a sleep that
// ends early when its context does.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields delays that double from Initial up to Max, each drawn at random from its
// upper half so that many clients retrying at once spread out.
type Backoff struct {
	Initial, Max time.Duration
	next         time.Duration
}

// Next returns the delay before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.next == 0 {
		b.next = b.Initial
	}
	d := b.next
	b.next = min(b.next*2, b.Max)
	return d/2 + rand.N(d/2+1)
}

// Wait sleeps for the next delay; it returns false at once if ctx ends first.
func (b *Backoff) Wait(ctx context.Context) bool { return Sleep(ctx, b.Next()) }

// Sleep sleeps for d; it returns false at once if ctx ends first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
