package alerts

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// ExampleWebhookVerifier is a receiver of ioc's webhooks: it refuses a forged, a late and a
// replayed message, each with its own answer (TestWebhookVerifier runs these cases).
func ExampleWebhookVerifier() {
	v := &WebhookVerifier{Secret: []byte("the shared secret, from secret_env")}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// ... act on the message (WebhookMessage) ...
		w.WriteHeader(http.StatusNoContent)
	})
	http.Handle("/ioc-webhook", handler)
}

func signed(secret []byte, ts time.Time, key string, body []byte) http.Header {
	h := http.Header{}
	s := strconv.FormatInt(ts.Unix(), 10)
	h.Set("X-IOC-Timestamp", s)
	h.Set("X-IOC-Signature", Sign(secret, s, body))
	h.Set("Idempotency-Key", key)
	return h
}

// The verifier takes a fresh signed message once, and refuses a forged, a tampered, a stale and
// a replayed one.
func TestWebhookVerifier(t *testing.T) {
	secret, now := []byte("k"), time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	v := &WebhookVerifier{Secret: secret, Now: func() time.Time { return now }}
	body := []byte(`{"version":1}`)
	if err := v.Verify(signed(secret, now.Add(-time.Minute), "a1", body), body); err != nil {
		t.Fatalf("a fresh message: %v", err)
	}
	for name, tt := range map[string]struct {
		h    http.Header
		body []byte
		want error
	}{
		"replayed":  {signed(secret, now.Add(-time.Minute), "a1", body), body, ErrReplayed},
		"forged":    {signed([]byte("guess"), now, "a2", body), body, ErrBadSignature},
		"tampered":  {signed(secret, now, "a3", body), []byte(`{"version":2}`), ErrBadSignature},
		"stale":     {signed(secret, now.Add(-6*time.Minute), "a4", body), body, ErrStale},
		"future":    {signed(secret, now.Add(6*time.Minute), "a5", body), body, ErrStale},
		"unsigned":  {http.Header{"Idempotency-Key": {"a6"}}, body, ErrBadSignature},
		"signed ts": {func() http.Header { h := signed(secret, now, "a7", body); h.Set("X-IOC-Timestamp", "1"); return h }(), body, ErrBadSignature},
	} {
		if err := v.Verify(tt.h, tt.body); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
}

// A real webhook sent by ioc passes the verifier; the same request sent again is refused.
func TestWebhookVerifierTakesOurMessages(t *testing.T) {
	v := &WebhookVerifier{Secret: []byte("hmac-key")}
	var got []int
	var first *http.Request
	var firstBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if first == nil {
			first, firstBody = r.Clone(r.Context()), body
		}
		if err := v.Verify(r.Header, body); err != nil {
			got = append(got, http.StatusUnauthorized)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got = append(got, http.StatusNoContent)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w := &webhook{name: "t", url: srv.URL, secret: []byte("hmac-key"), client: srv.Client()}
	if err := w.Send(t.Context(), testNotification()); err != nil {
		t.Fatal(err)
	}
	replay, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(firstBody))
	replay.Header = first.Header
	resp, err := srv.Client().Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 2 || got[0] != http.StatusNoContent || got[1] != http.StatusUnauthorized {
		t.Errorf("answers %v: want the message taken, then its replay refused", got)
	}
}
