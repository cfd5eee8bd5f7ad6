package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
)

// capDocs is a CAP source over fixed documents: the feed itself is tested against ClickHouse
// in package alerts; this tests the routes.
type capDocs map[string]string

func (d capDocs) Atom(base string) ([]byte, error) {
	return []byte(`<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="` + base + alerts.CAPFeedPath + `"/></feed>`), nil
}

func (d capDocs) Document(_ context.Context, id string) ([]byte, error) {
	if doc, ok := d[id]; ok {
		return []byte(doc), nil
	}
	return nil, fmt.Errorf("cap message %q: %w", id, alerts.ErrNotFound)
}

func TestCAPRoutes(t *testing.T) {
	srv := New(Options{HTTP: config.Default().HTTP, Version: "v-test", Gatherer: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)},
		auth.New(config.Auth{}, nil, slog.Default()), Sources{CAP: capDocs{"ioc.laocai.gov.vn.ab12.1": "<alert/>"}})
	get := func(path string) (int, string, string) {
		resp, err := srv.App().Test(httptest.NewRequest("GET", "http://ioc.test"+path, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, ct, body := get("/cap/feed.atom"); code != 200 || !strings.HasPrefix(ct, "application/atom+xml") || !strings.Contains(body, `href="http://ioc.test/cap/feed.atom"`) {
		t.Errorf("feed: %d %s %s", code, ct, body)
	}
	if code, ct, body := get(alerts.CAPPath("ioc.laocai.gov.vn.ab12.1")); code != 200 || !strings.HasPrefix(ct, "application/cap+xml") || body != "<alert/>" {
		t.Errorf("document: %d %s %s", code, ct, body)
	}
	for _, p := range []string{"/cap/ioc.laocai.gov.vn.ab12.2.xml", "/cap/ioc.laocai.gov.vn.ab12.1", "/cap/.xml"} {
		if code, _, body := get(p); code != 404 || !strings.Contains(body, `"not_found"`) {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
}
