package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// The failover tests run ioc against the local cluster (deploy/local/cluster.sh): ZooKeeper,
// two ClickHouse replicas of one shard and three broker nodes. Each breaks one part under load
// and ends with exact counts.

// Replica 1 killed with SIGKILL for 30 s under load: ioc's writer goes on into replica 2 (its
// next address), the killed replica fetches what it missed when it returns, and both hold the
// published sequence exactly: nothing lost, nothing twice after FINAL.
func TestFailoverClickHouseReplica(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := cl.Config(t)
	broker := testenv.Broker(t)
	seq := newSequence(30000)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	published, wait := publishInBackground(t, seq, broker, 700)
	waitPublished(t, published, 3000)
	cl.Kill(t, 1)
	t.Logf("replica 1 killed with %d published", published.Load())
	time.Sleep(30 * time.Second)
	t.Logf("replica 1 restarting with %d published", published.Load())
	cl.Start(t, 1)
	wait()
	seq.verify(t, openDB(t, cl.Replicas[1], ch.Database), 2*time.Minute)
	first := openDB(t, cl.Replicas[0], ch.Database)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := first.Exec(ctx, "SYSTEM SYNC REPLICA readings"); err != nil {
		t.Fatalf("replica 1 did not catch up: %v", err)
	}
	seq.verify(t, first, time.Minute)
}

// Broker node 1, the one ioc and the publisher are connected to, killed with SIGKILL for 20 s
// under load: both go on through node 2 (the next node of mqtt.broker), ioc's persistent
// session there (replicated by the broker cluster) with it, the QoS 1 messages node 1 had
// delivered and not seen acknowledged are delivered again, and ClickHouse holds the published
// sequence exactly.
func TestFailoverBrokerNode(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := testenv.ClickHouseConfig(t)
	broker := strings.Join(cl.Brokers, ",")
	seq := newSequence(20000)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	published, wait := publishInBackground(t, seq, broker, 700)
	waitPublished(t, published, 3000)
	cl.KillBroker(t, 1)
	t.Logf("broker node 1 killed with %d published", published.Load())
	time.Sleep(20 * time.Second)
	t.Logf("broker node 1 restarting with %d published", published.Load())
	cl.StartBroker(t, 1)
	wait()
	seq.verify(t, testenv.Conn(t, ch), 2*time.Minute)
}

