package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// The fault tests publish a known sequence of readings under load, break something on the
// way (ClickHouse stopped, the broker restarted, ioc killed), and then compare what ClickHouse
// holds with what was published: zero missing, zero duplicated.

// envRunIOC makes the test binary run ioc itself (see TestMain), so that a test can start
// ioc as a process of its own and kill it.
const envRunIOC = "IOC_TEST_RUN_IOC"

func TestMain(m *testing.M) {
	if os.Getenv(envRunIOC) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// sequence is n readings of 20 sensors, one per step (a second unless set) each from base,
// published as generic JSON in order, or in order's order when it is set.
type sequence struct {
	prefix string
	n      int
	base   time.Time
	step   time.Duration
	order  []int
}

// at is the index of the k-th reading published.
func (s sequence) at(k int) int {
	if s.order == nil {
		return k
	}
	return s.order[k]
}

func newSequence(n int) sequence {
	return sequence{prefix: "fault-" + randomID(), n: n, base: time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)}
}

func (s sequence) topic(i int) string {
	return fmt.Sprintf("%s/district-%d/river_gauge/f-%02d", s.prefix, i%4, i%20)
}

func (s sequence) payload(i int) []byte {
	step := s.step
	if step == 0 {
		step = time.Second
	}
	return fmt.Appendf(nil, `{"sensor":"f-%02d","ts":%d,"metric":"water_level","value":%d,"unit":"m"}`,
		i%20, s.base.Add(time.Duration(i/20)*step).UnixMilli(), i%1000)
}

// publish sends the sequence at about rate messages/s with QoS 1, resending whatever the broker
// did not acknowledge (a resent message may arrive twice: storage must absorb that), until all
// are acknowledged. published counts the acknowledged ones.
func (s sequence) publish(ctx context.Context, broker string, rate int, published *atomic.Int64) error {
	c := mqtt.NewClient(testenv.BrokerOptions(broker).SetClientID("pub-" + s.prefix).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(500 * time.Millisecond).SetWriteTimeout(2 * time.Second))
	c.Connect().WaitTimeout(10 * time.Second)
	defer c.Disconnect(100)
	const window = 50
	tick := time.NewTicker(time.Second * window / time.Duration(rate))
	defer tick.Stop()
	for start := 0; start < s.n; start += window {
		pending := make([]int, 0, window)
		for i := start; i < min(start+window, s.n); i++ {
			pending = append(pending, i)
		}
		for len(pending) > 0 {
			toks := make([]mqtt.Token, len(pending))
			for k, i := range pending {
				toks[k] = c.Publish(s.topic(s.at(i)), 1, false, s.payload(s.at(i)))
			}
			var failed []int
			for k, tok := range toks {
				if !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
					failed = append(failed, pending[k])
				}
			}
			published.Add(int64(len(pending) - len(failed)))
			pending = failed
			if len(failed) > 0 {
				select {
				case <-time.After(200 * time.Millisecond):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// verify waits until ClickHouse holds the whole sequence, then checks it reading by reading:
// every one there once (as queries that deduplicate see it), with its value.
func (s sequence) verify(t *testing.T, conn driver.Conn, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	var stored uint64
	for deadline := time.Now().Add(within); ; time.Sleep(250 * time.Millisecond) {
		// (FINAL over a Distributed table on ClickHouse 18.16 needs the whole sorting key named)
		if err := conn.QueryRow(ctx, "SELECT count() FROM readings FINAL WHERE metric = 'water_level' AND ts > 0 AND sensor_id != ''").Scan(&stored); err == nil && stored >= uint64(s.n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s ClickHouse holds %d of %d readings", within, stored, s.n)
		}
	}
	var total, distinct, raw uint64
	var sum float64
	q := "SELECT count(), uniqExact(sensor_id, ts), sum(value) FROM readings FINAL WHERE metric = 'water_level'"
	if err := conn.QueryRow(ctx, q).Scan(&total, &distinct, &sum); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM readings").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := 0; i < s.n; i++ {
		want += float64(i % 1000)
	}
	missing := int64(s.n) - int64(distinct)
	duplicated := int64(total) - int64(distinct)
	t.Logf("published %d; stored %d distinct, %d missing, %d duplicated in query results (%d raw rows before merges)", s.n, distinct, missing, duplicated, raw)
	if missing != 0 || duplicated != 0 || total != uint64(s.n) || sum != want {
		t.Fatalf("%d missing, %d duplicated, %d rows, sum of values %g (want %d rows summing to %g)", missing, duplicated, total, sum, s.n, want)
	}
}

// faultConfig writes the config file of an ioc process for seq on the given servers.
func faultConfig(t *testing.T, seq sequence, ch config.ClickHouse, broker, clientID, spoolDir, sharedGroup string) string {
	t.Helper()
	body := fmt.Sprintf(`roles: [ingest, dashboard]
log: {level: warn, format: text}
clickhouse: {addr: %q, database: %s, cluster: %q, dial_timeout: 1s, query_timeout: 5s}
mqtt: {broker: %q, client_id: %s, keepalive: 2s, connect_timeout: 2s, max_reconnect_interval: 1s}
ingest:
  topics: [{pattern: "%s/+/+/+", format: json, qos: 1}]
  accept_unknown_sensors: true
  catalog: %q
  shared_group: %q
writer:
  flush_interval: 100ms
  max_retry_interval: 500ms
  shutdown_timeout: 2s
  spool: {dir: %q, after: 1s}
http: {listen: %q}
`, ch.Addr, ch.Database, ch.Cluster, broker, clientID, seq.prefix, laoCaiCatalog(t), sharedGroup, spoolDir, freeAddr(t))
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// iocProcess is `ioc serve` as a process of its own (the test binary, see TestMain).
type iocProcess struct {
	cmd    *exec.Cmd
	listen string
	done   chan struct{}
}

func startIOC(t *testing.T, configPath string) *iocProcess {
	t.Helper()
	return startIOCUntil(t, configPath, "/healthz")
}

// startIOCUntil starts ioc and waits until path answers 200: /healthz (every dependency up)
// or /livez (the process serves, whatever its dependencies).
func startIOCUntil(t *testing.T, configPath, path string) *iocProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", configPath)
	cmd.Env = append(os.Environ(), envRunIOC+"=1")
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &iocProcess{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.signal(syscall.SIGTERM); p.wait(t) })
	body, _ := os.ReadFile(configPath)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "http: {listen: "); ok {
			q, _ := strconv.QuotedPrefix(rest)
			p.listen, _ = strconv.Unquote(q)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + p.listen + path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("ioc exited early: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ioc's %s not 200 after 30s", path)
		}
	}
}

