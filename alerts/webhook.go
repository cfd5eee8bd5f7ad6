package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/httpsend"
)

// webhook posts each message as JSON:
//
//	{"version": 1, "receiver": "...", "group": "...", "subject": "...", "notifications": [{"kind": "firing", "time": ..., "reason": ..., "alert": {...}}]}
//
// with headers Idempotency-Key, X-IOC-Timestamp (Unix seconds) and, when a secret is set,
// X-IOC-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">, so the receiver can check
// that the message is ours and fresh.
type webhook struct {
	name   string
	url    string
	secret []byte
	lang   string
	client *http.Client
}

func newWebhook(rc config.Receiver, secret string) *webhook {
	return &webhook{name: rc.Name, url: rc.URL, secret: []byte(secret), lang: rc.Language, client: &http.Client{}}
}

// WebhookMessage is the body a webhook receives.
type WebhookMessage struct {
	Version       int     `json:"version"`
	Receiver      string  `json:"receiver"`
	Group         string  `json:"group"`
	Subject       string  `json:"subject"`
	Notifications []Event `json:"notifications"`
}

// Sign is the X-IOC-Signature value of body sent at timestamp ts with secret.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (w *webhook) Send(ctx context.Context, ns []Notification) error {
	msg := WebhookMessage{Version: 1, Receiver: w.name, Group: ns[0].Group, Subject: Subject(ns, w.lang)}
	for _, n := range ns {
		msg.Notifications = append(msg.Notifications, n.Event)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("webhook %s: %w: %w", w.name, ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w: %w", w.name, ErrPermanent, err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "haidang-ioc")
	req.Header.Set("Idempotency-Key", IdempotencyKey(ns))
	req.Header.Set("X-IOC-Timestamp", ts)
	if len(w.secret) > 0 {
		req.Header.Set("X-IOC-Signature", Sign(w.secret, ts, body))
	}
	return w.do(req)
}

func (w *webhook) do(req *http.Request) error {
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", w.name, httpsend.Address(req.URL), httpsend.Scrub(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return httpsend.StatusError(w.name, resp)
}
