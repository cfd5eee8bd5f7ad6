package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/piprate/json-gold/ld"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// receiver is a partner's endpoint: it keeps every request, answering each with the next of
// its planned statuses (then 200, or 204 for an upsert).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	plan []int
}

type received struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: b})
		status := http.StatusOK
		if len(r.plan) > 0 {
			status, r.plan = r.plan[0], r.plan[1:]
		}
		r.mu.Unlock()
		if status == http.StatusMultiStatus {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"success": [], "errors": [{"entityId": "urn:x", "error": {"type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData", "title": "Bad request data", "detail": "x"}}]}`))
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// answer plans the statuses of the next requests.
func (r *receiver) answer(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan = append(r.plan, statuses...)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// notifications are the requests received after the first from, decoded.
func (r *receiver) notifications(t *testing.T, from int) []ngsild.Notification {
	t.Helper()
	var out []ngsild.Notification
	for _, req := range r.requests()[from:] {
		var n ngsild.Notification
		if err := json.Unmarshal(req.body, &n); err != nil {
			t.Fatalf("not a notification: %v\n%s", err, req.body)
		}
		out = append(out, n)
	}
	return out
}

// sharingFixture is the API with subscriptions kept in ClickHouse, notifying only to the
// receivers' host, delivered by a notifier that runs until the test ends (or stop).
func sharingFixture(t *testing.T, cfg config.NGSILD, getenv func(string) string) (*fixture, *analytics.NGSILDStore, func()) {
	t.Helper()
	store := &analytics.NGSILDStore{Timeout: 10 * time.Second}
	f := newFixture(t, 0, func(o *Options) {
		o.Sharing = &Sharing{Store: store, Config: cfg, ContextURL: "http://ioc.test" + ngsild.ContextPath, Getenv: getenv,
			Tick: 100 * time.Millisecond, RetryAfter: 100 * time.Millisecond}
	})
	store.Conn = testenv.Conn(t, f.chCfg) // the fixture's database, known once it is made
	return f, store, runSharing(t, f)
}

// runSharing runs the fixture's notifier until the test ends or the returned stop.
func runSharing(t *testing.T, f *fixture) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.RunSharing(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func sharingConfig(endpoints ...string) config.NGSILD {
	cfg := config.Default().NGSILD
	cfg.NotifyTo = endpoints
	return cfg
}

// TestNGSILDSubscriptions: a partner subscribes to river levels over a threshold in its
// district; the endpoint receives the matching entities at once and each change of the
// watched attribute, at least once through the endpoint's failures, the delivery log and the
// subscription's status tell how it went, the subscription survives a restart of the
// notifier (a change made while it was down is delivered), it pauses, and once deleted
// notifies nothing more. Bad subscriptions are ProblemDetails.
func TestNGSILDSubscriptions(t *testing.T) {
	rcv := newReceiver(t)
	f, store, stop := sharingFixture(t, sharingConfig(rcv.URL+"/notify"), nil)
	f.observe(t, "lc-hong-bat-xat", "water_level", 84.9) // in the partner's district, over 80
	batxat := ngsild.ID(ngsild.TypeWaterObserved, "lc-hong-bat-xat")
	sub := fmt.Sprintf(`{"id": "urn:ngsi-ld:Subscription:batxat-high", "type": "Subscription", "subscriptionName": "Sông Hồng tại Bát Xát",
		"entities": [{"type": "WaterObserved"}], "watchedAttributes": ["height"], "q": "height>80",
		"notification": {"attributes": ["height"], "format": "keyValues",
			"endpoint": {"uri": %q, "accept": "application/json", "receiverInfo": [{"key": "X-Partner-Token", "value": "s3cret-of-the-partner"}]}},
		"@context": "http://ioc.test/ngsi-ld/v1/contexts/ioc.jsonld"}`, rcv.URL+"/notify")

	for _, c := range []struct {
		name, key, body string
		status          int
		problem         string
	}{
		{"endpoint not allowed", "partner", strings.Replace(sub, rcv.URL, "http://10.0.0.7:8080", 1), 400, ngsild.ErrBadRequestData},
		{"credentials in the endpoint", "partner", strings.Replace(sub, "http://", "http://u:p@", 1), 400, ngsild.ErrBadRequestData},
		{"bad q", "partner", strings.Replace(sub, `height>80`, `height>>80`, 1), 400, ngsild.ErrBadRequestData},
		{"unknown type", "partner", strings.Replace(sub, `"type": "WaterObserved"`, `"type": "Vehicle"`, 1), 400, ngsild.ErrBadRequestData},
		{"unknown member", "partner", strings.Replace(sub, `"q":`, `"qq": "x", "q":`, 1), 400, ngsild.ErrBadRequestData},
		{"interval with watched attributes", "partner", strings.Replace(sub, `"q":`, `"timeInterval": 60, "q":`, 1), 400, ngsild.ErrBadRequestData},
		{"expired", "partner", strings.Replace(sub, `"q":`, `"expiresAt": "2020-01-01T00:00:00Z", "q":`, 1), 400, ngsild.ErrBadRequestData},
		{"reserved header", "partner", strings.Replace(sub, `X-Partner-Token`, `Content-Type`, 1), 400, ngsild.ErrBadRequestData},
		{"type outside the key's scope", "partner", strings.Replace(sub, `"type": "WaterObserved"`, `"type": "Camera"`, 1), 403, "about:blank"},
		{"no share permission", "viewer", sub, 403, "about:blank"},
	} {
		code, body := f.call(t, c.key, "POST", NGSILDPrefix+"/subscriptions", c.body)
		var p ngsild.Problem
		if code != c.status || json.Unmarshal(body, &p) != nil || p.Type != c.problem {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	code, body := f.call(t, "partner", "POST", NGSILDPrefix+"/subscriptions", sub)
	if code != 201 {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	if code, body := f.call(t, "partner", "POST", NGSILDPrefix+"/subscriptions", sub); code != 409 || !strings.Contains(string(body), ngsild.ErrAlreadyExists) {
		t.Errorf("the same id again: %d %s", code, body)
	}

	// The first notification: what matches now (the partner's district only), as keyValues,
	// with the receiver's header and the @context in the Link header.
	testenv.WaitFor(t, "the first notification", 15*time.Second, func() bool { return len(rcv.requests()) >= 1 })
	first := rcv.requests()[0]
	n := rcv.notifications(t, 0)[0]
	if first.path != "/notify" || first.header.Get("X-Partner-Token") != "s3cret-of-the-partner" || first.header.Get("Content-Type") != "application/json" ||
		!strings.Contains(first.header.Get("Link"), "http://ioc.test"+ngsild.ContextPath) || n.Type != "Notification" ||
		n.SubscriptionID != "urn:ngsi-ld:Subscription:batxat-high" || !strings.HasPrefix(n.ID, "urn:ngsi-ld:Notification:") ||
		len(n.Data) != 1 || n.Data[0]["id"] != batxat || n.Data[0]["height"] != 84.9 || n.Data[0]["location"] != nil {
		t.Fatalf("first notification: %+v\n%s", first.header, first.body)
	}

	// A change of the watched attribute; the endpoint fails twice (503) and then takes it.
	rcv.answer(503, 503)
	f.observe(t, "lc-hong-bat-xat", "water_level", 85.3)
	testenv.WaitFor(t, "the change through two failures", 15*time.Second, func() bool { return len(rcv.requests()) >= 4 })
	ns := rcv.notifications(t, 1)
	if len(ns) != 3 || ns[0].ID != ns[2].ID || ns[2].Data[0]["height"] != 85.3 {
		t.Fatalf("the change, retried: %+v", ns)
	}
	var log []analytics.DeliveryRow
	testenv.WaitFor(t, "the delivery log", 15*time.Second, func() bool {
		log, _ = store.Deliveries(t.Context(), "urn:ngsi-ld:Subscription:batxat-high", 10)
		return len(log) >= 4
	})
	if l := log[0]; l.Status != "ok" || l.Attempt != 3 || l.Code != 200 || l.Notification != ns[0].ID || log[1].Status != "retry" || log[1].Code != 503 ||
		!strings.Contains(log[1].Error, "503") || l.Through.IsZero() {
		t.Errorf("delivery log: %+v", log)
	}

	// The subscription read back: its status, the log's account, never the partner's token.
	var got ngsild.Subscription
	testenv.WaitFor(t, "timesSent", 10*time.Second, func() bool {
		code, body = f.call(t, "partner", "GET", NGSILDPrefix+"/subscriptions/"+url.PathEscape("urn:ngsi-ld:Subscription:batxat-high"), "")
		return code == 200 && json.Unmarshal(body, &got) == nil && got.Notification.TimesSent == 2
	})
	if got.Status != "active" || got.Notification.Status != "ok" || got.Notification.LastSuccess == "" || got.Notification.LastFailure == "" ||
		strings.Contains(string(body), "s3cret") || got.Notification.Endpoint.ReceiverInfo[0].Key != "X-Partner-Token" || got.Q != "height>80" {
		t.Errorf("subscription: %s", body)
	}
	if code, body := f.call(t, "partner", "GET", NGSILDPrefix+"/subscriptions", ""); code != 200 || !strings.Contains(string(body), "batxat-high") {
		t.Errorf("partner's list: %d %s", code, body)
	}
	if code, body := f.call(t, "analyst", "GET", NGSILDPrefix+"/subscriptions", ""); code != 200 || string(body) != "[]" {
		t.Errorf("another caller's list: %d %s", code, body)
	}
	if code, _ := f.call(t, "analyst", "DELETE", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", ""); code != 404 {
		t.Errorf("another caller deletes: %d", code)
	}
	if code, body := f.call(t, "admin", "GET", NGSILDPrefix+"/subscriptions", ""); code != 200 || !strings.Contains(string(body), "batxat-high") {
		t.Errorf("the administrator's list: %d %s", code, body)
	}

	// A restart: the notifier stops, the river rises meanwhile, a new one takes the
	// subscription up from ClickHouse and the delivery log and sends the change.
	stop()
	before := len(rcv.requests())
	f.observe(t, "lc-hong-bat-xat", "water_level", 86.1)
	runSharing(t, f)
	testenv.WaitFor(t, "the change made while the notifier was down", 15*time.Second, func() bool {
		return slices.ContainsFunc(rcv.notifications(t, before), func(n ngsild.Notification) bool { return n.Data[0]["height"] == 86.1 })
	})

	// The notification parameters sent back as read (the token as ***) keep the token.
	_, body = f.call(t, "partner", "GET", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", "")
	var readBack struct{ Notification json.RawMessage }
	if err := json.Unmarshal(body, &readBack); err != nil || !strings.Contains(string(readBack.Notification), `"***"`) {
		t.Fatalf("read back: %v %s", err, body)
	}
	if code, body := f.call(t, "partner", "PATCH", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high",
		`{"throttling": 1, "notification": `+string(readBack.Notification)+`}`); code != 204 {
		t.Fatalf("patch with the notification as read: %d %s", code, body)
	}
	if code, body := f.call(t, "partner", "PATCH", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high",
		`{"entities": [{"type": "Camera"}]}`); code != 403 {
		t.Errorf("patch to a type outside the key's scope: %d %s", code, body)
	}
	before = len(rcv.requests())
	f.observe(t, "lc-hong-bat-xat", "water_level", 86.4)
	testenv.WaitFor(t, "86.4 notified after the update", 15*time.Second, func() bool {
		for _, r := range rcv.requests()[before:] {
			if strings.Contains(string(r.body), "86.4") {
				if tok := r.header.Get("X-Partner-Token"); tok != "s3cret-of-the-partner" {
					t.Fatalf("the token after an update with the parameters as read: %q", tok)
				}
				return true
			}
		}
		return false
	})

	// The audit log has the subscription, its update's members, never the partner's token.
	testenv.WaitFor(t, "the subscription's changes in the audit log", 15*time.Second, func() bool {
		_, b := f.call(t, "admin", "GET", APIPrefix+"/audit?actor=key:partner", "")
		return strings.Contains(string(b), `"action":"ngsild.subscribe"`) && strings.Contains(string(b), `"detail":"notification,throttling"`)
	})
	if _, b := f.call(t, "admin", "GET", APIPrefix+"/audit?actor=key:partner&limit=500", ""); strings.Contains(string(b), "s3cret") {
		t.Errorf("the partner's token in the audit log: %s", b)
	}

	// Paused, then deleted: gone, and nothing notified.
	if code, body := f.call(t, "partner", "PATCH", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", `{"isActive": false}`); code != 204 {
		t.Fatalf("pause: %d %s", code, body)
	}
	testenv.WaitFor(t, "paused", 10*time.Second, func() bool {
		_, body = f.call(t, "partner", "GET", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", "")
		return json.Unmarshal(body, &got) == nil && got.Status == "paused"
	})
	if code, body := f.call(t, "partner", "PATCH", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", `{"id": "urn:x"}`); code != 400 {
		t.Errorf("patch the id: %d %s", code, body)
	}
	if code, _ := f.call(t, "partner", "DELETE", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := f.call(t, "partner", "GET", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:batxat-high", ""); code != 404 {
		t.Errorf("deleted, read: %d", code)
	}
	time.Sleep(500 * time.Millisecond) // the notifier reads the subscriptions again
	after := len(rcv.requests())
	f.observe(t, "lc-hong-bat-xat", "water_level", 86.9)
	time.Sleep(time.Second) // ten ticks of the notifier
	if got := rcv.requests(); len(got) != after {
		t.Errorf("notified after the subscription was deleted: %s", got[len(got)-1].body)
	}
}

// TestNGSILDSubscriptionRefused: an endpoint that refuses a notification (4xx) is not asked
// again with it; the subscription's status says failed. The JSON-LD notification and the
// subscription read as JSON-LD expand with the served @context, every term resolving. A
// caller holds ngsild.max_subscriptions at most.
func TestNGSILDSubscriptionRefused(t *testing.T) {
	rcv := newReceiver(t)
	rcv.answer(400)
	cfg := sharingConfig(rcv.URL)
	cfg.MaxSubscriptions = 1
	f, store, _ := sharingFixture(t, cfg, nil)
	sub := fmt.Sprintf(`{"type": "Subscription", "entities": [{"type": "Alert"}],
		"notification": {"endpoint": {"uri": %q, "accept": "application/ld+json"}}}`, rcv.URL+"/alerts")
	code, _ := f.call(t, "operator", "POST", NGSILDPrefix+"/subscriptions", sub)
	if code != 201 {
		t.Fatalf("subscribe: %d", code)
	}
	if code, body := f.call(t, "operator", "POST", NGSILDPrefix+"/subscriptions", sub); code != 403 || !strings.Contains(string(body), "max_subscriptions") {
		t.Errorf("a second subscription over the limit: %d %s", code, body)
	}
	quiet := strings.Replace(sub, `[{"type": "Alert"}],`, `[{"type": "Alert"}], "q": "severity==\"none\"",`, 1) // notifies nothing
	if code, _ := f.call(t, "analyst", "POST", NGSILDPrefix+"/subscriptions", quiet); code != 201 {
		t.Errorf("another caller's first subscription: %d", code)
	}
	testenv.WaitFor(t, "the refused notification", 15*time.Second, func() bool { return len(rcv.requests()) >= 1 })
	req := rcv.requests()[0]
	var n map[string]any
	if json.Unmarshal(req.body, &n) != nil || req.header.Get("Content-Type") != "application/ld+json" || n["@context"] != "http://ioc.test"+ngsild.ContextPath {
		t.Errorf("ld+json notification: %v %s", req.header, req.body)
	}
	var subs []ngsild.Subscription
	testenv.WaitFor(t, "failed", 10*time.Second, func() bool {
		_, body := f.call(t, "operator", "GET", NGSILDPrefix+"/subscriptions", "")
		return json.Unmarshal(body, &subs) == nil && len(subs) == 1 && subs[0].Notification.Status == "failed"
	})
	log, err := store.Deliveries(t.Context(), subs[0].ID, 10)
	if err != nil || len(log) != 1 || log[0].Status != "failed" || log[0].Code != 400 || len(rcv.requests()) != 1 {
		t.Errorf("a refused notification is not retried: %v %+v", err, log)
	}

	// The health page's account: the failing subscription, whose, where to, why.
	var targets []SharingTarget
	if code, body := f.call(t, "admin", "GET", APIPrefix+"/sharing", ""); code != 200 || json.Unmarshal(body, &targets) != nil || len(targets) != 2 {
		t.Fatalf("sharing: %d %s", code, body)
	}
	i := slices.IndexFunc(targets, func(x SharingTarget) bool { return x.ID == subs[0].ID })
	if i < 0 || !targets[i].Failing || targets[i].Sent != 1 || targets[i].OwnerName != "Trực ban IOC" || targets[i].Endpoint != rcv.URL+"/alerts" ||
		!strings.Contains(targets[i].LastError, "400") || targets[i].Status != "active" {
		t.Errorf("sharing: %+v", targets)
	}
	for _, key := range []string{"partner", "viewer"} {
		if code, _ := f.call(t, key, "GET", APIPrefix+"/sharing", ""); code != 403 {
			t.Errorf("%s reads the sharing account: %d", key, code)
		}
	}

	get := httptest.NewRequest("GET", NGSILDPrefix+"/subscriptions/"+url.PathEscape(subs[0].ID), nil)
	get.Header.Set("Authorization", "Bearer "+f.tokens["operator"])
	get.Header.Set("Accept", "application/ld+json")
	resp, err := f.srv.App().Test(get, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	subDoc, _ := io.ReadAll(resp.Body)
	opts := ld.NewJsonLdOptions("")
	opts.SafeMode = true // an undefined term is an error, not a member dropped
	opts.DocumentLoader = servedContext{}
	for what, body := range map[string][]byte{"notification": rcv.requests()[0].body, "subscription": subDoc} {
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		expanded, err := ld.NewJsonLdProcessor().Expand(doc, opts)
		out, _ := json.Marshal(expanded)
		if err != nil || !strings.Contains(string(out), "https://uri.etsi.org/ngsi-ld/") {
			t.Errorf("%s as JSON-LD: %v %s", what, err, out)
		}
	}
}

// servedContext loads the @context as the server serves it (at any host).
type servedContext struct{}

func (servedContext) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if !strings.HasSuffix(u, ngsild.ContextPath) {
		return nil, fmt.Errorf("no document at %s", u)
	}
	var doc any
	if err := json.Unmarshal(ngsild.Context, &doc); err != nil {
		return nil, err
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}

// TestNGSILDPush: the entities upserted to another broker in batches, with its token and
// tenant, each carrying the @context inline; retried while the broker is down, a change
// pushed as it happens, a partial refusal logged.
func TestNGSILDPush(t *testing.T) {
	broker := newReceiver(t)
	broker.answer(503)
	cfg := sharingConfig()
	cfg.Push = []config.NGSILDPush{{Name: "lgsp", URL: broker.URL + "/", Types: []string{"WaterObserved"}, Batch: 2, TokenEnv: "LGSP_TOKEN", Tenant: "laocai"}}
	f, store, _ := sharingFixture(t, cfg, func(k string) string { return map[string]string{"LGSP_TOKEN": "lgsp-token"}[k] })
	want := entityIDs(t, func() []byte {
		_, body := f.call(t, "analyst", "GET", NGSILDPrefix+"/entities?type=WaterObserved&limit=100", "")
		return body
	}())
	pushed := func(from int) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range broker.requests()[from:] {
			var batch []map[string]any
			if r.path != "/ngsi-ld/v1/entityOperations/upsert" || r.header.Get("Authorization") != "Bearer lgsp-token" ||
				r.header.Get("NGSILD-Tenant") != "laocai" || r.header.Get("Content-Type") != "application/ld+json" ||
				json.Unmarshal(r.body, &batch) != nil || len(batch) > 2 {
				t.Fatalf("upsert: %s %v %s", r.path, r.header, r.body)
			}
			for _, e := range batch {
				if ctx, _ := e["@context"].(map[string]any); ctx["WaterObserved"] == nil {
					t.Fatalf("the @context inline: %v", e["@context"])
				}
				out[e["id"].(string)] = e
			}
		}
		return out
	}
	testenv.WaitFor(t, "every WaterObserved pushed", 20*time.Second, func() bool { return len(pushed(0)) == len(want) })
	if len(want) < 5 || broker.requests()[0].body == nil {
		t.Fatalf("want the province's river gauges: %v", want)
	}
	before := len(broker.requests())
	broker.answer(207) // the broker refuses some of the next batch: logged, not retried
	f.observe(t, "lc-hong-bat-xat", "water_level", 83.1)
	testenv.WaitFor(t, "a partly refused push", 15*time.Second, func() bool { return len(broker.requests()) > before })
	before = len(broker.requests())
	f.observe(t, "lc-hong-laocai", "water_level", 83.7)
	testenv.WaitFor(t, "the change pushed", 15*time.Second, func() bool {
		e := pushed(before)[ngsild.ID(ngsild.TypeWaterObserved, "lc-hong-laocai")]
		h, _ := e["height"].(map[string]any)
		return h["value"] == 83.7
	})
	var log []analytics.DeliveryRow
	testenv.WaitFor(t, "the push's log", 15*time.Second, func() bool {
		log, _ = store.Deliveries(t.Context(), "push:lgsp", 100)
		return len(log) >= len(broker.requests())
	})
	var retried, refused bool
	for _, l := range log {
		retried = retried || (l.Status == "retry" && l.Code == 503)
		refused = refused || (l.Status == "failed" && l.Code == 207 && strings.Contains(l.Error, "1 entities refused, urn:x"))
	}
	if !retried || !refused {
		t.Errorf("push log: %+v", log)
	}
}

// notify_to's prefixes: the same scheme and host (not a host that merely begins alike), the
// port when the prefix names one, the path under the prefix's (not climbing out by dot
// segments).
func TestEndpointAllowed(t *testing.T) {
	allowed := endpointAllowed([]string{"http://127.0.0.1:", "https://lgsp.laocai.gov.vn/ngsi/", "http://partner.vn:8080"})
	for raw, want := range map[string]bool{
		"http://127.0.0.1:9000/notify":              true,
		"http://127.0.0.1/notify":                   true,
		"https://127.0.0.1:9000/notify":             false,
		"https://lgsp.laocai.gov.vn/ngsi/notify":    true,
		"https://lgsp.laocai.gov.vn/admin":          false,
		"https://lgsp.laocai.gov.vn/ngsi/../admin":  false,
		"https://lgsp.laocai.gov.vn/ngsi/%2e%2e/x":  false,
		"https://lgsp.laocai.gov.vn/ngsi/a/":        true,
		"https://lgsp.laocai.gov.vn.evil.vn/ngsi/x": false,
		"https://LGSP.laocai.gov.vn/ngsi/x":         true,
		"http://partner.vn:8080/x":                  true,
		"http://partner.vn:9090/x":                  false,
		"http://10.0.0.1/":                          false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := allowed(u); got != want {
			t.Errorf("%s: allowed %v, want %v", raw, got, want)
		}
	}
}

// TestNGSILDSubscriptionExpires: a subscription notifies until its expiresAt, then reads back
// expired and notifies nothing more.
func TestNGSILDSubscriptionExpires(t *testing.T) {
	rcv := newReceiver(t)
	f, _, _ := sharingFixture(t, sharingConfig(rcv.URL), nil)
	expires := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	sub := fmt.Sprintf(`{"id": "urn:ngsi-ld:Subscription:short", "type": "Subscription", "expiresAt": %q,
		"entities": [{"type": "WaterObserved", "id": "urn:ngsi-ld:WaterObserved:lc-hong-laocai"}],
		"notification": {"endpoint": {"uri": %q}}}`, expires, rcv.URL+"/n")
	if code, body := f.call(t, "analyst", "POST", NGSILDPrefix+"/subscriptions", sub); code != 201 {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	testenv.WaitFor(t, "the first notification", 15*time.Second, func() bool { return len(rcv.requests()) > 0 })
	var got ngsild.Subscription
	testenv.WaitFor(t, "expired", 15*time.Second, func() bool {
		_, body := f.call(t, "analyst", "GET", NGSILDPrefix+"/subscriptions/urn:ngsi-ld:Subscription:short", "")
		return json.Unmarshal(body, &got) == nil && got.Status == "expired"
	})
	before := len(rcv.requests())
	f.observe(t, "lc-hong-laocai", "water_level", 83.0)
	time.Sleep(time.Second) // ten of the notifier's ticks
	if got := rcv.requests(); len(got) != before {
		t.Errorf("notified after its expiry: %s", got[len(got)-1].body)
	}
}

// TestNGSILDStoreDown: when the subscriptions' store does not answer, the API says so as a
// ProblemDetails InternalError (never the store's address).
func TestNGSILDStoreDown(t *testing.T) {
	rcv := newReceiver(t)
	f, store, _ := sharingFixture(t, sharingConfig(rcv.URL), nil)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{f.chCfg.Addr}, Auth: clickhouse.Auth{Database: f.chCfg.Database, Username: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	store.Conn = conn
	_ = conn.Close() // a store whose connections are gone
	sub := fmt.Sprintf(`{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": %q}}}`, rcv.URL)
	for _, c := range []struct{ method, path, body string }{
		{"POST", NGSILDPrefix + "/subscriptions", sub}, {"GET", NGSILDPrefix + "/subscriptions", ""},
		{"DELETE", NGSILDPrefix + "/subscriptions/urn:ngsi-ld:Subscription:x", ""},
	} {
		code, body := f.call(t, "operator", c.method, c.path, c.body)
		var p ngsild.Problem
		if code != 500 || json.Unmarshal(body, &p) != nil || p.Type != ngsild.ErrInternal || strings.Contains(string(body), f.chCfg.Addr) {
			t.Errorf("%s %s with the store down: %d %s", c.method, c.path, code, body)
		}
	}
}
