package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// conformanceCase is one request of testdata/ngsild-conformance.yaml and what its answer must
// be.
type conformanceCase struct {
	Name    string            `yaml:"name"`
	Clause  string            `yaml:"clause"`
	As      string            `yaml:"as"`
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	Observe *struct {
		Sensor string  `yaml:"sensor"`
		Metric string  `yaml:"metric"`
		Value  float64 `yaml:"value"`
	} `yaml:"observe"`
	Expect struct {
		Status      int               `yaml:"status"`
		Problem     string            `yaml:"problem"`
		ContentType string            `yaml:"content_type"`
		Headers     map[string]string `yaml:"headers"`
		IDs         []string          `yaml:"ids"`
		NotIDs      []string          `yaml:"not_ids"`
		Count       *int              `yaml:"count"`
		Values      map[string]any    `yaml:"values"`
		Notified    []string          `yaml:"notified"`
	} `yaml:"expect"`
}

// TestNGSILDConformance runs the conformance suite built from ETSI GS CIM 009's examples and
// error cases (testdata/ngsild-conformance.yaml) against a real server, in order: queries,
// errors, the temporal API, a subscription's life with its notification.
func TestNGSILDConformance(t *testing.T) {
	raw, err := os.ReadFile("testdata/ngsild-conformance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []conformanceCase
	if err := yaml.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	f, _, _ := sharingFixture(t, sharingConfig(rcv.URL), nil)
	conn := testenv.Conn(t, f.chCfg)
	sensors, _ := f.city.Catalogs()
	if err := analytics.SyncSensors(t.Context(), conn, sensors); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(t.Context(), "INSERT INTO readings (ts, sensor_id, metric, value, unit, quality, ingest_time, topic)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := errors2(batch.Append(now, "lc-hong-laocai", "water_level", 82.4, "m", "good", now, "t"), batch.Send()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + f.serve(t)
	fill := strings.NewReplacer("{{endpoint}}", rcv.URL+"/notify", "{{base}}", base, "{{day_ago}}", now.Add(-24*time.Hour).Format(time.RFC3339))
	for i, c := range cases {
		what := fmt.Sprintf("case %d, %q (%s)", i+1, c.Name, c.Clause)
		if c.Observe != nil {
			from := len(rcv.requests())
			f.observe(t, c.Observe.Sensor, c.Observe.Metric, c.Observe.Value)
			var last map[string]any
			testenv.WaitFor(t, what+": notified "+strings.Join(c.Expect.Notified, ", "), 15*time.Second, func() bool {
				var seen []string
				for _, r := range rcv.requests()[from:] {
					var n map[string]any
					_ = json.Unmarshal(r.body, &n)
					data, _ := n["data"].([]any)
					for _, d := range data {
						if id, _ := d.(map[string]any)["id"].(string); slices.Contains(c.Expect.Notified, id) {
							seen, last = append(seen, id), n
						}
					}
				}
				return len(seen) >= len(c.Expect.Notified)
			})
			if !checkValues(t, what, last, c.Expect.Values) {
				t.Logf("%s: the notification: %v", what, last)
			}
			continue
		}
		method := c.Method
		if method == "" {
			method = "GET"
		}
		key := c.As
		if key == "" {
			key = "analyst"
		}
		req, err := http.NewRequestWithContext(t.Context(), method, base+fill.Replace(c.Path), strings.NewReader(fill.Replace(c.Body)))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		req.Header.Set("Authorization", "Bearer "+f.tokens[key])
		if c.Body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range c.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e := c.Expect
		if resp.StatusCode != e.Status {
			t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, e.Status, body)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); e.ContentType != "" && ct != e.ContentType {
			t.Errorf("%s: Content-Type %q, want %q", what, ct, e.ContentType)
		}
		for k, want := range e.Headers {
			if got := resp.Header.Get(k); !strings.Contains(got, fill.Replace(want)) {
				t.Errorf("%s: %s %q, want it to hold %q", what, k, got, want)
			}
		}
		if e.Problem != "" {
			var p ngsild.Problem
			if json.Unmarshal(body, &p) != nil || p.Type != "https://uri.etsi.org/ngsi-ld/errors/"+e.Problem || p.Status != e.Status || p.Title == "" {
				t.Errorf("%s: want a %s ProblemDetails, got %s", what, e.Problem, body)
			}
			continue
		}
		var answer any
		if len(body) > 0 {
			if err := json.Unmarshal(body, &answer); err != nil {
				t.Errorf("%s: not JSON: %v: %s", what, err, body)
				continue
			}
		}
		if e.IDs != nil || e.NotIDs != nil || e.Count != nil {
			list, _ := answer.([]any)
			var ids []string
			for _, item := range list {
				id, _ := item.(map[string]any)["id"].(string)
				ids = append(ids, id)
			}
			for _, id := range e.IDs {
				if !slices.Contains(ids, id) {
					t.Errorf("%s: %s missing from %v", what, id, ids)
				}
			}
			for _, id := range e.NotIDs {
				if slices.Contains(ids, id) {
					t.Errorf("%s: %s answered, want it not", what, id)
				}
			}
			if e.Count != nil && len(list) != *e.Count {
				t.Errorf("%s: %d answered, want %d: %v", what, len(list), *e.Count, ids)
			}
		}
		vals := map[string]any{}
		for k, v := range e.Values {
			if s, ok := v.(string); ok {
				v = fill.Replace(s)
			}
			vals[k] = v
		}
		if !checkValues(t, what, answer, vals) {
			t.Logf("%s: the answer: %s", what, body)
		}
	}
}

// errors2 is the first error of two.
func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// checkValues checks each JSON pointer of want in doc: nil wants it absent, "*" present. It
// reports whether every one held.
func checkValues(t *testing.T, what string, doc any, want map[string]any) bool {
	t.Helper()
	held := true
	for ptr, v := range want {
		got, ok := pointer(doc, ptr)
		var wrong string
		switch {
		case v == nil && ok:
			wrong = fmt.Sprintf("%s is %v, want it absent", ptr, got)
		case v == nil, v == "*" && ok:
		case !ok:
			wrong = fmt.Sprintf("%s absent, want %v", ptr, v)
		case fmt.Sprint(got) != fmt.Sprint(v):
			wrong = fmt.Sprintf("%s is %v, want %v", ptr, got, v)
		}
		if wrong != "" {
			t.Errorf("%s: %s", what, wrong)
			held = false
		}
	}
	return held
}

// pointer resolves a JSON pointer (RFC 6901, without escapes) in doc.
func pointer(doc any, ptr string) (any, bool) {
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch node := doc.(type) {
		case map[string]any:
			v, ok := node[tok]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			doc = node[i]
		default:
			return nil, false
		}
	}
	return doc, true
}