// leaderConfig writes the config of one of two ioc processes that run the alert engine with
// a lease in the local cluster's ZooKeeper: each takes in every reading of prefix (no shared
// group) for the Lào Cai catalog's sensors, and notifies unit ioc's webhook at hook.
func leaderConfig(t *testing.T, ch config.ClickHouse, broker, zk, prefix, clientID, hook, rules string) string {
	t.Helper()
	body := fmt.Sprintf(`roles: [ingest, alerts, dashboard]
log: {level: info, format: text}
clickhouse: {addr: %q, database: %s, dial_timeout: 1s, query_timeout: 5s}
mqtt: {broker: %q, client_id: %s, keepalive: 2s, connect_timeout: 2s, max_reconnect_interval: 1s}
ingest:
  topics: [{pattern: "%s/+/+/+", format: json, qos: 1}]
  catalog: %q
writer: {flush_interval: 50ms, max_retry_interval: 500ms, shutdown_timeout: 2s, spool: {dir: %q}}
alerts:
  rules: %q
  tick: 200ms
  lease: {zookeeper: [%q], path: /ioc-test/%s, session_timeout: 3s}
  receivers: [{name: ops, type: webhook, units: [ioc], url: %q}]
http: {listen: %q}
`, ch.Addr, ch.Database, broker, clientID, prefix, laoCaiCatalog(t), t.TempDir(), rules, zk, ch.Database, hook, freeAddr(t))
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hookLog is a webhook receiver that counts each message by its Idempotency-Key.
type hookLog struct {
	mu   sync.Mutex
	keys map[string]int
	n    int
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	h.keys[r.Header.Get("Idempotency-Key")]++
	h.n++
	h.mu.Unlock()
}

func (h *hookLog) count() (messages, keys int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, len(h.keys)
}

// The alert leader killed with SIGKILL: the standby takes over (its lease once the leader's
// ZooKeeper session expires), keeps the live alerts without notifying them again, fires the
// next alert with a higher term, and the alerts' histories have no gap.
func TestFailoverAlertLeader(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	prefix := "lead-" + randomID()
	hook := &hookLog{keys: map[string]int{}}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(`rules:
  - name: gauge_high
    kind: threshold
    select: {kinds: [river_gauge]}
    metric: water_level
    threshold: 50
    clear: 40
    severity: high
    category: naturalDisaster
    sub_category: flood
    title: {vi: "{{.Subject}} cao", en: "{{.Subject}} high"}
route: {units: [ioc], group_by: [subject]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var procs [2]*iocProcess
	for i := range procs {
		clientID := fmt.Sprintf("ioc-%s-%d", prefix, i)
		t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
		procs[i] = startIOC(t, leaderConfig(t, ch, broker, cl.ZooKeeper, prefix, clientID, srv.URL, rules))
		if i == 0 {
			testenv.WaitFor(t, "the first process to lead", 20*time.Second, func() bool { return procs[0].metric(t, "ioc_alerts_leader") == 1 })
		}
	}
	if procs[1].metric(t, "ioc_alerts_leader") != 0 {
		t.Fatal("both processes lead")
	}
	// Four of the Lào Cai catalog's river gauges, each at a level above the rule's 50 m.
	gauges := []struct {
		id    string
		level float64
	}{{"lc-hong-bat-xat", 86}, {"lc-hong-laocai", 83}, {"lc-nam-thi-coc-leu", 82}, {"lc-hong-pho-lu", 79}}
	gauge := func(i int) {
		g := gauges[i-1]
		publish(t, broker, map[string][][]byte{fmt.Sprintf("%s/d/river_gauge/%s", prefix, g.id): {
			fmt.Appendf(nil, `{"sensor":%q,"ts":%d,"metric":"water_level","value":%g,"unit":"m"}`, g.id, time.Now().UnixMilli(), g.level)}})
	}
	conn := testenv.Conn(t, ch)
	stored := func(query string, want uint64) {
		t.Helper()
		testenv.WaitFor(t, query, 30*time.Second, func() bool {
			var n uint64
			return conn.QueryRow(context.Background(), query).Scan(&n) == nil && n == want
		})
	}
	for i := 1; i <= 3; i++ {
		gauge(i)
	}
	stored("SELECT uniqExact(alert_id) FROM alert_events WHERE kind = 'firing'", 3)
	testenv.WaitFor(t, "3 notifications", 20*time.Second, func() bool { n, _ := hook.count(); return n == 3 })

	procs[0].signal(syscall.SIGKILL)
	procs[0].wait(t)
	killed := time.Now()
	testenv.WaitFor(t, "the standby to lead", 30*time.Second, func() bool { return procs[1].metric(t, "ioc_alerts_leader") == 1 })
	t.Logf("the standby leads %s after the kill", time.Since(killed).Round(time.Millisecond))
	testenv.WaitFor(t, "the standby to restore the 3 live alerts", 10*time.Second, func() bool {
		return procs[1].metric(t, `ioc_alerts_active{severity="high",state="firing"}`) == 3
	})
	gauge(4)
	stored("SELECT uniqExact(alert_id) FROM alert_events WHERE kind = 'firing'", 4)
	testenv.WaitFor(t, "the fourth notification", 20*time.Second, func() bool { n, _ := hook.count(); return n >= 4 })
	time.Sleep(2 * time.Second) // anything sent twice would arrive by now
	if n, keys := hook.count(); n != 4 || keys != 4 {
		t.Fatalf("the webhook got %d messages with %d distinct keys, want 4 and 4 (each alert notified once)", n, keys)
	}
	// Every alert's history: seq 1, 2, … without a gap; the fourth made in a later term.
	var gaps, resolved uint64
	if err := conn.QueryRow(context.Background(), `SELECT countIf(max_seq != n), sum(res) FROM
		(SELECT alert_id, max(seq) AS max_seq, uniqExact(seq) AS n, countIf(kind = 'resolved') AS res FROM alert_events GROUP BY alert_id)`).Scan(&gaps, &resolved); err != nil {
		t.Fatal(err)
	}
	var terms []uint64
	rows, err := conn.Query(context.Background(), "SELECT DISTINCT term FROM alert_events ORDER BY term")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var term uint64
		if err := rows.Scan(&term); err != nil {
			t.Fatal(err)
		}
		terms = append(terms, term)
	}
	rows.Close()
	if gaps != 0 || resolved != 0 || len(terms) != 2 || terms[0] == 0 || terms[1] <= terms[0] {
		t.Fatalf("%d alerts with gaps in their history, %d resolved, terms %v (want 0, 0, two growing terms)", gaps, resolved, terms)
	}
}
