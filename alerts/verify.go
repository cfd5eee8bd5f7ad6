package alerts

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Errors of WebhookVerifier.Verify.
var (
	ErrBadSignature = errors.New("webhook: signature missing or wrong")
	ErrStale        = errors.New("webhook: timestamp missing or outside the tolerance")
	ErrReplayed     = errors.New("webhook: message already received (Idempotency-Key seen)")
)

// WebhookVerifier is what a receiver of ioc's webhooks runs on each request: the signature must
// be the HMAC of the timestamp and the body with the shared secret, the timestamp within
// Tolerance of the receiver's clock (a captured message cannot be sent again later), and the
// Idempotency-Key new within that window (nor sent again at once). ioc retries a failed
// delivery with the same Idempotency-Key: a receiver that answered 2xx sees a retry refused as
// a replay, which is the point. Safe for concurrent use.
type WebhookVerifier struct {
	Secret []byte
	// Tolerance is how far the timestamp may be from now; 5 minutes when zero.
	Tolerance time.Duration
	// Now is the receiver's clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // Idempotency-Key -> when it was received
}

// Verify checks a request's headers and its body (read whole by the caller).
func (v *WebhookVerifier) Verify(h http.Header, body []byte) error {
	now, tol := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tol <= 0 {
		tol = 5 * time.Minute
	}
	ts := h.Get("X-IOC-Timestamp")
	if !hmac.Equal([]byte(h.Get("X-IOC-Signature")), []byte(Sign(v.Secret, ts, body))) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	at := now()
	if err != nil || at.Sub(time.Unix(sec, 0)).Abs() > tol {
		return fmt.Errorf("%w: %q, receiver's clock %d, tolerance %s", ErrStale, ts, at.Unix(), tol)
	}
	key := h.Get("Idempotency-Key")
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	for k, t := range v.seen { // older than the tolerance: its timestamp check refuses it now
		if at.Sub(t) > 2*tol {
			delete(v.seen, k)
		}
	}
	if _, dup := v.seen[key]; dup && key != "" {
		return fmt.Errorf("%w: %s", ErrReplayed, key)
	}
	v.seen[key] = at
	return nil
}
