package mediamtx

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Tokens issues and checks the short-lived tokens a browser shows MediaMTX to read one camera:
// the dashboard issues one to a caller who may see the camera, MediaMTX asks ioc (its external
// HTTP authentication) whether a reader's token opens the path it asks for. A token names the
// camera, the caller and its end, signed with HMAC-SHA256; no camera address or password is in
// it.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns Tokens signing with key; an empty key is a random one of this process
// (tokens then open MediaMTX only through this process's authentication).
func NewTokens(key []byte, now func() time.Time) *Tokens {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, now: now}
}

// claims are what a token says.
type claims struct {
	Camera  string `json:"c"`
	Subject string `json:"s"`
	// Action is what it allows: ActionRead (live video, given to browsers) or ActionPlayback
	// (recordings, which ioc itself fetches).
	Action  string `json:"a"`
	Expires int64  `json:"e"` // Unix seconds
}

// The actions a token may allow, as MediaMTX names them.
const (
	ActionRead     = "read"
	ActionPlayback = "playback"
)

// Errors a token is refused with.
var (
	ErrTokenMalformed = errors.New("malformed token")
	ErrTokenForged    = errors.New("token signature does not match")
	ErrTokenExpired   = errors.New("token expired")
	ErrTokenCamera    = errors.New("token is for another camera")
	ErrTokenAction    = errors.New("token is for another action")
)

// Issue makes a token for subject to do action (ActionRead, ActionPlayback) on camera for ttl;
// it returns the token and its end.
func (t *Tokens) Issue(camera, subject, action string, ttl time.Duration) (string, time.Time) {
	exp := t.now().Add(ttl).Truncate(time.Second)
	body, _ := json.Marshal(claims{Camera: camera, Subject: subject, Action: action, Expires: exp.Unix()}) // strings and an int: cannot fail
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + t.sign(payload), exp
}

func (t *Tokens) sign(payload string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Check returns the subject of a valid token for action on camera.
func (t *Tokens) Check(token, camera, action string) (string, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || sig == "" {
		return "", ErrTokenMalformed
	}
	if !hmac.Equal([]byte(sig), []byte(t.sign(payload))) {
		return "", ErrTokenForged
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", ErrTokenMalformed
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil {
		return "", ErrTokenMalformed
	}
	switch {
	case t.now().Unix() >= c.Expires:
		return "", fmt.Errorf("%w at %s", ErrTokenExpired, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	case c.Camera != camera:
		return "", ErrTokenCamera
	case c.Action != action:
		return "", ErrTokenAction
	}
	return c.Subject, nil
}

// AuthRequest is what MediaMTX posts to its authHTTPAddress for each reader and publisher.
type AuthRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
	IP       string `json:"ip"`
	Action   string `json:"action"`
	Path     string `json:"path"`
	Protocol string `json:"protocol"`
	ID       string `json:"id"`
	Query    string `json:"query"`
}

// ErrNoCredentials is a request without a token: an RTSP client sends its credentials only
// once refused (MediaMTX's documented first request).
var ErrNoCredentials = errors.New("no token")

// Allow decides what MediaMTX asks: reading a camera's path (WebRTC, HLS, RTSP) or playing
// its recordings back, with a token for that camera and action, given as the bearer token, the
// token query parameter, or the (RTSP, basic) password. Publishing, the API and anything
// outside the cameras' paths are refused (ioc's own calls of MediaMTX's API are excluded from
// this authentication in its configuration).
func (t *Tokens) Allow(r AuthRequest) (subject string, err error) {
	camera, ok := strings.CutPrefix(r.Path, PathPrefix)
	if (r.Action != ActionRead && r.Action != ActionPlayback) || !ok || camera == "" {
		return "", fmt.Errorf("action %q on path %q: only reading a camera's path or its recordings is allowed", r.Action, r.Path)
	}
	token := r.Token
	if token == "" {
		if q, err := url.ParseQuery(r.Query); err == nil {
			token = q.Get("token")
		}
	}
	if token == "" {
		token = r.Password
	}
	if token == "" {
		return "", ErrNoCredentials
	}
	return t.Check(token, camera, r.Action)
}
