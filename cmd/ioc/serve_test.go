package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

// harness runs `ioc serve` in-process against the real test ClickHouse and broker, on a
// database and a topic prefix of its own.
type harness struct {
	cfg    config.Config
	prefix string
	conn   driver.Conn
	logOut io.Writer // where serve logs; the test's output when nil
	// logInfo logs from info up (warnings and up when false).
	logInfo bool
	// web is the client of the HTTP API: plain, or trusting http.tls's CA.
	web *http.Client
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{cfg: config.Default(), prefix: "e2e-" + randomID()}
	h.cfg.ClickHouse = testenv.ClickHouseConfig(t)
	h.cfg.MQTT.Broker = testenv.Broker(t)
	h.cfg.MQTT.ClientID = h.prefix
	h.cfg.Ingest.Topics = []config.Topic{{Pattern: h.prefix + "/+/+/+", Format: "json", QoS: 1}}
	h.cfg.HTTP.Listen = freeAddr(t)
	h.cfg.Writer.FlushInterval = 50 * time.Millisecond
	h.cfg.Writer.MaxRetryInterval = 200 * time.Millisecond
	h.cfg.Writer.ShutdownTimeout = time.Second
	h.cfg.Writer.Spool.Dir = t.TempDir()
	h.cfg.Ingest.AcceptUnknownSensors = true // the tests' sensors are not in the catalog
	h.cfg.Ingest.Catalog = laoCaiCatalog(t)
	h.conn = testenv.Conn(t, h.cfg.ClickHouse)
	t.Cleanup(func() {
		if strings.HasPrefix(h.cfg.MQTT.Broker, "tcp://") { // a test's own secure broker is gone with its sessions
			testenv.ForgetSession(t, h.cfg.MQTT.Broker, h.cfg.MQTT.ClientID)
		}
	})
	return h
}

