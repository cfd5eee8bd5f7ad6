package dashboard

import (
	"sync"
	"time"
)

// maxThrottled bounds the client addresses the throttle remembers: past it, addresses whose
// minute is over are forgotten first, and a new address is not tracked while every entry is
// still in its minute (it is refused on its token alone, as without a throttle).
const maxThrottled = 10000

// refusalThrottle counts refused tokens per client address over a fixed minute. Past its
// limit an address is answered 429 without its token being looked at, and one log line says
// so: a token-guessing client costs neither a JWT check per request nor a log line per try.
type refusalThrottle struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu sync.Mutex
	by map[string]*refusals
}

// refusals is one address's count in its current window.
type refusals struct {
	since time.Time
	n     int
}

func newRefusalThrottle(limit int, now func() time.Time) *refusalThrottle {
	return &refusalThrottle{limit: limit, window: time.Minute, now: now, by: map[string]*refusals{}}
}

// blocked reports whether addr is over its limit in the current window.
func (t *refusalThrottle) blocked(addr string) bool {
	if t.limit <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.by[addr]
	return r != nil && t.now().Sub(r.since) < t.window && r.n >= t.limit
}

// refused counts one refused token of addr and returns its count in the window: 1 is the
// window's first (worth a log line), limit the one that starts the throttling (worth another).
func (t *refusalThrottle) refused(addr string) int {
	if t.limit <= 0 {
		return 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	r := t.by[addr]
	if r == nil || now.Sub(r.since) >= t.window {
		if r == nil && len(t.by) >= maxThrottled {
			t.forget(now)
			if len(t.by) >= maxThrottled {
				return 1
			}
		}
		r = &refusals{since: now}
		t.by[addr] = r
	}
	r.n++
	return r.n
}

// forget drops the addresses whose window is over.
func (t *refusalThrottle) forget(now time.Time) {
	for addr, r := range t.by {
		if now.Sub(r.since) >= t.window {
			delete(t.by, addr)
		}
	}
}
