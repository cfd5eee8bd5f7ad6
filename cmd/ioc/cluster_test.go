package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/camsim"
)

// The failover tests run ioc against the local cluster (deploy/local/cluster.sh): ZooKeeper,
// two ClickHouse replicas of one shard and three broker nodes. Each breaks one part under load
// and ends with exact counts.

// underLoad starts ioc on ch and broker and publishes seq at 700 readings/s in the
// background; it returns once 3,000 are published (the part of the cluster a test breaks
// then breaks under load), with the publisher's count and its wait.
func underLoad(t *testing.T, seq sequence, ch config.ClickHouse, broker string) (*iocProcess, *atomic.Int64, func()) {
	t.Helper()
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	p := startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	published, wait := publishInBackground(t, seq, broker, 700)
	waitPublished(t, published, 3000)
	return p, published, wait
}

// Replica 1 killed with SIGKILL for 30 s under load: ioc's writer goes on into replica 2 (its
// next address), the killed replica fetches what it missed when it returns, and both hold the
// published sequence exactly: nothing lost, nothing twice after FINAL.
func TestFailoverClickHouseReplica(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := cl.Config(t)
	broker := testenv.Broker(t)
	seq := newSequence(30000)
	_, published, wait := underLoad(t, seq, ch, broker)
	outage(t, "replica 1", published, 30*time.Second, func() { cl.Kill(t, 1) }, func() { cl.Start(t, 1) })
	wait()
	bothReplicasHold(t, seq, cl, ch, 2, 2*time.Minute)
}

// On a cluster of two shards, under load: ioc killed with SIGKILL and started again (the
// broker delivers again what it had not acknowledged), then the second shard's only server
// killed for 20 s (an insert through the Distributed table fails whole: the writer retries and
// spools, the first shard deduplicates the blocks it already has). The cluster holds the
// sequence exactly, split over both shards.
func TestFailoverShards(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := cl.ShardsConfig(t)
	broker := testenv.Broker(t)
	seq := newSequence(30000)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	published, wait := killUnderLoad(t, seq, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""), broker, 700, 3000)
	waitPublished(t, published, 9000)
	outage(t, "shard 2's server", published, 20*time.Second, func() { cl.Kill(t, 3) }, func() { cl.Start(t, 3) })
	wait()
	seq.verify(t, openDB(t, cl.Replicas[0], ch.Database), 2*time.Minute)
	for _, addr := range []string{cl.Replicas[0], cl.Shard2} {
		var n uint64
		if err := openDB(t, addr, ch.Database).QueryRow(context.Background(), "SELECT count() FROM readings_local").Scan(&n); err != nil || n == 0 {
			t.Errorf("the shard of %s holds %d readings (%v): want a share", addr, n, err)
		}
	}
}

// outage kills a part of the cluster (kill), waits d under load, and starts it again.
func outage(t *testing.T, part string, published *atomic.Int64, d time.Duration, kill, start func()) {
	t.Helper()
	kill()
	t.Logf("%s killed with %d published", part, published.Load())
	time.Sleep(d)
	t.Logf("%s restarting with %d published", part, published.Load())
	start()
}

// bothReplicasHold checks seq on replica n (1 or 2) within the time given, then on the other
// once it has caught up (SYSTEM SYNC REPLICA).
func bothReplicasHold(t *testing.T, seq sequence, cl *testenv.Cluster, ch config.ClickHouse, n int, within time.Duration) {
	t.Helper()
	seq.verify(t, openDB(t, cl.Replicas[n-1], ch.Database), within)
	other := openDB(t, cl.Replicas[2-n], ch.Database)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := other.Exec(ctx, "SYSTEM SYNC REPLICA readings"); err != nil {
		t.Fatalf("replica %d did not catch up: %v", 3-n, err)
	}
	seq.verify(t, other, time.Minute)
}

