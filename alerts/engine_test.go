package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

// hookServer is a webhook receiver: it checks each signature and keeps the messages.
type hookServer struct {
	*httptest.Server
	secret []byte
	failN  int // answer 503 to the first failN requests
	mu     sync.Mutex
	calls  int
	keys   []string
	got    chan WebhookMessage
	t      *testing.T
}

func newHookServer(t *testing.T, secret string, failN int) *hookServer {
	h := &hookServer{secret: []byte(secret), failN: failN, got: make(chan WebhookMessage, 100), t: t}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		want := ""
		if len(h.secret) > 0 {
			want = Sign(h.secret, r.Header.Get("X-IOC-Timestamp"), body)
		}
		if r.Header.Get("X-IOC-Signature") != want {
			t.Errorf("webhook signature %q, want %q", r.Header.Get("X-IOC-Signature"), want)
		}
		h.mu.Lock()
		h.calls++
		fail := h.calls <= h.failN
		h.keys = append(h.keys, r.Header.Get("Idempotency-Key"))
		h.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m WebhookMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		h.got <- m
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) next(t *testing.T) WebhookMessage {
	t.Helper()
	select {
	case m := <-h.got:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook message within 20 s")
	}
	return WebhookMessage{}
}

// startMailSink runs aiosmtpd (Debian's python3-aiosmtpd), a real SMTP server, writing each
// mail into a maildir.
func startMailSink(t *testing.T) (addr, dir string) {
	t.Helper()
	testenv.Integration(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		t.Fatalf("no aiosmtpd (the test's SMTP sink): run deploy/local/services.sh start, which installs python3-aiosmtpd")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	dir = t.TempDir()
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, dir
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("aiosmtpd did not listen on %s", addr)
	return "", ""
}

// waitMail returns the first mail in a maildir.
func waitMail(t *testing.T, dir string) *mail.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
		if len(files) > 0 {
			f, err := os.Open(files[0])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			m, err := mail.ReadMessage(f)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no mail within 20 s")
	return nil
}

type engineRig struct {
	t      *testing.T
	store  *ClickHouseStore
	engine *Engine
	disp   *Dispatcher
	stop   func()
}

// alarmRules are startEngine's rules: báo động I, II, III of the river gauges.
var alarmRules = rules(`kind: alarm_levels
metric: water_level
levels: {i: {severity: medium}, ii: {severity: high}, iii: {severity: critical}}`) + testRoute

func startEngine(t *testing.T, store *ClickHouseStore, cfg config.Alerts, env map[string]string) *engineRig {
	t.Helper()
	return startEngineRules(t, store, cfg, env, alarmRules)
}

func startEngineRules(t *testing.T, store *ClickHouseStore, cfg config.Alerts, env map[string]string, file string) *engineRig {
	t.Helper()
	rf, err := ParseRules([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	sensors, _ := ingest.ParseCatalog([]byte(testSensors), nil)
	cams, _ := streams.ParseCameraCatalog([]byte(testCameras), config.Units, func(string) string { return "" })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	e := NewEngine(rf, sensors, cams, store, nil, nil, Options{Tick: 50 * time.Millisecond}, reg, log)
	d, err := NewDispatcher(cfg, e, store, func(k string) string { return env[k] }, log)
	if err != nil {
		t.Fatal(err)
	}
	e.notify = d
	var wg sync.WaitGroup
	wg.Add(2)
	errc := make(chan error, 1)
	go func() { defer wg.Done(); errc <- e.Run(ctx) }()
	go func() { defer wg.Done(); _ = d.Run(ctx) }()
	r := &engineRig{t: t, store: store, engine: e, disp: d}
	r.stop = func() {
		cancel()
		wg.Wait()
		if err := <-errc; err != nil {
			t.Errorf("engine: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			r.stop()
		}
	})
	return r
}

func (r *engineRig) read(sensor string, v float64) {
	now := time.Now().UTC()
	if err := r.engine.ObserveReadings(context.Background(), []ingest.Reading{{Time: now, Received: now, Sensor: sensor, Metric: "water_level", Value: v}}, nil); err != nil {
		r.t.Fatal(err)
	}
}

func TestEngineStoresNotifiesAndRestarts(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	if _, err := analytics.Migrate(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	hook := newHookServer(t, "s3cret-hmac", 1)
	smtpAddr, maildir := startMailSink(t)
	var gwMu sync.Mutex
	var gwBodies []map[string]string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			t.Errorf("gateway Authorization = %q", r.Header.Get("Authorization"))
		}
		gwMu.Lock()
		gwBodies = append(gwBodies, m)
		gwMu.Unlock()
	}))
	defer gw.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/"
	dead.Close() // nothing listens: every attempt fails

	cfg := config.Default().Alerts
	cfg.Retry = config.Retry{Attempts: 3, Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}
	cfg.Receivers = []config.Receiver{
		{Name: "down", Type: "webhook", Units: []string{"flood_control"}, URL: deadURL},
		{Name: "flood-hook", Type: "webhook", Units: []string{"flood_control"}, URL: hook.URL, SecretEnv: "HOOK_SECRET"},
		{Name: "flood-mail", Type: "email", Units: []string{"flood_control"}, SMTP: smtpAddr, From: "ioc@laocai.gov.vn", To: []string{"pctt@laocai.gov.vn"}},
		{Name: "flood-sms", Type: "gateway", Units: []string{"flood_control"}, URL: gw.URL, SecretEnv: "SMS_TOKEN",
			Headers: map[string]string{"Authorization": "Bearer {{.Token}}"}, Body: `{"to": {{json .To}}, "text": {{json .Text}}}`, To: []string{"+84912345678"}},
		{Name: "police-hook", Type: "webhook", Units: []string{"police"}, URL: hook.URL},
	}
	env := map[string]string{"HOOK_SECRET": "s3cret-hmac", "SMS_TOKEN": "tok-123"}
	rig := startEngine(t, store, cfg, env)

	rig.read("gauge-a", 82.3) // báo động II
	msg := hook.next(t)
	if len(msg.Notifications) != 1 || msg.Notifications[0].Kind != EventFiring || msg.Notifications[0].Alert.AlarmLevel != 2 {
		t.Fatalf("webhook message = %+v", msg)
	}
	alert := msg.Notifications[0].Alert
	if !strings.Contains(msg.Subject, "CAO") || !strings.Contains(msg.Subject, "Trạm A") {
		t.Errorf("subject = %q", msg.Subject)
	}
	hook.mu.Lock()
	if hook.calls != 2 || hook.keys[0] != hook.keys[1] || hook.keys[0] != alert.ID+"-1" {
		t.Errorf("webhook: %d calls with keys %q; want a retry after the 503 with the same key %s-1", hook.calls, hook.keys, alert.ID)
	}
	hook.mu.Unlock()

	m := waitMail(t, maildir)
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	body, _ := io.ReadAll(m.Body)
	if !strings.Contains(subject, "KHẨN") && !strings.Contains(subject, "CAO") {
		t.Errorf("mail subject = %q", subject)
	}
	if !strings.Contains(string(body), "Tr=E1=BA=A1m A") || !strings.Contains(string(body), "TP L=C3=A0o Cai") {
		t.Errorf("mail body (quoted-printable) lacks the station and district:\n%s", body)
	}

	// acknowledge through the engine, then restart it: the alert comes back, acknowledged,
	// and the same level notifies nobody again.
	if _, err := rig.engine.Acknowledge(context.Background(), alert.ID, "op.nguyen", "đã nhận"); err != nil {
		t.Fatal(err)
	}
	if _, err := rig.engine.Acknowledge(context.Background(), alert.ID, "op.nguyen", ""); err == nil {
		t.Error("a second acknowledgement was accepted")
	}
	waitRows(t, store, "SELECT count() FROM alert_events WHERE alert_id = ?", 2, alert.ID)
	// the dead receiver tried three times and gave up; the others were not held up by it
	waitRows(t, store, "SELECT count() FROM alert_notifications WHERE receiver = 'down' AND status IN ('retry', 'failed')", 3)
	// the health page's view of the channels: the dead one failing, the working ones not
	channels := map[string]ChannelState{}
	for _, c := range rig.disp.Channels() {
		channels[c.Receiver] = c
	}
	if down := channels["down"]; !down.Failing || down.Failures < FailingAfter || down.LastError == "" || !slices.Equal(down.Units, []string{"flood_control"}) {
		t.Errorf("the dead receiver's channel: %+v, want failing", down)
	}
	if hook := channels["flood-hook"]; hook.Failing || hook.LastStatus != "ok" || hook.LastOK.IsZero() {
		t.Errorf("the working webhook's channel: %+v", hook)
	}
	waitRows(t, store, "SELECT count() FROM alert_notifications WHERE receiver IN ('flood-hook', 'flood-mail', 'flood-sms') AND status = 'ok'", 3)
	rig.stop()

	rig2 := startEngine(t, store, cfg, env)
	got, err := rig2.engine.Alerts(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != alert.ID || got[0].State != StateAcknowledged || got[0].Seq != 2 {
		t.Fatalf("after a restart: %+v", got)
	}
	rig2.read("gauge-a", 82.4)
	rig2.read("gauge-a", 83.8) // worse: the same alert, firing again
	msg = hook.next(t)
	if n := msg.Notifications[0]; n.Kind != EventUpdated || n.Alert.ID != alert.ID || n.Alert.Seq != 3 || n.Alert.State != StateFiring {
		t.Errorf("after the restart, the first message = %+v (want the update to III, seq 3)", n)
	}
	select {
	case extra := <-hook.got:
		t.Errorf("unexpected message: %+v", extra)
	case <-time.After(300 * time.Millisecond):
	}
	gwMu.Lock()
	if len(gwBodies) == 0 || gwBodies[0]["to"] != "+84912345678" || !strings.Contains(gwBodies[0]["text"], "Mã cảnh báo: "+alert.ID) {
		t.Errorf("gateway bodies = %q", gwBodies)
	}
	gwMu.Unlock()
	// a unit sees only its own alerts
	if own, _ := rig2.engine.Alerts(context.Background(), Filter{Units: []string{"traffic_police"}}); len(own) != 0 {
		t.Errorf("traffic police see %d flood alerts", len(own))
	}
	hist, err := store.History(context.Background(), alert.ID)
	if err != nil || len(hist) < 3 || hist[1].Kind != EventAcknowledged || hist[1].Actor != "op.nguyen" || hist[1].Reason != "đã nhận" {
		t.Errorf("history = %+v, %v", hist, err)
	}
}

func TestSilencesSurviveRestart(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	if _, err := analytics.Migrate(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	hook := newHookServer(t, "", 0)
	cfg := config.Default().Alerts
	cfg.Receivers = []config.Receiver{{Name: "hook", Type: "webhook", Units: []string{"ioc"}, URL: hook.URL}}
	rig := startEngine(t, store, cfg, nil)
	ctx := context.Background()
	if _, err := rig.engine.Silence(ctx, Silence{Matchers: Matchers{"subject": {"gauge-a"}}, EndsAt: time.Now().Add(-time.Hour), Author: "a", Reason: "r"}); err == nil {
		t.Error("a silence ending before it starts was accepted")
	}
	s, err := rig.engine.Silence(ctx, Silence{Matchers: Matchers{"subject": {"gauge-a"}}, EndsAt: time.Now().Add(time.Hour), Author: "op.tran", Reason: "bảo trì trạm"})
	if err != nil {
		t.Fatal(err)
	}
	rig.stop()
	rig2 := startEngine(t, store, cfg, nil)
	rig2.read("gauge-a", 80.5)
	rig2.read("gauge-b", 80.5)
	msg := hook.next(t)
	if subj := msg.Notifications[0].Alert.Subject; subj != "gauge-b" {
		t.Errorf("the silenced gauge-a was notified (%s)", subj)
	}
	if err := rig2.engine.ExpireSilence(ctx, s.ID, "op.tran"); err != nil {
		t.Fatal(err)
	}
	msg = hook.next(t) // the tick after the silence ends sends gauge-a's alert
	if subj := msg.Notifications[0].Alert.Subject; subj != "gauge-a" {
		t.Errorf("after the silence: %s", subj)
	}
	list, _ := store.Silences(ctx, time.Now())
	if len(list) != 0 {
		t.Errorf("stored silences still in force after expiry: %+v", list)
	}
}

// waitRows polls a count query until it reaches want (rows reach ClickHouse through the
// engine's outbox, asynchronously).
func waitRows(t *testing.T, s *ClickHouseStore, query string, want uint64, args ...any) {
	t.Helper()
	var got uint64
	for i := 0; i < 200; i++ {
		if err := s.Conn.QueryRow(context.Background(), query, args...).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %d rows, want %d", query, got, want)
}

// A restart neither resolves nor notifies again an alert whose condition still holds: a silent
// sensor's alert survives it (silence counts from the sensor's last stored reading, not from
// the process's start), and resolves only when the sensor reports.
func TestSilentSensorAlertSurvivesRestart(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	ctx := context.Background()
	if _, err := analytics.Migrate(ctx, ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	hook := newHookServer(t, "", 0)
	cfg := config.Default().Alerts
	cfg.Receivers = []config.Receiver{{Name: "hook", Type: "webhook", Units: []string{"ioc"}, URL: hook.URL}}
	file := rules(`kind: absence
select: {sensors: [gauge-a]}
after: 1s
severity: low
category: infrastructure`) + testRoute
	// gauge-a's last reading, stored two seconds ago
	last := time.Now().UTC().Add(-2 * time.Second).Truncate(time.Second)
	if err := store.Conn.Exec(ctx, fmt.Sprintf("INSERT INTO readings (ts, sensor_id, metric, value, unit, quality, ingest_time, topic) "+
		"SELECT toDateTime(%d, 'UTC'), 'gauge-a', 'water_level', 79, 'm', 'good', toDateTime(%[1]d, 'UTC'), 't'", last.Unix())); err != nil {
		t.Fatal(err)
	}
	rig := startEngineRules(t, store, cfg, nil, file)
	msg := hook.next(t)
	if n := msg.Notifications[0]; n.Kind != EventFiring || n.Alert.Subject != "gauge-a" {
		t.Fatalf("first message %+v, want gauge-a silent", n)
	}
	id := msg.Notifications[0].Alert.ID
	waitRows(t, store, "SELECT count() FROM alert_events WHERE alert_id = ?", 1, id)
	rig.stop()

	rig2 := startEngineRules(t, store, cfg, nil, file)
	select {
	case m := <-hook.got:
		t.Fatalf("after a restart, with gauge-a still silent: %s %s (want nothing)", m.Notifications[0].Kind, m.Notifications[0].Alert.ID)
	case <-time.After(2 * time.Second): // many ticks past the rule's second
	}
	got, err := rig2.engine.Alerts(ctx, Filter{})
	if err != nil || len(got) != 1 || got[0].ID != id || got[0].State != StateFiring {
		t.Fatalf("after a restart: %+v, %v; want %s still firing", got, err, id)
	}
	rig2.read("gauge-a", 79.1) // it speaks again: the alert ends
	if m := hook.next(t); m.Notifications[0].Kind != EventResolved || m.Notifications[0].Alert.ID != id {
		t.Errorf("after gauge-a reported: %s %s, want %s resolved", m.Notifications[0].Kind, m.Notifications[0].Alert.ID, id)
	}
}
