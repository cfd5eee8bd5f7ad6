package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// testNotification is one firing notification of a river alert, for the receivers' tests.
func testNotification() []Notification {
	a := Alert{ID: "a1b2c3", Rule: "river_alarm_level", Subject: "lc-hong-laocai", SubjectName: "Trạm thủy văn Lào Cai",
		District: "TP Lào Cai", State: StateFiring, Severity: SeverityHigh, AlarmLevel: 2, Seq: 1,
		Title: Text{VI: "Sông Hồng tại Lào Cai vượt báo động II", EN: "Red River at Lào Cai over alarm level II"}, Units: []string{"flood_control"}}
	ev := Event{Time: time.Date(2026, 8, 15, 5, 20, 0, 0, time.UTC), Kind: EventFiring, Actor: ActorEngine, Reason: "điều kiện bắt đầu", ReasonEN: "condition began", Alert: a}
	return []Notification{{Event: ev, Units: a.Units, Group: "flood"}}
}

// request is what a test receiver saw of one call.
type request struct {
	header http.Header
	body   []byte
}

// receiverServer is an HTTP receiver answering each call with the next of codes (200 after).
func receiverServer(t *testing.T, codes ...int) (*httptest.Server, func() []request) {
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, request{header: r.Header.Clone(), body: body})
		code := http.StatusOK
		if len(got) <= len(codes) {
			code = codes[len(got)-1]
		}
		mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request { mu.Lock(); defer mu.Unlock(); return append([]request(nil), got...) }
}

// A webhook posts the notifications as JSON, signed over its timestamp, with an idempotency
// key; a 5xx is worth retrying, a 4xx is not, and no error shows the URL's token.
func TestWebhookSend(t *testing.T) {
	srv, got := receiverServer(t, http.StatusServiceUnavailable, http.StatusBadRequest)
	w := newWebhook(config.Receiver{Name: "pctt", URL: srv.URL + "/hook?token=s3cret-query", Language: "vi"}, "hmac-key")
	ns := testNotification()
	ctx := context.Background()
	if err := w.Send(ctx, ns); err == nil || errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), "s3cret-query") {
		t.Errorf("503: %v; want a retryable error without the URL's token", err)
	}
	if err := w.Send(ctx, ns); !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), "s3cret-query") {
		t.Errorf("400: %v; want a permanent error without the URL's token", err)
	}
	if err := w.Send(ctx, ns); err != nil {
		t.Fatalf("200: %v", err)
	}
	calls := got()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	last := calls[2]
	ts := last.header.Get("X-IOC-Timestamp")
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Errorf("X-IOC-Timestamp %q, want now in Unix seconds", ts)
	}
	if sig := last.header.Get("X-IOC-Signature"); sig != Sign([]byte("hmac-key"), ts, last.body) {
		t.Errorf("X-IOC-Signature %q does not sign the timestamp and body", sig)
	}
	if key := last.header.Get("Idempotency-Key"); key != IdempotencyKey(ns) || calls[0].header.Get("Idempotency-Key") != key {
		t.Errorf("Idempotency-Key %q (first call %q), want %q on every try", key, calls[0].header.Get("Idempotency-Key"), IdempotencyKey(ns))
	}
	var msg WebhookMessage
	if err := json.Unmarshal(last.body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Version != 1 || msg.Receiver != "pctt" || msg.Group != "flood" || len(msg.Notifications) != 1 ||
		msg.Notifications[0].Alert.ID != "a1b2c3" || msg.Notifications[0].ReasonEN != "condition began" || !strings.Contains(msg.Subject, "Lào Cai") {
		t.Errorf("message %+v", msg)
	}
}

// A gateway (SMS, Zalo OA) sends one templated request per recipient, the token only where its
// templates put it, never in an error.
func TestGatewaySend(t *testing.T) {
	srv, got := receiverServer(t, http.StatusOK, http.StatusOK, http.StatusUnauthorized)
	g, err := newGateway(config.Receiver{Name: "sms", URL: srv.URL + "/send", Language: "vi", To: []string{"+84912345678", "+84987654321"},
		Headers: map[string]string{"Authorization": "Bearer {{.Token}}"}, Body: `{"to": {{json .To}}, "text": {{json .Text}}}`}, "tok-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ns := testNotification()
	if err := g.Send(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	calls := got()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want one per recipient", len(calls))
	}
	for i, to := range []string{"+84912345678", "+84987654321"} {
		var body map[string]string
		if err := json.Unmarshal(calls[i].body, &body); err != nil {
			t.Fatalf("body %s: %v", calls[i].body, err)
		}
		if body["to"] != to || !strings.Contains(body["text"], "Lào Cai") || !strings.Contains(body["text"], "a1b2c3") {
			t.Errorf("call %d: body %v", i, body)
		}
		if calls[i].header.Get("Authorization") != "Bearer tok-s3cret" || calls[i].header.Get("Idempotency-Key") != IdempotencyKey(ns)+"-"+to {
			t.Errorf("call %d: headers %v", i, calls[i].header)
		}
	}
	if err := g.Send(context.Background(), ns); !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), "tok-s3cret") {
		t.Errorf("401: %v; want a permanent error without the token", err)
	}
}