// ZooKeeper lost entirely for 20 s under load: ClickHouse's replicated tables turn read-only;
// ioc goes on taking readings in (its queue, then its spool), says on /readyz why it is not
// ready, and stores everything once ZooKeeper is back: nothing lost, nothing twice, both
// replicas equal.
func TestFailoverZooKeeperLost(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := cl.Config(t)
	broker := testenv.Broker(t)
	seq := newSequence(20000)
	p, published, wait := underLoad(t, seq, ch, broker)
	cl.StopZooKeeper(t)
	t.Cleanup(func() { cl.StartZooKeeper(t) }) // for the next tests, whatever happens here
	stopped := time.Now()
	t.Logf("ZooKeeper stopped with %d published", published.Load())
	var why string
	testenv.WaitFor(t, "/readyz to say the tables are read-only", 20*time.Second, func() bool {
		resp, err := http.Get("http://" + p.listen + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		why = string(body)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(why, "read-only")
	})
	t.Logf("not ready %s after ZooKeeper stopped: %s", time.Since(stopped).Round(time.Millisecond), why)
	time.Sleep(time.Until(stopped.Add(20 * time.Second)))
	t.Logf("ZooKeeper restarting with %d published", published.Load())
	cl.StartZooKeeper(t)
	wait()
	bothReplicasHold(t, seq, cl, ch, 1, 3*time.Minute)
	testenv.WaitFor(t, "ioc ready again", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + p.listen + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
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
	_, published, wait := underLoad(t, seq, ch, broker)
	outage(t, "broker node 1", published, 20*time.Second, func() { cl.KillBroker(t, 1) }, func() { cl.StartBroker(t, 1) })
	wait()
	seq.verify(t, testenv.Conn(t, ch), 2*time.Minute)
}

// leaderConfig writes the config of one of two ioc processes that run the alert engine with
// a lease in the local cluster's ZooKeeper: each takes in every reading of prefix (no shared
// group) for the Lào Cai catalog's sensors, and notifies unit ioc's webhook at hook.
func leaderConfig(t *testing.T, ch config.ClickHouse, broker, zk, prefix, clientID, hook, rules string) string {
	t.Helper()
	return splitConfig(t, "ingest, alerts, dashboard", ch, broker, zk, prefix, clientID, hook, rules, "")
}

// splitConfig writes the config of one ioc process of a deployment split into processes by
// roles; httpExtra is added to its http settings.
func splitConfig(t *testing.T, roles string, ch config.ClickHouse, broker, zk, prefix, clientID, hook, rules, httpExtra string) string {
	t.Helper()
	body := fmt.Sprintf(`roles: [%s]
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
  cap: {status: Exercise}
  lease: {zookeeper: [%q], path: /ioc-test/%s, session_timeout: 3s}
  receivers: [{name: ops, type: webhook, units: [ioc], url: %q}]
http: {listen: %q%s}
`, roles, ch.Addr, ch.Database, broker, clientID, prefix, laoCaiCatalog(t), t.TempDir(), rules, zk, ch.Database, hook, freeAddr(t), httpExtra)
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gaugeRules writes a rule file: a river gauge's water level over 50 m fires a high alert
// routed to unit ioc.
func gaugeRules(t *testing.T) string {
	t.Helper()
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
    public: true
route: {units: [ioc], group_by: [subject]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return rules
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
	rules := gaugeRules(t)
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
	// The public warning of the first gauge, published by the dead leader, is cancelled by the
	// new one when the river falls: its feed reloaded what the other published at its takeover.
	publish(t, broker, map[string][][]byte{prefix + "/d/river_gauge/lc-hong-bat-xat": {
		fmt.Appendf(nil, `{"sensor":"lc-hong-bat-xat","ts":%d,"metric":"water_level","value":30,"unit":"m"}`, time.Now().UnixMilli())}})
	stored("SELECT count() FROM cap_messages WHERE msg_type = 'Alert'", 4)
	stored("SELECT count() FROM cap_messages WHERE msg_type = 'Cancel' AND position(xml, 'references') > 0", 1)
}

// A deployment split by roles: process A takes the readings in and leads the alert engine;
// process B is a dashboard only. B's live hub shows A's readings and alerts (through the live
// relay), B answers the alert API by sending it on to A (where the lease says the engine
// leads), and an acknowledgement made through B reaches both hubs. An NGSI-LD subscription
// made through B is delivered by A alone: each level once.
func TestDashboardsSeeEveryProcess(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	prefix := "split-" + randomID()
	token := "ioc_test_" + randomID()
	httpExtra := fmt.Sprintf(`, live: {relay: %q, relay_flush: 50ms}, auth: {api_keys: [{id: op, name: "Trực ban", role: operator, hash: %q}]}`,
		"ioc-live-"+prefix, auth.HashToken(token))
	rules := gaugeRules(t)
	hook := httptest.NewServer(&hookLog{keys: map[string]int{}})
	t.Cleanup(hook.Close)
	var notifiedMu sync.Mutex
	notified := map[float64]int{} // the level of each notification
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Data []struct{ Height float64 } }
		if err := json.NewDecoder(r.Body).Decode(&n); err == nil {
			notifiedMu.Lock()
			for _, e := range n.Data {
				notified[e.Height]++
			}
			notifiedMu.Unlock()
		}
	}))
	t.Cleanup(endpoint.Close)
	var procs [2]*iocProcess
	for i, roles := range []string{"ingest, alerts, dashboard", "dashboard"} {
		clientID := fmt.Sprintf("ioc-%s-%d", prefix, i)
		t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
		path := splitConfig(t, roles, ch, broker, cl.ZooKeeper, prefix, clientID, hook.URL, rules, httpExtra)
		cfg, _ := os.ReadFile(path)
		if err := os.WriteFile(path, fmt.Appendf(cfg, "ngsild: {notify_to: [%q]}\n", endpoint.URL), 0o600); err != nil {
			t.Fatal(err)
		}
		procs[i] = startIOC(t, path)
	}
	a, b := procs[0], procs[1]
	testenv.WaitFor(t, "A to lead the alert engine", 20*time.Second, func() bool { return a.metric(t, "ioc_alerts_leader") == 1 })
	testenv.WaitFor(t, "B's relay to connect", 20*time.Second, func() bool { return b.metric(t, "ioc_live_relay_connected") == 1 })

	live := dialHub(t, b.listen, token, "sensors", "alerts")
	published := time.Now()
	publish(t, broker, map[string][][]byte{prefix + "/d/river_gauge/lc-hong-bat-xat": {
		fmt.Appendf(nil, `{"sensor":"lc-hong-bat-xat","ts":%d,"metric":"water_level","value":86,"unit":"m"}`, time.Now().UnixMilli())}})
	live.await("A's reading in B's hub", func(it hubItem) bool {
		return it.Key == "r/lc-hong-bat-xat/water_level" && strings.Contains(string(it.Data), `"value":86`)
	})
	t.Logf("A's reading in B's hub %s after it was published", time.Since(published).Round(time.Millisecond))
	var fired struct {
		Alert struct{ ID, State string } `json:"alert"`
	}
	live.await("A's alert in B's hub", func(it hubItem) bool {
		return it.Kind == "alert" && json.Unmarshal(it.Data, &fired) == nil && fired.Alert.State == "firing"
	})
	t.Logf("A's alert in B's hub %s after the reading was published", time.Since(published).Round(time.Millisecond))

	// B sends the alert API on to A: the live list, then an acknowledgement.
	var page struct {
		Items []struct{ ID, State string } `json:"items"`
	}
	if code := apiCall(t, "GET", b.listen, "/api/v1/alerts", token, nil, &page); code != 200 || len(page.Items) != 1 || page.Items[0].ID != fired.Alert.ID {
		t.Fatalf("B's GET /alerts: %d %+v, want A's alert %s", code, page, fired.Alert.ID)
	}
	var acked struct{ ID, State string }
	if code := apiCall(t, "POST", b.listen, "/api/v1/alerts/"+fired.Alert.ID+"/acknowledge", token, map[string]string{"note": "đã nhận"}, &acked); code != 200 || acked.State != "acknowledged" {
		t.Fatalf("B's acknowledge: %d %+v", code, acked)
	}
	live.await("the acknowledgement in B's hub", func(it hubItem) bool {
		return it.Kind == "alert" && strings.Contains(string(it.Data), `"state":"acknowledged"`)
	})
	if n := b.metric(t, "ioc_api_forwarded_total"); n != 2 {
		t.Errorf("B forwarded %g requests, want 2", n)
	}
	if n := a.metric(t, "ioc_api_forwarded_total"); n != 0 {
		t.Errorf("A, the leader, forwarded %g requests, want 0", n)
	}
	// The history is ClickHouse's: B answers it itself.
	var history struct {
		Items []struct{ ID string } `json:"items"`
	}
	testenv.WaitFor(t, "the alert in B's history", 20*time.Second, func() bool {
		return apiCall(t, "GET", b.listen, "/api/v1/alerts/history", token, nil, &history) == 200 && len(history.Items) == 1
	})

	// A subscription made through B: A, which leads, delivers it; B does not.
	sub := map[string]any{"type": "Subscription", "entities": []map[string]string{{"type": "WaterObserved", "id": "urn:ngsi-ld:WaterObserved:lc-hong-bat-xat"}},
		"watchedAttributes": []string{"height"}, "notification": map[string]any{"format": "keyValues", "endpoint": map[string]string{"uri": endpoint.URL + "/n"}}}
	if code := apiCall(t, "POST", b.listen, "/ngsi-ld/v1/subscriptions", token, sub, nil); code != 201 {
		t.Fatalf("subscribe through B: %d", code)
	}
	count := func(level float64) int { notifiedMu.Lock(); defer notifiedMu.Unlock(); return notified[level] }
	testenv.WaitFor(t, "the first notification (86)", 30*time.Second, func() bool { return count(86) > 0 })
	publish(t, broker, map[string][][]byte{prefix + "/d/river_gauge/lc-hong-bat-xat": {
		fmt.Appendf(nil, `{"sensor":"lc-hong-bat-xat","ts":%d,"metric":"water_level","value":87,"unit":"m"}`, time.Now().UnixMilli())}})
	testenv.WaitFor(t, "87 notified", 30*time.Second, func() bool { return count(87) > 0 })
	time.Sleep(2 * time.Second) // ten of the notifier's ticks, and more, for a second delivery to show
	if count(86) != 1 || count(87) != 1 {
		t.Errorf("levels notified %v, want 86 and 87 once each", notified)
	}
	if ta, tb := a.metric(t, `ioc_ngsild_targets{kind="subscription"}`), b.metric(t, `ioc_ngsild_targets{kind="subscription"}`); ta != 1 || tb != 0 {
		t.Errorf("subscriptions delivered by A %g, by B %g: want 1 and 0", ta, tb)
	}
}

