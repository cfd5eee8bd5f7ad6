package mediamtx

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A token opens one camera until it ends; a forged, malformed or expired token, or one for
// another camera, opens nothing; only reading a camera's path is allowed.
func TestTokens(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tk := NewTokens([]byte("khóa-bí-mật"), func() time.Time { return now })
	tok, exp := tk.Issue("lc-cam-coc-leu", "key:police", ActionRead, time.Minute)
	if !exp.Equal(now.Add(time.Minute)) || strings.Contains(tok, "rtsp") {
		t.Fatalf("token %q ends %s", tok, exp)
	}
	if sub, err := tk.Check(tok, "lc-cam-coc-leu", ActionRead); err != nil || sub != "key:police" {
		t.Fatalf("a valid token: %q %v", sub, err)
	}
	other := NewTokens([]byte("another key"), func() time.Time { return now })
	forged, _ := other.Issue("lc-cam-coc-leu", "key:police", ActionRead, time.Hour)
	playback, _ := tk.Issue("lc-cam-coc-leu", "ioc", ActionPlayback, time.Minute)
	for name, tc := range map[string]struct {
		token, camera string
		want          error
	}{
		"another camera":          {tok, "lc-cam-sa-pa", ErrTokenCamera},
		"signed with another key": {forged, "lc-cam-coc-leu", ErrTokenForged},
		"signature changed":       {tok[:len(tok)-2] + "xx", "lc-cam-coc-leu", ErrTokenForged},
		"no signature":            {strings.Split(tok, ".")[0], "lc-cam-coc-leu", ErrTokenMalformed},
		"not base64":              {"!!!." + tk.sign("!!!"), "lc-cam-coc-leu", ErrTokenMalformed},
	} {
		if _, err := tk.Check(tc.token, tc.camera, ActionRead); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	now = now.Add(time.Minute)
	if _, err := tk.Check(tok, "lc-cam-coc-leu", ActionRead); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("at its end: %v, want expired", err)
	}
	now = now.Add(-time.Second)
	for name, tc := range map[string]struct {
		r    AuthRequest
		want error
	}{
		"bearer":                     {AuthRequest{Action: "read", Path: "cam/lc-cam-coc-leu", Token: tok, Protocol: "webrtc"}, nil},
		"query":                      {AuthRequest{Action: "read", Path: "cam/lc-cam-coc-leu", Query: "token=" + tok, Protocol: "hls"}, nil},
		"rtsp password":              {AuthRequest{Action: "read", Path: "cam/lc-cam-coc-leu", User: "ioc", Password: tok, Protocol: "rtsp"}, nil},
		"no token":                   {AuthRequest{Action: "read", Path: "cam/lc-cam-coc-leu", Protocol: "rtsp"}, ErrNoCredentials},
		"playback":                   {AuthRequest{Action: "playback", Path: "cam/lc-cam-coc-leu", User: "ioc", Password: playback}, nil},
		"playback with a live token": {AuthRequest{Action: "playback", Path: "cam/lc-cam-coc-leu", Password: tok}, ErrTokenAction},
	} {
		if _, err := tk.Allow(tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	for _, r := range []AuthRequest{
		{Action: "publish", Path: "cam/lc-cam-coc-leu", Token: tok},
		{Action: "api", Token: tok},
		{Action: "read", Path: "lc-cam-coc-leu", Token: tok},
		{Action: "read", Path: "cam/", Token: tok},
	} {
		if _, err := tk.Allow(r); err == nil {
			t.Errorf("%+v allowed", r)
		}
	}
}
