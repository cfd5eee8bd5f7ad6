package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
)

type checkFunc func(context.Context) error

func (f checkFunc) Check(ctx context.Context) error { return f(ctx) }

func newTestServer(checks ...Check) *Server {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_test_total", Help: "test"})
	c.Add(3)
	reg.MustRegister(c)
	return New(Options{HTTP: config.Default().HTTP, Version: "v-test", Checks: checks, Gatherer: reg, Log: slog.New(slog.DiscardHandler)},
		auth.New(config.Auth{}, nil, slog.Default()), Sources{})
}

func TestHealthz(t *testing.T) {
	up := Check{Name: "clickhouse", Checker: checkFunc(func(context.Context) error { return nil })}
	down := Check{Name: "mqtt", Checker: checkFunc(func(context.Context) error { return errors.New("not connected to tcp://127.0.0.1:1883") })}
	tests := []struct {
		name   string
		checks []Check
		code   int
		status string
	}{
		{"all up", []Check{up}, 200, "ok"},
		{"one down", []Check{up, down}, 503, "degraded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := newTestServer(tt.checks...).App().Test(httptest.NewRequest("GET", "/healthz", nil))
			if err != nil {
				t.Fatal(err)
			}
			var ans healthAnswer
			if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.code || ans.Status != tt.status || len(ans.Checks) != len(tt.checks) || ans.Version != "v-test" {
				t.Fatalf("%d %+v", resp.StatusCode, ans)
			}
			if tt.status == "degraded" && ans.Checks["mqtt"].Error == "" {
				t.Fatal("a down check must say why")
			}
		})
	}
}

func TestMetricsAndUI(t *testing.T) {
	app := newTestServer().App()
	get := func(path string) (int, string) {
		resp, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "ioc_test_total 3") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "Trung tâm điều hành") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("/: %d; the page must be Vietnamese and load nothing from outside", code)
	}
	code, body := get("/no/such/page")
	var e apiError
	if code != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Code != "not_found" || e.MessageVI == "" || e.MessageEN == "" {
		t.Errorf("404: %d %q", code, body)
	}
}
