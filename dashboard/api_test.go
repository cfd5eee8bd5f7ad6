package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/duty"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/alerts/triage"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/hub"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

// fixture is a dashboard over real parts: ClickHouse, the alert engine with the built-in rules,
// the simulated province's catalog, the live hub; one API key per role, and two unit keys.
type fixture struct {
	srv    *Server
	chCfg  config.ClickHouse
	engine *alerts.Engine
	city   *City
	audit  *Auditor
	// capFeed is the public warning feed, its drafts waiting for approval.
	capFeed *alerts.CAPFeed
	tokens  map[string]string // by key id: admin, operator, analyst, viewer, police, flood, app, partner
	alert   alerts.Alert      // a firing river alert routed to flood_control
	// incidents gathers the alerts; incident is the one the river alert opened.
	incidents *incident.Manager
	incident  incident.Incident
	// triage routes the citizen reports through the engine.
	triage *triage.Tracker
}

// newFixture builds the fixture; opts change the server's options (HTTP settings, log,
// metrics token) before it is built.
func newFixture(t *testing.T, rateLimit int, opts ...func(*Options)) *fixture {
	t.Helper()
	chCfg := testenv.ClickHouseConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := analytics.Migrate(ctx, chCfg); err != nil {
		t.Fatal(err)
	}
	conn := testenv.Conn(t, chCfg)
	raw, err := provincesim.Catalog("lao-cai", 5*time.Minute, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := ingest.ParseCatalog(raw, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	rf, err := alerts.LoadRules("")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	h := hub.New(hub.Options{Flush: 10 * time.Millisecond, Queue: 64}, nil)
	city := NewCity(h, cat, nil, 0, log)
	store := &alerts.ClickHouseStore{Conn: conn, Timeout: 10 * time.Second}
	engine := alerts.NewEngine(rf, cat, nil, store, nil, city, alerts.Options{Tick: 50 * time.Millisecond}, prometheus.NewRegistry(), log)
	audit := NewAuditor(conn, 10*time.Second, nil, log)
	capFeed := alerts.NewCAPFeed(config.Default().Alerts.CAP, engine, store, cat, log)
	engine.SetNotifier(capFeed)
	inf, err := incident.Load("", rf)
	if err != nil {
		t.Fatal(err)
	}
	incs := incident.New(inf, rf, &incident.ClickHouseStore{Conn: conn, Timeout: 10 * time.Second}, incident.Options{}, nil, log)
	incs.Bind(engine)
	engine.AddCorrelator(incs)
	tracker := triage.New(&analytics.CitizenStore{Conn: conn, Timeout: 10 * time.Second}, engine, triage.Options{Poll: time.Second}, nil, log)
	engine.AddCorrelator(tracker)
	runs := []func(context.Context) error{engine.Run, h.Run, audit.Run, capFeed.Run, incs.Run, tracker.Run, func(ctx context.Context) error { return city.Run(ctx, 200*time.Millisecond) }}
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { _ = run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range runs {
			<-done
		}
	})

	f := &fixture{chCfg: chCfg, engine: engine, city: city, audit: audit, capFeed: capFeed, incidents: incs, triage: tracker, tokens: map[string]string{}}
	httpCfg := config.Default().HTTP
	httpCfg.RateLimit = rateLimit
	for _, k := range []config.APIKey{
		{ID: "admin", Name: "Quản trị", Role: "admin"}, {ID: "operator", Name: "Trực ban IOC", Role: "operator"},
		{ID: "analyst", Name: "Phân tích", Role: "analyst"}, {ID: "viewer", Name: "Xem", Role: "viewer"},
		{ID: "police", Name: "Công an tỉnh", Role: "unit", Units: []string{"police"}},
		{ID: "flood", Name: "Ban chỉ huy PCTT", Role: "unit", Units: []string{"flood_control"}},
		{ID: "app", Name: "Ứng dụng Lào Cai số", Role: "app"},
		{ID: "partner", Name: "Đài KTTV khu vực Tây Bắc", Role: "partner", Types: []string{"WaterObserved", "Alert"}, Districts: []string{"Bát Xát"}},
	} {
		tok := auth.NewToken()
		k.Hash = auth.HashToken(tok)
		f.tokens[k.ID] = tok
		httpCfg.Auth.APIKeys = append(httpCfg.Auth.APIKeys, k)
	}
	reloads := 0
	querier := analytics.NewQuerier(conn, config.Default().Analytics)
	o := Options{HTTP: httpCfg, Version: "v-test", Gatherer: prometheus.NewRegistry(), Log: log}
	for _, opt := range opts {
		opt(&o)
	}
	f.srv = New(o, auth.New(httpCfg.Auth, nil, log), Sources{City: city, Alerts: engine, AlertHistory: store, Trends: querier, DeadLetters: querier,
		CameraEvents: querier, Audit: audit, Keys: &analytics.KeyStore{Conn: conn, Timeout: 10 * time.Second}, Warnings: capFeed, CAP: capFeed, Searcher: store,
		Duty: duty.New(&analytics.DutyStore{Conn: conn, Timeout: 10 * time.Second}, nil), Incidents: incs,
		ReloadRules: func(ctx context.Context) error { reloads++; return engine.Reload(ctx, rf) }})

	// A river over báo động II: one alert for flood control.
	f.observe(t, "lc-hong-laocai", "water_level", 82.4)
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := engine.Alerts(ctx, alerts.Filter{States: []alerts.State{alerts.StateFiring}})
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(list, func(a alerts.Alert) bool { return a.Rule == "river_alarm_level" }); i >= 0 {
			f.alert = list[i]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no river alert fired: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Contains(f.alert.Units, "flood_control") || slices.Contains(f.alert.Units, "police") {
		t.Fatalf("the river alert is routed to %v; the test needs flood_control and not police", f.alert.Units)
	}
	// the alert opened an incident of the sông Hồng basin
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		list, err := incs.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(list, func(inc incident.Incident) bool {
			return slices.ContainsFunc(inc.Alerts, func(a incident.AlertRef) bool { return a.ID == f.alert.ID })
		}); i >= 0 {
			f.incident = list[i]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the river alert opened no incident: %+v", list)
		}
	}
	return f
}

// serve serves the fixture's server on a free loopback port until the test ends; it returns
// the address.
func (f *fixture) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func (f *fixture) observe(t *testing.T, sensor, metric string, v float64) {
	t.Helper()
	r := ingest.Reading{Time: time.Now().UTC(), Sensor: sensor, Metric: metric, Value: v, Unit: "m", Quality: ingest.QualityGood}
	f.city.Readings([]ingest.Reading{r})
	if err := f.engine.ObserveReadings(context.Background(), []ingest.Reading{r}, nil); err != nil {
		t.Fatal(err)
	}
}

// call makes one request as key (no token when key is "").
func (f *fixture) call(t *testing.T, key, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		tok, ok := f.tokens[key]
		if !ok {
			tok = key // a raw token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.srv.App().Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// example fills a route's path parameters and body for the matrix.
func (f *fixture) example(r route) (path, body string) {
	path = APIPrefix + r.path
	switch {
	case strings.HasPrefix(r.path, "/alerts/"):
		path = strings.Replace(path, ":id", f.alert.ID, 1)
	case strings.HasPrefix(r.path, "/incidents/"):
		path = strings.Replace(strings.Replace(path, ":id", f.incident.ID, 1), ":step", "monitor", 1)
	case strings.HasPrefix(r.path, "/sensors/"):
		path = strings.Replace(path, ":id", "lc-hong-laocai", 1)
	default:
		path = strings.Replace(path, ":id", "x", 1)
	}
	if r.id == "alertHistory" || r.id == "responseTimes" || r.id == "exportAlerts" || r.id == "incidentHistory" {
		path = APIPrefix + r.path
	}
	if r.id == "trend" || r.id == "exportTrend" || r.id == "exportReadings" {
		path += "?sensors=lc-hong-laocai&metric=water_level"
	}
	switch r.body.(type) {
	case AckBody:
		body = `{"note":"đã nhận"}`
	case AssignBody:
		body = `{"assignee":"Nguyễn Văn An"}`
	case CommentBody:
		body = `{"text":"đội cơ động đã tới hiện trường"}`
	case ResolveBody:
		body = `{"reason":"nước đã rút"}`
	case WarningDecision:
		body = `{"identifier":"ioc.invalid.x.1","reason":"kiểm tra"}`
	case KeyBody:
		body = `{"id":"roles-test","name":"Kiểm thử","role":"viewer"}`
	case DutyLogBody:
		body = `{"text":"22:10 mưa lớn ở Sa Pa, đã báo đội cơ động"}`
	case HandoverBody:
		body = `{"notes":"theo dõi mực nước sông Hồng tại Lào Cai"}`
	case AcceptBody:
		body = `{"note":"đã nhận ca"}`
	case IncidentStateBody:
		body = `{"state":"contained","note":"nước đang rút"}`
	case IncidentNoteBody:
		body = `{"text":"đã cử tổ công tác xuống hiện trường"}`
	case StepBody:
		body = `{"note":"báo cáo lúc 22:30"}`
	case SilenceBody:
		body = fmt.Sprintf(`{"matchers":{"rule":["camera_offline"]},"ends_at":%q,"reason":"bảo trì camera"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}
	return path, body
}

// TestRolesOnEveryRoute walks every route of the API as every role: a role without the
// route's permission gets 403, with it anything but 401/403; no token gets 401.
func TestRolesOnEveryRoute(t *testing.T) {
	f := newFixture(t, 0)
	perms := map[string][]auth.Permission{
		"admin":    {auth.Read, auth.History, auth.ActOnAlerts, auth.Silence, auth.Diagnose, auth.ApproveWarnings, auth.Duty, auth.Administer},
		"operator": {auth.Read, auth.History, auth.ActOnAlerts, auth.Silence, auth.Diagnose, auth.ApproveWarnings, auth.Duty},
		"flood":    {auth.Read, auth.History, auth.ActOnAlerts},
		"analyst":  {auth.Read, auth.History, auth.Diagnose},
		"viewer":   {auth.Read},
		"app":      {auth.Report},
	}
	routes := slices.Clone(f.srv.routes)
	// resolve last: it closes the alert the other actions need
	slices.SortStableFunc(routes, func(a, b route) int {
		return strings.Compare(fmt.Sprint(a.id == "resolveAlert"), fmt.Sprint(b.id == "resolveAlert"))
	})
	for _, r := range routes {
		for _, key := range []string{"app", "viewer", "analyst", "flood", "operator", "admin", ""} {
			t.Run(r.id+"/"+key, func(t *testing.T) {
				path, body := f.example(r)
				code, ans := f.call(t, key, r.method, path, body)
				switch {
				case r.id == "live": // authenticated once upgraded (TestLiveHub)
					if code != 426 {
						t.Fatalf("live without an upgrade: %d %s, want 426", code, ans)
					}
				case r.id == "videoAuth": // MediaMTX's question, public; without it: refused (no video here)
					if code != 503 && code != 400 {
						t.Fatalf("MediaMTX's authentication without its request: %d %s", code, ans)
					}
				case r.perm == "":
					if code != 200 {
						t.Fatalf("public route: %d %s", code, ans)
					}
				case key == "":
					if code != 401 {
						t.Fatalf("no token: %d %s, want 401", code, ans)
					}
				case !slices.Contains(perms[key], r.perm):
					if code != 403 {
						t.Fatalf("%s without %s: %d %s, want 403", key, r.perm, code, ans)
					}
				case key == "flood" && (r.id == "takeIncident" || r.id == "setIncidentState"):
					// allowed to act, but owning and moving an incident is the center's
					if code != 403 || !strings.Contains(string(ans), "operations center") {
						t.Fatalf("a unit taking or moving an incident: %d %s, want 403 saying it is the center's", code, ans)
					}
				default:
					if code == 401 || code == 403 || code >= 500 && code != 503 {
						t.Fatalf("%s with %s: %d %s", key, r.perm, code, ans)
					}
				}
			})
		}
	}
}

// TestUnitSeesOnlyItsAlerts: the police unit neither lists, reads, acts on nor watches flood
// control's alert; flood control does.
func TestUnitSeesOnlyItsAlerts(t *testing.T) {
	f := newFixture(t, 0)
	ids := func(key string) []string {
		code, b := f.call(t, key, "GET", APIPrefix+"/alerts", "")
		if code != 200 {
			t.Fatalf("%s: %d %s", key, code, b)
		}
		var pg Page[alerts.Alert]
		if err := json.Unmarshal(b, &pg); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range pg.Items {
			out = append(out, a.ID)
		}
		return out
	}
	if got := ids("police"); slices.Contains(got, f.alert.ID) {
		t.Fatalf("police lists flood control's alert: %v", got)
	}
	if got := ids("flood"); !slices.Contains(got, f.alert.ID) {
		t.Fatalf("flood control does not list its alert: %v", got)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/alerts/" + f.alert.ID, ""},
		{"POST", "/alerts/" + f.alert.ID + "/acknowledge", `{}`},
		{"POST", "/alerts/" + f.alert.ID + "/resolve", `{"reason":"x"}`},
	} {
		if code, b := f.call(t, "police", r.method, APIPrefix+r.path, r.body); code != 404 {
			t.Errorf("police %s %s: %d %s, want 404", r.method, r.path, code, b)
		}
	}
	code, b := f.call(t, "flood", "POST", APIPrefix+"/alerts/"+f.alert.ID+"/acknowledge", `{"note":"đã nhận"}`)
	var a alerts.Alert
	if code != 200 || json.Unmarshal(b, &a) != nil || a.State != alerts.StateAcknowledged {
		t.Fatalf("flood control acknowledges: %d %s", code, b)
	}
	code, b = f.call(t, "flood", "GET", APIPrefix+"/alerts/"+f.alert.ID, "")
	var d AlertDetail
	if code != 200 || json.Unmarshal(b, &d) != nil || d.Alert.State != alerts.StateAcknowledged {
		t.Fatalf("detail: %d %s", code, b)
	}
	// the history comes from ClickHouse, through the engine's outbox
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(d.Events, func(e alerts.Event) bool {
		return e.Kind == alerts.EventAcknowledged && e.Actor == "Ban chỉ huy PCTT <key:flood>" && e.Reason == "đã nhận"
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("the acknowledgement is not in the alert's history: %+v", d.Events)
		}
		time.Sleep(50 * time.Millisecond)
		_, b = f.call(t, "flood", "GET", APIPrefix+"/alerts/"+f.alert.ID, "")
		_ = json.Unmarshal(b, &d)
	}
	// and the audit log has who did it
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, b := f.call(t, "admin", "GET", APIPrefix+"/audit?action=alert.acknowledge", "")
		var pg Page[AuditEntry]
		if code != 200 || json.Unmarshal(b, &pg) != nil {
			t.Fatalf("audit: %d %s", code, b)
		}
		ok := slices.ContainsFunc(pg.Items, func(e AuditEntry) bool {
			return e.Actor == "key:flood" && e.Target == f.alert.ID && e.Status == 200 && e.Detail == "đã nhận"
		})
		refused := slices.ContainsFunc(pg.Items, func(e AuditEntry) bool { return e.Actor == "key:police" && e.Status == 404 })
		if ok && refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log: %+v", pg.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBadInput: malformed, unknown, oversized and forged input gets a 4xx with a stable code and
// changes nothing.
func TestBadInput(t *testing.T) {
	f := newFixture(t, 0)
	ack := APIPrefix + "/alerts/" + f.alert.ID + "/acknowledge"
	expired := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjF9.c2ln"
	cases := []struct {
		name, key, method, path, body string
		code                          int
		errCode                       string
	}{
		{"malformed json", "operator", "POST", ack, `{"note":`, 400, "bad_json"},
		{"unknown field", "operator", "POST", ack, `{"note":"x","force":true}`, 400, "bad_json"},
		{"two values", "operator", "POST", ack, `{"note":"x"} {}`, 400, "bad_json"},
		{"wrong type", "operator", "POST", ack, `{"note":5}`, 400, "bad_json"},
		{"oversized", "operator", "POST", ack, `{"note":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
		{"not json", "operator", "POST", ack, `note=x`, 400, "not_json"},
		{"unknown parameter", "viewer", "GET", APIPrefix + "/alerts?stat=firing", "", 400, "unknown_parameter"},
		{"bad severity", "viewer", "GET", APIPrefix + "/alerts?severity=huge", "", 400, "bad_parameter"},
		{"bad limit", "viewer", "GET", APIPrefix + "/sensors?limit=0", "", 400, "bad_parameter"},
		{"bad sort", "viewer", "GET", APIPrefix + "/sensors?sort=secret", "", 400, "bad_parameter"},
		{"bad time", "analyst", "GET", APIPrefix + "/trends?sensors=lc-hong-laocai&metric=water_level&from=yesterday", "", 400, "bad_parameter"},
		{"unknown metric", "analyst", "GET", APIPrefix + "/trends?sensors=lc-hong-laocai&metric=nope", "", 400, "unknown_metric"},
		{"reversed range", "analyst", "GET", APIPrefix + "/trends?sensors=lc-hong-laocai&metric=water_level&from=2026-11-23T00:00:00Z&to=2026-11-22T00:00:00Z", "", 400, "bad_range"},
		{"bad silence", "operator", "POST", APIPrefix + "/silences", `{"matchers":{"colour":["red"]},"ends_at":"2020-01-01T00:00:00Z","reason":"x"}`, 400, "bad_silence"},
		{"forged key", "ioc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "POST", ack, `{}`, 401, "unauthenticated"},
		{"expired jwt", expired, "POST", ack, `{}`, 401, "unauthenticated"},
		{"unknown alert", "operator", "POST", APIPrefix + "/alerts/nope/acknowledge", `{}`, 404, "not_found"},
		{"unknown route", "operator", "GET", APIPrefix + "/nope", "", 404, "not_found"},
		{"resolve without a reason", "operator", "POST", APIPrefix + "/alerts/" + f.alert.ID + "/resolve", `{}`, 400, "missing_field"},
		{"resolve with a blank reason", "operator", "POST", APIPrefix + "/alerts/" + f.alert.ID + "/resolve", `{"reason":"  "}`, 400, "missing_field"},
		{"assign to nobody", "operator", "POST", APIPrefix + "/alerts/" + f.alert.ID + "/assign", `{}`, 400, "missing_field"},
		{"empty comment", "operator", "POST", APIPrefix + "/alerts/" + f.alert.ID + "/comments", `{"text":""}`, 400, "missing_field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, b := f.call(t, tc.key, tc.method, tc.path, tc.body)
			var e apiError
			if code != tc.code || json.Unmarshal(b, &e) != nil || e.Code != tc.errCode || e.MessageVI == "" || e.MessageEN == "" {
				t.Fatalf("%d %s, want %d %s", code, b, tc.code, tc.errCode)
			}
			// a missing field is named, in the detail and in both messages
			if field, _ := strings.CutPrefix(tc.errCode, "missing_field"); tc.errCode == "missing_field" && field == "" {
				want := map[string]string{"/resolve": "reason", "/assign": "assignee", "/comments": "text"}[tc.path[strings.LastIndex(tc.path, "/"):]]
				if e.Detail != want || !strings.HasSuffix(e.MessageVI, want) || !strings.HasSuffix(e.MessageEN, want) {
					t.Errorf("missing field answer %+v, want it to name %q", e, want)
				}
			}
		})
	}
	live, err := f.engine.Alerts(context.Background(), alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(live, func(a alerts.Alert) bool { return a.ID == f.alert.ID })
	if i < 0 || live[i].State != alerts.StateFiring || live[i].Seq != f.alert.Seq {
		t.Fatalf("bad requests changed the alert: %+v", live)
	}
	if sils, _ := f.engine.Silences(context.Background()); len(sils) != 0 {
		t.Fatalf("a bad silence was kept: %+v", sils)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, 5)
	codes := map[int]int{}
	for range 8 {
		code, _ := f.call(t, "viewer", "GET", APIPrefix+"/me", "")
		codes[code]++
	}
	if codes[200] != 5 || codes[429] != 3 {
		t.Fatalf("codes %v, want 5 × 200 then 429", codes)
	}
	if code, _ := f.call(t, "operator", "GET", APIPrefix+"/me", ""); code != 200 {
		t.Fatalf("another token is limited too: %d", code)
	}
}

// TestOpenAPIMatchesRoutes: every API route fiber serves is in the document, and every
// documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t, 0)
	code, b := f.call(t, "", "GET", APIPrefix+"/openapi.json", "")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if code != 200 || json.Unmarshal(b, &doc) != nil || doc.OpenAPI != "3.0.3" {
		t.Fatalf("%d %.200s", code, b)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	param := regexp.MustCompile(`:([A-Za-z]+)`)
	for _, r := range f.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, APIPrefix+"/") || r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("served but not documented: %s", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("documented but not served: %s", k)
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes served", len(served))
	}
	for _, schema := range []string{`"Alert"`, `"AlertPage"`, `"SilenceBody"`, `"apiError"`} {
		if !bytes.Contains(b, []byte(schema)) {
			t.Errorf("the document has no schema %s", schema)
		}
	}
}

// liveClient is a WebSocket client of the hub.
type liveClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialLive(t *testing.T, addr, token string) *liveClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+APIPrefix+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &liveClient{t: t, conn: conn}
	c.send(map[string]any{"type": "auth", "token": token})
	return c
}

func (c *liveClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

type liveFrame struct {
	Type   string   `json:"type"`
	Code   string   `json:"code"`
	Detail string   `json:"detail"`
	Topics []string `json:"topics"`
	Items  []struct {
		Kind string          `json:"kind"`
		Key  string          `json:"key"`
		Data json.RawMessage `json:"data"`
	} `json:"items"`
}

// until reads frames until one satisfies ok.
func (c *liveClient) until(what string, ok func(liveFrame) bool) liveFrame {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		var f liveFrame
		if err := json.Unmarshal(b, &f); err != nil {
			c.t.Fatalf("frame %s: %v", b, err)
		}
		if ok(f) {
			return f
		}
	}
}

func hasKey(f liveFrame, prefix string) bool {
	return slices.ContainsFunc(f.Items, func(it struct {
		Kind string          `json:"kind"`
		Key  string          `json:"key"`
		Data json.RawMessage `json:"data"`
	}) bool {
		return strings.HasPrefix(it.Key, prefix)
	})
}

func TestLiveHub(t *testing.T) {
	f := newFixture(t, 0)
	addr := f.serve(t)

	// a wrong token is refused and the connection closed
	bad := dialLive(t, addr, "ioc_nope")
	bad.until("the refusal", func(f liveFrame) bool { return f.Type == "error" && f.Code == "unauthenticated" })
	if _, _, err := bad.conn.ReadMessage(); err == nil {
		t.Fatal("the connection stays open after a refused token")
	}

	// the police unit may not watch every alert, nor flood control's
	police := dialLive(t, addr, f.tokens["police"])
	police.until("welcome", func(f liveFrame) bool { return f.Type == "welcome" })
	for _, topic := range []string{"alerts", "alerts.unit.flood_control", "secrets"} {
		police.send(map[string]any{"type": "subscribe", "topics": []string{topic}})
		police.until("refusal of "+topic, func(f liveFrame) bool { return f.Type == "error" && f.Code == "forbidden_topic" && f.Detail == topic })
	}
	police.send(map[string]any{"type": "subscribe", "topics": []string{"alerts.unit.police", "district.TP Lào Cai"}})
	police.until("subscribed", func(f liveFrame) bool { return f.Type == "subscribed" && len(f.Topics) == 2 })

	flood := dialLive(t, addr, f.tokens["flood"])
	flood.until("welcome", func(f liveFrame) bool { return f.Type == "welcome" })
	flood.send(map[string]any{"type": "subscribe", "topics": []string{"alerts.unit.flood_control", "sensor.lc-hong-laocai"}})
	snap := flood.until("snapshot", func(f liveFrame) bool { return f.Type == "snapshot" })
	if !hasKey(snap, "a/"+f.alert.ID) || !hasKey(snap, "r/lc-hong-laocai/water_level") {
		t.Fatalf("the snapshot misses the alert or the river's level: %+v", snap)
	}

	// the river rises over báo động III: the level reaches both, the alert's upgrade only flood
	// control
	f.observe(t, "lc-hong-laocai", "water_level", 83.9)
	var level, upgrade bool
	flood.until("the new level and the alert's upgrade", func(fr liveFrame) bool {
		for _, it := range fr.Items {
			var v SensorValue
			var ch AlertChange
			switch {
			case fr.Type != "update":
			case it.Key == "r/lc-hong-laocai/water_level": // an update of the earlier 82.4 may come first
				if json.Unmarshal(it.Data, &v) != nil || v.Value == 83.9 && v.Alarm != 3 {
					t.Fatalf("level %s", it.Data)
				}
				level = level || v.Value == 83.9
			case it.Kind == KindAlert:
				upgrade = upgrade || json.Unmarshal(it.Data, &ch) == nil && ch.Alert.ID == f.alert.ID && ch.Alert.AlarmLevel == 3
			}
		}
		return level && upgrade
	})
	police.until("the level in its district", func(fr liveFrame) bool { return fr.Type == "update" && hasKey(fr, "r/lc-hong-laocai/") })
	police.send(map[string]any{"type": "ping"})
	police.until("pong", func(fr liveFrame) bool {
		if hasKey(fr, "a/") {
			t.Fatalf("police got an alert: %+v", fr)
		}
		return fr.Type == "pong"
	})

	// a plain HTTP GET of the hub is told to upgrade
	resp, err := http.Get("http://" + addr + APIPrefix + "/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 426 {
		t.Fatalf("GET /live without an upgrade: %d", resp.StatusCode)
	}
}
