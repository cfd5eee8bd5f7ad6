package dashboard

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

// request makes one request to app with a raw Authorization header ("" for none).
func request(t *testing.T, app interface {
	Test(*http.Request, ...int) (*http.Response, error)
}, method, path, authorization string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := app.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// A client that keeps sending refused tokens is answered 429 once over the limit, its token no
// longer looked at, and the log holds two lines for it however many it sends.
func TestRefusedTokensAreThrottled(t *testing.T) {
	logs := &testenv.LogBuffer{}
	f := newFixture(t, 0, func(o *Options) {
		o.HTTP.RefusedTokenLimit = 5
		o.Log = slog.New(slog.NewTextHandler(logs, nil))
	})
	codes := map[int]int{}
	for range 300 {
		resp, _ := request(t, f.srv.App(), "GET", APIPrefix+"/me", "Bearer ioc_forged00000000000000000000000000")
		codes[resp.StatusCode]++
	}
	if codes[401] != 5 || codes[429] != 295 {
		t.Errorf("answers %v, want 5 × 401 then 429", codes)
	}
	// the address is throttled as a whole for the rest of the minute
	if resp, b := request(t, f.srv.App(), "GET", APIPrefix+"/me", "Bearer "+f.tokens["viewer"]); resp.StatusCode != 429 || !strings.Contains(string(b), "too_many_refused") {
		t.Errorf("a valid token from the throttled address: %d %s, want 429 too_many_refused", resp.StatusCode, b)
	}
	if n := strings.Count(logs.String(), "token refused"); n != 1 {
		t.Errorf("%d 'token refused' log lines for 300 refusals, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "client throttled"); n != 1 {
		t.Errorf("%d 'client throttled' log lines, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "ioc_forged") {
		t.Error("the log holds a token")
	}
}

// The Bearer scheme's name is case-insensitive (RFC 7235 §2.1); another scheme or no token is
// refused.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.tokens["viewer"]
	for _, h := range []string{"Bearer " + tok, "bearer " + tok, "BEARER " + tok, "  bEaReR   " + tok + " "} {
		if resp, b := request(t, f.srv.App(), "GET", APIPrefix+"/me", h); resp.StatusCode != 200 {
			t.Errorf("%q: %d %s, want 200", h, resp.StatusCode, b)
		}
	}
	for _, h := range []string{"Basic " + tok, tok, "Bearer", "Bearer "} {
		if resp, _ := request(t, f.srv.App(), "GET", APIPrefix+"/me", h); resp.StatusCode != 401 {
			t.Errorf("%q: %d, want 401", h, resp.StatusCode)
		}
	}
}

// Every answer, the UI's pages first, carries the security headers; the policy allows no
// inline script, and the UI has none (no inline <script>, no on* attribute).
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, 0)
	for _, path := range []string{"/", "/app.js", "/healthz", APIPrefix + "/me"} {
		resp, _ := request(t, f.srv.App(), "GET", path, "")
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline' 'unsafe-eval") ||
			regexp.MustCompile(`script-src[^;]*unsafe`).MatchString(csp) || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", path, h, got, want)
			}
		}
	}
	page, err := os.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllSubmatch(page, -1) {
		if !bytes.Contains(m[1], []byte("src=")) || len(bytes.TrimSpace(m[2])) > 0 {
			t.Errorf("index.html has an inline script the policy would block: %q", m[0])
		}
	}
	if m := regexp.MustCompile(`\son[a-z]+=`).Find(page); m != nil {
		t.Errorf("index.html has an event handler attribute the policy would block: %q", m)
	}
}

// /metrics can require a token, or move to its own address.
func TestMetricsGuard(t *testing.T) {
	f := newFixture(t, 0, func(o *Options) { o.MetricsToken = "m3trics-t0ken" })
	for _, tc := range []struct {
		header string
		code   int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer m3trics-t0ken", 200}, {"bearer m3trics-t0ken", 200}} {
		if resp, _ := request(t, f.srv.App(), "GET", "/metrics", tc.header); resp.StatusCode != tc.code {
			t.Errorf("/metrics with %q: %d, want %d", tc.header, resp.StatusCode, tc.code)
		}
	}
	g := newFixture(t, 0, func(o *Options) { o.HTTP.Metrics.Listen = "127.0.0.1:0" })
	if resp, _ := request(t, g.srv.App(), "GET", "/metrics", ""); resp.StatusCode == 200 {
		t.Errorf("/metrics still served on http.listen with http.metrics.listen set")
	}
	if g.srv.MetricsApp() == nil {
		t.Fatal("no metrics app with http.metrics.listen set")
	}
	if resp, _ := request(t, g.srv.MetricsApp(), "GET", "/metrics", ""); resp.StatusCode != 200 {
		t.Errorf("/metrics on its own address: %d", resp.StatusCode)
	}
}
