package main

import (
	"encoding/json"
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

	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// A partner's NGSI-LD subscription survives `kill -9`: the river's level published while ioc
// is down reaches the partner's endpoint once ioc is back, from the subscription kept in
// ClickHouse and the delivery log's account of what was delivered.
func TestSubscriptionSurvivesKillNine(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	broker := testenv.Broker(t)
	prefix := "share-" + randomID()
	t.Cleanup(func() { testenv.ForgetSession(t, broker, prefix) })

	var mu sync.Mutex
	var heights []float64
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Data []map[string]any }
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("not a notification: %s", body)
		}
		mu.Lock()
		for _, e := range n.Data {
			if h, ok := e["height"].(float64); ok {
				heights = append(heights, h)
			}
		}
		mu.Unlock()
	}))
	defer endpoint.Close()
	notified := func(h float64) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, got := range heights {
			if got == h {
				return true
			}
		}
		return false
	}

	token := auth.NewToken()
	listen := freeAddr(t)
	body := fmt.Sprintf(`roles: [ingest, dashboard]
log: {level: warn, format: text}
clickhouse: {addr: %q, database: %s, dial_timeout: 1s, query_timeout: 5s}
mqtt: {broker: %q, client_id: %s, keepalive: 2s, connect_timeout: 2s, max_reconnect_interval: 1s}
ingest:
  topics: [{pattern: "%s/+/+/+", format: json, qos: 1}]
  catalog: %q
writer: {flush_interval: 100ms, max_retry_interval: 500ms, shutdown_timeout: 2s, spool: {dir: %q, after: 1s}}
ngsild: {notify_to: [%q]}
http: {listen: %q, auth: {api_keys: [{id: kttv, name: Đài KTTV, role: partner, types: [WaterObserved], hash: %q}]}}
`, ch.Addr, ch.Database, broker, prefix, prefix, laoCaiCatalog(t), t.TempDir(), endpoint.URL, listen, auth.HashToken(token))
	configPath := filepath.Join(t.TempDir(), "ioc.yaml")
	if err := os.WriteFile(configPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	level := func(v float64) {
		publish(t, broker, map[string][][]byte{prefix + "/lao-cai/river_gauge/lc-hong-laocai": {[]byte(fmt.Sprintf(
			`{"sensor": "lc-hong-laocai", "ts": %q, "metric": "water_level", "value": %g, "unit": "m"}`, time.Now().UTC().Format(time.RFC3339Nano), v))}})
	}
	api := func(method, path, body string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), method, "http://"+listen+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	first := startIOC(t, configPath)
	if code, body := api("POST", "/ngsi-ld/v1/subscriptions", fmt.Sprintf(`{"id": "urn:ngsi-ld:Subscription:laocai", "type": "Subscription",
		"entities": [{"type": "WaterObserved", "id": "urn:ngsi-ld:WaterObserved:lc-hong-laocai"}], "watchedAttributes": ["height"],
		"notification": {"format": "keyValues", "endpoint": {"uri": %q}}}`, endpoint.URL+"/kttv")); code != 201 {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	level(80.5)
	testenv.WaitFor(t, "80.5 notified", 30*time.Second, func() bool { return notified(80.5) })
	conn := testenv.Conn(t, ch)
	testenv.WaitFor(t, "the delivery in the log", 30*time.Second, func() bool {
		var n uint64
		_ = conn.QueryRow(t.Context(), "SELECT count() FROM ngsild_notifications WHERE target = 'urn:ngsi-ld:Subscription:laocai' AND status = 'ok' AND through > 0").Scan(&n)
		return n > 0
	})

	first.signal(syscall.SIGKILL)
	first.wait(t)
	level(81.2) // kept by the broker for ioc's session
	startIOC(t, configPath)
	testenv.WaitFor(t, "81.2, published while ioc was down, notified after its restart", 60*time.Second, func() bool { return notified(81.2) })
	if code, body := api("GET", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:laocai", ""); code != 200 || !strings.Contains(body, `"timesSent":`) {
		t.Errorf("the subscription after the restart: %d %s", code, body)
	}
}