func (p *iocProcess) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

func (p *iocProcess) wait(t *testing.T) {
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("ioc did not stop in 30s")
		_ = p.cmd.Process.Kill()
	}
}

// rowsWritten reads the process's ioc_writer_rows_written_total for readings.
func (p *iocProcess) rowsWritten(t *testing.T) float64 {
	t.Helper()
	return p.metric(t, `ioc_writer_rows_written_total{table="readings"}`)
}

// metric reads one sample of the process's /metrics; 0 when it is not there.
func (p *iocProcess) metric(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(body.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return 0
}

// privateDB is database ioc on a test's private ClickHouse.
func privateDB(srv *testenv.Private) config.ClickHouse {
	return config.ClickHouse{Addr: srv.ClickHouseAddr, Database: "ioc"}
}

func openDB(t *testing.T, addr, database string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: database, Username: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// publishInBackground runs seq.publish and returns a function that waits for it.
func publishInBackground(t *testing.T, seq sequence, broker string, rate int) (published *atomic.Int64, wait func()) {
	t.Helper()
	published = new(atomic.Int64)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	errc := make(chan error, 1)
	go func() { errc <- seq.publish(ctx, broker, rate, published) }()
	return published, func() {
		defer cancel()
		if err := <-errc; err != nil {
			t.Fatalf("publisher: %v", err)
		}
	}
}

// waitPublished waits until at least n messages are acknowledged by the broker.
func waitPublished(t *testing.T, published *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); published.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d published", published.Load(), n)
		}
	}
}