// hubItem is one item of a live hub frame.
type hubItem struct {
	Kind string          `json:"kind"`
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data"`
}

// hubClient is a WebSocket client of a process's live hub.
type hubClient struct {
	t    *testing.T
	conn *websocket.Conn
	seen []hubItem // every item received so far
}

// dialHub connects to the live hub at addr with token and subscribes to topics.
func dialHub(t *testing.T, addr, token string, topics ...string) *hubClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, m := range []any{map[string]any{"type": "auth", "token": token}, map[string]any{"type": "subscribe", "topics": topics}} {
		if err := conn.WriteJSON(m); err != nil {
			t.Fatal(err)
		}
	}
	return &hubClient{t: t, conn: conn}
}

// await returns once an item received satisfies ok, reading frames for up to 20 s.
func (h *hubClient) await(what string, ok func(hubItem) bool) {
	h.t.Helper()
	if slices.ContainsFunc(h.seen, ok) {
		return
	}
	_ = h.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var f struct {
			Type   string    `json:"type"`
			Detail string    `json:"detail"`
			Items  []hubItem `json:"items"`
		}
		if err := h.conn.ReadJSON(&f); err != nil {
			h.t.Fatalf("waiting for %s: %v", what, err)
		}
		if f.Type == "error" {
			h.t.Fatalf("waiting for %s: the hub refused: %s", what, f.Detail)
		}
		h.seen = append(h.seen, f.Items...)
		if slices.ContainsFunc(f.Items, ok) {
			return
		}
	}
}

