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
	"time"

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

// The UI is told the server's clock (a simulated province's may be days away from the wall
// clock and run faster) and what is simulated; a real server's clock is the wall clock.
func TestUIConfigCarriesTheServersClock(t *testing.T) {
	tok := auth.NewToken()
	ac := config.Auth{APIKeys: []config.APIKey{{ID: "viewer", Name: "Xem", Role: "viewer", Hash: auth.HashToken(tok)}}}
	uiConfig := func(opts Options) UIConfig {
		opts.HTTP, opts.Gatherer, opts.Log = config.Default().HTTP, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)
		req := httptest.NewRequest("GET", "/api/v1/ui/config", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := New(opts, auth.New(ac, nil, opts.Log), Sources{}).App().Test(req)
		if err != nil {
			t.Fatal(err)
		}
		var ui UIConfig
		if err := json.NewDecoder(resp.Body).Decode(&ui); err != nil || resp.StatusCode != 200 {
			t.Fatalf("ui/config: %d %v", resp.StatusCode, err)
		}
		return ui
	}
	if ui := uiConfig(Options{}); time.Since(ui.Now).Abs() > time.Minute || ui.Simulation != nil {
		t.Errorf("a real server: now %v (the wall clock is %v), simulation %+v", ui.Now, time.Now(), ui.Simulation)
	}
	at := time.Date(2026, 8, 14, 3, 0, 0, 0, time.UTC)
	sim := &Simulation{TitleVI: "Lũ quét — Lào Cai (mô phỏng)", TitleEN: "Flash flood — Lào Cai (simulated)", Speed: 2400}
	ui := uiConfig(Options{Clock: func() time.Time { return at }, Simulation: sim})
	if !ui.Now.Equal(at) || ui.Simulation == nil || *ui.Simulation != *sim {
		t.Errorf("a simulated server: now %v, simulation %+v; want %v, %+v", ui.Now, ui.Simulation, at, sim)
	}
}
