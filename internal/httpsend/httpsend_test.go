package httpsend

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestStatusError(t *testing.T) {
	for code, want := range map[int]string{200: "ok", 204: "ok", 408: "retry", 429: "retry", 500: "retry", 503: "retry", 400: "refused", 404: "refused", 302: "refused"} {
		err := StatusError("hook", &http.Response{StatusCode: code, Status: http.StatusText(code)})
		got := "ok"
		switch {
		case errors.Is(err, ErrPermanent):
			got = "refused"
		case err != nil:
			got = "retry"
		}
		if got != want {
			t.Errorf("%d: %s (%v), want %s", code, got, err, want)
		}
	}
}

func TestNoToken(t *testing.T) {
	u, _ := url.Parse("https://user:pw@lgsp.gov.vn/ngsi/notify?token=s3cret#x")
	err := Scrub(&url.Error{Op: "Post", URL: u.String(), Err: errors.New("connection refused")})
	if a := Address(u); a != "https://lgsp.gov.vn/ngsi/notify" || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("address %q, error %q", a, err)
	}
}
