package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// An admin makes a key (its token shown once, never listed), rotates it (the old token refused
// at once) and revokes it; a config file key is revoked too but not rotated; a refused revoked
// key leaves an audit row; another process sees the revocation when it reads the store.
func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t, 0)
	code, body := f.call(t, "admin", "POST", APIPrefix+"/keys", `{"id":"zalo-bot","name":"Zalo OA","role":"viewer","expires_in_days":30}`)
	var made NewKeyAnswer
	if code != 201 || json.Unmarshal(body, &made) != nil || !strings.HasPrefix(made.Token, "ioc_") || made.Key.Status != "active" {
		t.Fatalf("create: %d %s", code, body)
	}
	if d := made.Key.Expires.Sub(made.Key.Created); d != 30*24*time.Hour {
		t.Errorf("lifetime %s, want 30 days", d)
	}
	f.tokens["zalo"] = made.Token
	if code, body := f.call(t, "zalo", "GET", APIPrefix+"/me", ""); code != 200 {
		t.Fatalf("the new key: %d %s", code, body)
	}
	code, body = f.call(t, "admin", "GET", APIPrefix+"/keys", "")
	if code != 200 || strings.Contains(string(body), made.Token) || strings.Contains(string(body), "sha256") || !strings.Contains(string(body), `"id":"zalo-bot"`) {
		t.Fatalf("list: %d %s: want every key without token or hash", code, body)
	}
	if code, _ := f.call(t, "admin", "POST", APIPrefix+"/keys", `{"id":"zalo-bot","name":"again","role":"viewer"}`); code != 409 {
		t.Errorf("a second key of the same id: %d, want 409", code)
	}
	for _, bad := range []string{`{"id":"x y","name":"n","role":"viewer"}`, `{"id":"k1","name":"n","role":"root"}`,
		`{"id":"k2","name":"n","role":"unit"}`, `{"id":"k3","name":"n","role":"viewer","expires_in_days":4000}`} {
		if code, body := f.call(t, "admin", "POST", APIPrefix+"/keys", bad); code != 400 {
			t.Errorf("%s: %d %s, want 400", bad, code, body)
		}
	}

	code, body = f.call(t, "admin", "POST", APIPrefix+"/keys/zalo-bot/rotate", "")
	var rotated NewKeyAnswer
	if code != 200 || json.Unmarshal(body, &rotated) != nil || rotated.Token == made.Token {
		t.Fatalf("rotate: %d %s", code, body)
	}
	if code, _ := f.call(t, "zalo", "GET", APIPrefix+"/me", ""); code != 401 {
		t.Errorf("the token before rotation: %d, want 401", code)
	}
	f.tokens["zalo"] = rotated.Token
	if code, _ := f.call(t, "zalo", "GET", APIPrefix+"/me", ""); code != 200 {
		t.Errorf("the rotated token: %d", code)
	}

	// Another process, on the same store, with the same config keys.
	other := New(Options{HTTP: f.srv.opts.HTTP, Log: slog.New(slog.DiscardHandler)}, auth.New(f.srv.opts.HTTP.Auth, nil, slog.New(slog.DiscardHandler)),
		Sources{Keys: f.srv.src.Keys})
	if code, _ := f.call(t, "admin", "DELETE", APIPrefix+"/keys/zalo-bot", ""); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := f.call(t, "admin", "DELETE", APIPrefix+"/keys/viewer", ""); code != 200 {
		t.Fatalf("revoke a config key: %d", code)
	}
	for _, k := range []string{"zalo", "viewer"} {
		if code, _ := f.call(t, k, "GET", APIPrefix+"/me", ""); code != 401 {
			t.Errorf("revoked key %s: %d, want 401", k, code)
		}
	}
	if err := other.loadKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.auth.Authenticate(context.Background(), f.tokens["viewer"]); err == nil || !strings.Contains(err.Error(), "API key viewer was revoked") {
		t.Errorf("the other process after reading the store: %v", err)
	}
	if code, _ := f.call(t, "admin", "POST", APIPrefix+"/keys/operator/rotate", ""); code != 409 {
		t.Errorf("rotating a config key: %d, want 409", code)
	}
	testenv.WaitFor(t, "the revoked key's refusal in the audit log", 15*time.Second, func() bool {
		entries, _, err := f.audit.List(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Minute), "key:viewer", "auth.refused", 10, 0)
		return err == nil && len(entries) == 1 && strings.Contains(entries[0].Detail, "revoked")
	})
}

// A config key past its expires is refused, and says so in the log's reason.
func TestExpiredConfigKey(t *testing.T) {
	tok := auth.NewToken()
	a := auth.New(config.Auth{APIKeys: []config.APIKey{{ID: "old", Name: "n", Role: "viewer", Hash: auth.HashToken(tok), Expires: time.Now().Add(-time.Minute)}}}, nil, slog.Default())
	_, err := a.Authenticate(context.Background(), tok)
	if err == nil || !strings.Contains(err.Error(), "API key old expired at") {
		t.Errorf("expired key: %v", err)
	}
}