// apiCall calls the API at addr with token, decoding the answer into out; it returns the status.
func apiCall(t *testing.T, method, addr, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	} else if resp.StatusCode != 200 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// Two processes with the streams and alerts roles and the lease: only the leader watches the
// cameras (one watcher a camera; its statuses reach the engine that judges them); when the
// leader dies, the new leader starts watching them.
func TestCamerasFollowTheAlertLeader(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	base := testenv.FreePortBlock(t, 2)
	fleet, err := camsim.StartFleet(camsim.FleetConfig{Count: 2, Host: "127.0.0.1", BasePort: base, IDPrefix: "lead-cam",
		Camera: camsim.Config{Width: 320, Height: 180, FPS: 10}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Close()
	catalog := filepath.Join(t.TempDir(), "cameras.yaml")
	if err := os.WriteFile(catalog, fleet.CatalogYAML("metadata"), 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := "cams-" + randomID()
	hook := httptest.NewServer(&hookLog{keys: map[string]int{}})
	t.Cleanup(hook.Close)
	var procs [2]*iocProcess
	for i := range procs {
		clientID := fmt.Sprintf("ioc-%s-%d", prefix, i)
		t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
		path := splitConfig(t, "ingest, streams, alerts, dashboard", ch, broker, cl.ZooKeeper, prefix, clientID, hook.URL, gaugeRules(t), "")
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, err = fmt.Fprintf(f, "streams: {catalog: %q, start_spread: 0s, window: 500ms}\n", catalog)
			f.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = startIOC(t, path)
		if i == 0 {
			testenv.WaitFor(t, "the first process to lead", 20*time.Second, func() bool { return procs[0].metric(t, "ioc_alerts_leader") == 1 })
		}
	}
	online := `ioc_cameras{state="online"}`
	testenv.WaitFor(t, "the leader to watch both cameras", 20*time.Second, func() bool { return procs[0].metric(t, online) == 2 })
	if n := procs[1].metric(t, online); n != 0 {
		t.Fatalf("the standby watches %g cameras, want none", n)
	}
	procs[0].signal(syscall.SIGKILL)
	procs[0].wait(t)
	killed := time.Now()
	testenv.WaitFor(t, "the new leader to watch both cameras", 30*time.Second, func() bool { return procs[1].metric(t, online) == 2 })
	t.Logf("the new leader watches the cameras %s after the kill", time.Since(killed).Round(time.Millisecond))
}