// serverDown runs ioc on private servers, publishes n readings at rate messages/s, stops one
// server (clickhouse or mosquitto) once `after` are published, starts it again `down` later,
// and checks that ClickHouse ends up holding the sequence exactly.
func serverDown(t *testing.T, which string, n, rate int, after int64, down time.Duration) {
	srv := testenv.StartPrivate(t)
	seq := newSequence(n)
	startIOC(t, faultConfig(t, seq, privateDB(srv), srv.BrokerURL, "ioc-"+seq.prefix, t.TempDir(), ""))
	published, wait := publishInBackground(t, seq, srv.BrokerURL, rate)
	waitPublished(t, published, after)
	srv.Stop(t, which)
	t.Logf("%s stopped with %d published", which, published.Load())
	time.Sleep(down)
	t.Logf("%s restarting with %d published", which, published.Load())
	srv.Start(t, which)
	wait()
	seq.verify(t, openDB(t, srv.ClickHouseAddr, "ioc"), 2*time.Minute)
}

// ClickHouse down when ioc starts (a fresh database, never migrated): ioc starts, is alive but
// not ready, takes in and acknowledges into the spool; once ClickHouse answers it applies the
// migrations, replays, and is ready, with every reading stored once.
func TestFaultClickHouseDownAtStart(t *testing.T) {
	srv := testenv.StartPrivate(t)
	srv.Stop(t, "clickhouse")
	seq := newSequence(3000)
	p := startIOCUntil(t, faultConfig(t, seq, privateDB(srv), srv.BrokerURL, "ioc-"+seq.prefix, t.TempDir(), ""), "/livez")
	ready := func() (int, string) {
		resp, err := http.Get("http://" + p.listen + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"clickhouse":{"status":"down"`) || !strings.Contains(body, `"schema":{"status":"down"`) {
		t.Fatalf("/readyz with ClickHouse down: %d %s", code, body)
	}
	// a first start has no session at the broker yet: publish once ioc has subscribed
	testenv.WaitFor(t, "ioc subscribed", 10*time.Second, func() bool { _, body := ready(); return strings.Contains(body, `"mqtt":{"status":"up"`) })
	published, wait := publishInBackground(t, seq, srv.BrokerURL, 1000)
	wait()
	if published.Load() != int64(seq.n) {
		t.Fatalf("%d of %d published", published.Load(), seq.n)
	}
	srv.Start(t, "clickhouse")
	seq.verify(t, openDB(t, srv.ClickHouseAddr, "ioc"), 2*time.Minute)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		code, body := ready()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz a minute after ClickHouse came back: %d %s", code, body)
		}
	}
	// the catalog's mirror was written once the schema was there
	var sensors uint64
	if err := openDB(t, srv.ClickHouseAddr, "ioc").QueryRow(context.Background(), "SELECT count() FROM sensors_current").Scan(&sensors); err != nil || sensors == 0 {
		t.Errorf("sensors_current after the schema came up: %d, %v", sensors, err)
	}
}

// ClickHouse stopped for 30 s under load: ioc spools and acknowledges, then replays.
func TestFaultClickHouseDownThirtySeconds(t *testing.T) {
	serverDown(t, "clickhouse", 30000, 700, 3000, 30*time.Second)
}

// Mosquitto restarted under load: both sides reconnect, the persistent session keeps what ioc
// had not acknowledged, and storage absorbs what arrives twice.
func TestFaultBrokerRestart(t *testing.T) {
	serverDown(t, "mosquitto", 15000, 1000, 4000, 3*time.Second)
}

// ioc killed with SIGKILL under load and started again: what it had acknowledged is in
// ClickHouse or its spool, the rest the broker delivers again.
func TestFaultKillNine(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	seq := newSequence(20000)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	_, wait := killUnderLoad(t, seq, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""), broker, 1500, 6000)
	wait()
	seq.verify(t, testenv.Conn(t, ch), 2*time.Minute)
}

// killUnderLoad starts ioc with configPath, publishes seq at rate, kills ioc with SIGKILL
// once killAt are published and starts it again with the same configuration (its spool, its
// client id) a second later; it returns the publisher's count and wait.
func killUnderLoad(t *testing.T, seq sequence, configPath, broker string, rate, killAt int) (*atomic.Int64, func()) {
	t.Helper()
	first := startIOC(t, configPath)
	published, wait := publishInBackground(t, seq, broker, rate)
	waitPublished(t, published, int64(killAt))
	first.signal(syscall.SIGKILL)
	first.wait(t)
	t.Logf("ioc killed with %d published", published.Load())
	time.Sleep(time.Second)
	startIOC(t, configPath)
	return published, wait
}

// Two ioc processes in one shared-subscription group split the traffic: together they store
// every reading once, and each stores a share. Each writes the rollups of its share: the two
// processes' states of the same buckets merge to the raw readings' answer.
func TestSharedSubscriptionSplitsTheLoad(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	seq := newSequence(6000)
	group := "g" + randomID()
	catalog := rollupCatalog(t)
	var procs []*iocProcess
	for i := 0; i < 2; i++ {
		clientID := fmt.Sprintf("ioc-%s-%d", seq.prefix, i)
		t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
		procs = append(procs, startIOC(t, rollupConfig(t, seq, ch, broker, clientID, t.TempDir(), catalog, group, false)))
	}
	_, wait := publishInBackground(t, seq, broker, 3000)
	wait()
	conn := testenv.Conn(t, ch)
	seq.verify(t, conn, time.Minute)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		diff := rollupsAgainstRaw(t, conn)
		if diff == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two processes' rollups differ from the raw readings:\n%s", diff)
		}
	}
	var sources uint64
	if err := conn.QueryRow(context.Background(), "SELECT uniqExact(source) FROM readings_1h FINAL WHERE source != ''").Scan(&sources); err != nil || sources != 2 {
		t.Fatalf("rollup rows of %d sources (%v), want both processes'", sources, err)
	}
	// A process counts a batch once ClickHouse has answered its insert, so the rows can be
	// queryable a moment before the counters say so (a busy machine once read 5,451 of 6,000
	// here): read the counters once they settle, and hold them to exactly the published total.
	var a, b float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		a, b = procs[0].rowsWritten(t), procs[1].rowsWritten(t)
		if a+b >= float64(seq.n) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("process 1 stored %v readings, process 2 %v", a, b)
	if a == 0 || b == 0 || a+b != float64(seq.n) {
		t.Fatalf("processes stored %v and %v readings, want both some and %d together", a, b, seq.n)
	}
}

// Two processes started with one MQTT client id: the second refuses to start, naming the
// holder (the broker would otherwise pass the session back and forth between them, each
// losing what the other had not acknowledged). The holder killed with SIGKILL, a process
// started again on this machine takes the id over at once (the holder's pid is dead).
func TestDuplicateClientIDIsRefused(t *testing.T) {
	seq := newSequence(1)
	broker := testenv.Broker(t)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	ch := testenv.ClickHouseConfig(t)
	first := startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))

	second := exec.Command(os.Args[0], "serve", "--config", faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	second.Env = append(os.Environ(), envRunIOC+"=1")
	started := time.Now()
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mqtt.client_id is in use by another running ioc process") || !strings.Contains(string(out), fmt.Sprintf("pid %d", first.cmd.Process.Pid)) {
		t.Fatalf("the second process with client id %s: %v\n%s\nwant it to refuse, naming the first (pid %d)", clientID, err, out, first.cmd.Process.Pid)
	}
	t.Logf("the second process refused %s after it started", time.Since(started).Round(time.Millisecond))
	if n := first.metric(t, "ioc_mqtt_connection_lost_total"); n != 0 {
		t.Errorf("the first process lost its connection %g times: want its session untouched (the second never connected as it)", n)
	}

	first.signal(syscall.SIGKILL)
	first.wait(t)
	started = time.Now()
	next := startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	t.Logf("after the holder's SIGKILL, a new process took the id over and was healthy in %s", time.Since(started).Round(time.Millisecond))
	// the dead holder's claims are history to it, not a conflict (the session kept nothing of them)
	time.Sleep(3 * time.Second)
	if n := next.metric(t, "ioc_mqtt_client_id_conflicts_total"); n != 0 {
		t.Errorf("the new holder counted %g conflicts with the dead one's claims", n)
	}
}