// laoCaiCatalog writes the simulated Lào Cai's sensor catalog (5-minute intervals) to a file:
// serve without the simulator must be given a catalog.
func laoCaiCatalog(t *testing.T) string {
	t.Helper()
	raw, err := provincesim.Catalog("lao-cai", 5*time.Minute, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sensors.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs serve until the returned stop is called (or the test ends), and waits until
// /healthz says every dependency is up: in particular, until the subscription is in place.
func (h *harness) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := h.logOut
	if out == nil {
		out = t.Output()
	}
	level := slog.LevelWarn
	if h.logInfo {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	go func() { done <- serve(ctx, h.cfg, log) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("serve stopped early: %v", err)
		default:
		}
		if code, _ := h.get(t, "/healthz"); code == http.StatusOK {
			return stop
		}
		if time.Now().After(deadline) {
			_, body := h.get(t, "/healthz")
			t.Fatalf("serve not healthy after 30s: %s", body)
		}
	}
}

func (h *harness) get(t *testing.T, path string) (int, string) {
	t.Helper()
	scheme, client := "http://", http.DefaultClient
	if h.web != nil {
		scheme, client = "https://", h.web
	}
	resp, err := client.Get(scheme + h.cfg.HTTP.Listen + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metric returns one sample of /metrics, e.g. `ioc_writer_rows_written_total{table="readings"}`.
func (h *harness) metric(t *testing.T, sample string) string {
	t.Helper()
	_, body := h.get(t, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			return rest
		}
	}
	return ""
}

func publish(t *testing.T, broker string, msgs map[string][][]byte) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("pub-" + randomID()))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(100)
	var toks []mqtt.Token
	for topic, payloads := range msgs {
		for _, p := range payloads {
			toks = append(toks, c.Publish(topic, 1, false, p))
		}
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

// waitCount waits until query counts want rows, and fails if it counts more at any time.
func (h *harness) waitCount(t *testing.T, query string, want uint64) {
	t.Helper()
	var n uint64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if err := h.conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > want {
			t.Fatalf("%s: %d rows, more than the %d published", query, n, want)
		}
		if n == want {
			return
		}
	}
	t.Fatalf("%s: %d rows after 30s, want %d", query, n, want)
}

type row struct {
	Sensor, Metric, Unit, Topic string
	TS                          time.Time
	Value                       float64
}

func (h *harness) readings(t *testing.T) []row {
	t.Helper()
	rows, err := h.conn.Query(context.Background(), "SELECT sensor_id, metric, unit, topic, ts, value FROM readings ORDER BY sensor_id, metric, ts")
	if err != nil {
		t.Fatal(err)
	}
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.Sensor, &r.Metric, &r.Unit, &r.Topic, &r.TS, &r.Value); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func sortRows(rs []row) {
	slices.SortFunc(rs, func(a, b row) int {
		return strings.Compare(fmt.Sprint(a.Sensor, a.Metric, a.TS.Unix()), fmt.Sprint(b.Sensor, b.Metric, b.TS.Unix()))
	})
}

// Readings published through the real broker land in ClickHouse exactly: every one, once,
// with its values; objects and arrays alike.
func TestServeStoresPublishedReadingsExactly(t *testing.T) {
	h := newHarness(t)
	h.start(t)

	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	msgs := map[string][][]byte{}
	var want []row
	add := func(sensor, kind string, batch int, start int) {
		topic := fmt.Sprintf("%s/lao-cai/%s/%s", h.prefix, kind, sensor)
		var recs []map[string]any
		for i := start; i < start+batch; i++ {
			ts := base.Add(time.Duration(i) * time.Second)
			v := 80 + float64(i)/100
			recs = append(recs, map[string]any{"sensor": sensor, "ts": ts.Format(time.RFC3339), "metric": "water_level", "value": v, "unit": "m"})
			want = append(want, row{Sensor: sensor, Metric: "water_level", Unit: "m", Topic: topic, TS: ts, Value: v})
		}
		var body []byte
		if batch == 1 {
			body, _ = json.Marshal(recs[0])
		} else {
			body, _ = json.Marshal(recs)
		}
		msgs[topic] = append(msgs[topic], body)
	}
	for i := 0; i < 40; i++ {
		add(fmt.Sprintf("gauge-%02d", i%8), "river_gauge", 1, i)
	}
	for i := 0; i < 20; i++ {
		add(fmt.Sprintf("array-%02d", i%4), "river_gauge", 10, i*10)
	}
	publish(t, h.cfg.MQTT.Broker, msgs)

	h.waitCount(t, "SELECT count() FROM readings", uint64(len(want)))
	got := h.readings(t)
	sortRows(want)
	sortRows(got)
	for i := range want {
		if !got[i].TS.Equal(want[i].TS) || got[i].Sensor != want[i].Sensor || got[i].Value != want[i].Value ||
			got[i].Unit != want[i].Unit || got[i].Topic != want[i].Topic || got[i].Metric != want[i].Metric {
			t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Rows are visible in readings before the INSERT returns (the rollups' views run after the
	// part is written), and the counter moves when it returns.
	written := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if written = h.metric(t, `ioc_writer_rows_written_total{table="readings"}`); written == fmt.Sprint(len(want)) {
			break
		}
	}
	if written != fmt.Sprint(len(want)) {
		t.Errorf("/metrics rows written = %q, want %d", written, len(want))
	}
	if v := h.metric(t, "ioc_mqtt_messages_received_total"); v != "60" {
		t.Errorf("/metrics messages received = %q, want 60", v)
	}
}

// Each kind of bad payload is a dead letter with its reason; good readings, even in the same
// message, are kept.
func TestServeDeadLettersEachBadPayload(t *testing.T) {
	h := newHarness(t)
	h.cfg.Ingest.MaxPayloadBytes = 2048
	h.start(t)

	now := time.Now().UTC().Truncate(time.Second)
	ms := now.Add(-time.Minute).UnixMilli()
	good := func(sensor string) string {
		return fmt.Sprintf(`{"sensor":%q,"ts":%d,"metric":"ph","value":7.1,"unit":"pH"}`, sensor, ms)
	}
	cases := []struct {
		payload string
		reasons []string
	}{
		{`{"sensor":"a","ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":`, []string{"malformed_json"}},
		{`{"ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":7}`, []string{"missing_field"}},
		{`{"sensor":"a","ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":"seven"}`, []string{"wrong_type"}},
		{`{"sensor":"a","ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":NaN}`, []string{"non_finite"}},
		{`{"sensor":"a","ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":"Infinity"}`, []string{"non_finite"}},
		{`{"sensor":"a","ts":"tomorrow","metric":"ph","value":7}`, []string{"bad_timestamp"}},
		{fmt.Sprintf(`{"sensor":"a","ts":%q,"metric":"ph","value":7}`, now.Add(time.Hour).Format(time.RFC3339)), []string{"future_timestamp"}},
		{fmt.Sprintf(`{"sensor":"a","ts":%q,"metric":"ph","value":7}`, now.AddDate(-1, 0, 0).Format(time.RFC3339)), []string{"stale_timestamp"}},
		{"", []string{"empty_payload"}},
		{"{\"sensor\":\"\xff\"}", []string{"invalid_utf8"}},
		{`{"sensor":"` + strings.Repeat("x", 3000) + `"}`, []string{"oversized"}},
		{"[" + good("kept-1") + `,{"sensor":"b","ts":` + fmt.Sprint(ms) + `,"metric":"ph","value":1e999},` + good("kept-2") + "]", []string{"non_finite"}},
		{good("kept-3"), nil},
	}
	topic := h.prefix + "/lao-cai/water_quality/probe"
	var payloads [][]byte
	var wantReasons []string
	for _, c := range cases {
		payloads = append(payloads, []byte(c.payload))
		wantReasons = append(wantReasons, c.reasons...)
	}
	publish(t, h.cfg.MQTT.Broker, map[string][][]byte{topic: payloads})

	h.waitCount(t, "SELECT count() FROM dead_letters", uint64(len(wantReasons)))
	h.waitCount(t, "SELECT count() FROM readings", 3)

	rows, err := h.conn.Query(context.Background(), "SELECT reason, topic, source, detail, length(payload), payload_size FROM dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	var gotReasons []string
	for rows.Next() {
		var reason, tp, source, detail string
		var kept uint64
		var size uint32
		if err := rows.Scan(&reason, &tp, &source, &detail, &kept, &size); err != nil {
			t.Fatal(err)
		}
		if tp != topic || source != "mqtt" || detail == "" || kept > uint64(h.cfg.Ingest.DeadLetterPayloadBytes) || uint64(size) < kept {
			t.Errorf("dead letter %s: topic %q source %q detail %q kept %d of %d", reason, tp, source, detail, kept, size)
		}
		gotReasons = append(gotReasons, reason)
	}
	slices.Sort(gotReasons)
	slices.Sort(wantReasons)
	if !slices.Equal(gotReasons, wantReasons) {
		t.Fatalf("dead letter reasons %q, want %q", gotReasons, wantReasons)
	}
	var sensors []string
	for _, r := range h.readings(t) {
		sensors = append(sensors, r.Sensor)
	}
	if !slices.Equal(sensors, []string{"kept-1", "kept-2", "kept-3"}) {
		t.Fatalf("kept readings of %q", sensors)
	}
	if v := h.metric(t, `ioc_ingest_dead_letters_total{reason="non_finite"}`); v != "3" {
		t.Errorf(`/metrics dead letters non_finite = %q, want 3`, v)
	}
}

// A message is acknowledged only once its readings are stored: while ClickHouse refuses them
// (here the tables do not exist yet) nothing is acknowledged, so after a restart the broker
// delivers them again and they are stored, each once.
func TestUnstoredMessagesAreRedeliveredAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.cfg.ClickHouse.MigrateOnStart = false // an empty database: every insert fails
	h.cfg.Writer.Spool.Dir = ""             // no spool: the broker keeps the backlog
	stop := h.start(t)

	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
	topic := h.prefix + "/bat-xat/rain_gauge/rain-1"
	var payloads [][]byte
	for i := 0; i < 20; i++ {
		payloads = append(payloads, fmt.Appendf(nil, `{"sensor":"rain-1","ts":%q,"metric":"rainfall","value":%d,"unit":"mm"}`,
			base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i))
	}
	publish(t, h.cfg.MQTT.Broker, map[string][][]byte{topic: payloads})
	for deadline := time.Now().Add(30 * time.Second); h.metric(t, `ioc_writer_batches_total{table="readings",result="error"}`) == "0"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer never tried to store")
		}
	}
	stop() // gives up after ShutdownTimeout: nothing stored, nothing acknowledged

	if _, err := analytics.Migrate(context.Background(), h.cfg.ClickHouse); err != nil {
		t.Fatal(err)
	}
	h.cfg.HTTP.Listen = freeAddr(t)
	h.start(t)
	h.waitCount(t, "SELECT count() FROM readings", 20)
	var distinct uint64
	if err := h.conn.QueryRow(context.Background(), "SELECT uniqExact(ts) FROM readings WHERE sensor_id = 'rain-1'").Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != 20 {
		t.Fatalf("%d distinct readings of 20", distinct)
	}
}

// Without ClickHouse, ioc migrate fails with an error that names the address and how to start
// it (serve starts all the same and waits for it: TestFaultClickHouseDownAtStart).
func TestMigrateWithoutClickHouseSaysWhatToDo(t *testing.T) {
	t.Setenv("IOC_CLICKHOUSE_ADDR", "127.0.0.1:1")
	t.Setenv("IOC_CLICKHOUSE_DIAL_TIMEOUT", "1s")
	code, _, stderr := runIOC("migrate", "--config", "../../deploy/config/demo.yaml")
	if code != exitFailed || !strings.Contains(stderr, "127.0.0.1:1") || !strings.Contains(stderr, "deploy/local/services.sh start") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// A process without the dashboard role (here ingest alone) still answers its probes and
// scrapes: /readyz, /livez and /metrics; the API and the UI are not there.
func TestIngestOnlyAnswersProbes(t *testing.T) {
	seq := newSequence(1)
	broker := testenv.Broker(t)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	path := faultConfig(t, seq, testenv.ClickHouseConfig(t), broker, clientID, t.TempDir(), "")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(body, []byte("roles: [ingest, dashboard]"), []byte("roles: [ingest]"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startIOCUntil(t, path, "/readyz")
	for path, want := range map[string]int{"/livez": 200, "/metrics": 200, "/api/v1/me": 404, "/": 404} {
		resp, err := http.Get("http://" + p.listen + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if p.metric(t, "ioc_mqtt_connected") != 1 {
		t.Error("the ingest process's metrics do not say it is connected")
	}
}
