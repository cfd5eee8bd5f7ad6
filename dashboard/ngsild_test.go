package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

// ngsild asks the NGSI-LD API as key over a real listener, accepting accept; it answers the
// status, the headers and the body.
func ngsiGet(t *testing.T, base, token, path, accept string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func entityIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("not a list of entities: %v\n%s", err, body)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i], _ = e["id"].(string)
	}
	return out
}

// TestNGSILD: the river gauges, cameras, devices and alerts as NGSI-LD entities; the query
// language, geo-queries, paging, the partner's scope and every error as ProblemDetails.
func TestNGSILD(t *testing.T) {
	f := newFixture(t, 0)
	f.observe(t, "lc-hong-bat-xat", "water_level", 84.9) // over báo động II there
	base := "http://" + f.serve(t)
	analyst := f.tokens["analyst"]
	laocai := ngsild.ID(ngsild.TypeWaterObserved, "lc-hong-laocai")

	code, hdr, body := ngsiGet(t, base, analyst, "/ngsi-ld/v1/entities?type=WaterObserved&count=true&limit=100", "")
	ids := entityIDs(t, body)
	if code != 200 || hdr.Get("Content-Type") != "application/json" || !strings.Contains(hdr.Get("Link"), ngsild.ContextPath) ||
		hdr.Get("NGSILD-Results-Count") != fmt.Sprint(len(ids)) || len(ids) < 5 || !strings.Contains(string(body), laocai) {
		t.Fatalf("water observed: %d %v %s", code, hdr, body)
	}
	code, _, body = ngsiGet(t, base, analyst, "/ngsi-ld/v1/entities/"+url.PathEscape(laocai), "")
	var e struct {
		ID                          string
		Height, Location, RefDevice map[string]any
	}
	if code != 200 || json.Unmarshal(body, &e) != nil || e.ID != laocai || e.Height["value"] != 82.4 || e.Height["unitCode"] != "MTR" ||
		e.Height["observedAt"] == nil || e.Location["type"] != "GeoProperty" || e.RefDevice["object"] != ngsild.ID("Device", "lc-hong-laocai") {
		t.Fatalf("one entity: %d %s", code, body)
	}

	for _, c := range []struct {
		name, query string
		has, hasNot string
	}{
		{"q over a value", "type=WaterObserved&q=height>84", "lc-hong-bat-xat", "lc-hong-laocai"},
		{"q and, or, parentheses", "type=WaterObserved&q=(height<83|height>=84.9);address!=\"x\"", "lc-hong-bat-xat", "lc-hong-pho-lu"},
		{"q range", "type=WaterObserved&q=height==82..83", "lc-hong-laocai", "lc-hong-bat-xat"},
		{"q pattern", "type=Device&q=sensorKind~=^river", "Device:lc-hong-laocai", "Device:lc-sapa-rain"},
		{"near", "type=WaterObserved&georel=near;maxDistance==2000&geometry=Point&coordinates=[103.9662,22.5015]", "lc-hong-laocai", "lc-hong-bat-xat"},
		{"within", "type=WaterObserved&georel=within&geometry=Polygon&coordinates=[[[103.85,22.50],[103.93,22.50],[103.93,22.58],[103.85,22.58],[103.85,22.50]]]",
			"lc-hong-bat-xat", "lc-hong-laocai"},
		{"idPattern", "idPattern=^urn:ngsi-ld:WaterObserved:lc-hong-", "lc-hong-pho-lu", `"id":"urn:ngsi-ld:Device`},
		{"id list", "id=" + laocai + ",urn:ngsi-ld:Camera:lc-cam-cau-coc-leu", "lc-hong-laocai", "lc-hong-bat-xat"},
		{"alerts", "type=Alert&q=severity==\"high\"", "Alert:", `"type":"WaterObserved"`},
	} {
		code, _, body := ngsiGet(t, base, analyst, "/ngsi-ld/v1/entities?"+c.query, "")
		if code != 200 || !strings.Contains(string(body), c.has) || strings.Contains(string(body), c.hasNot) {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	// attrs projection and keyValues
	code, _, body = ngsiGet(t, base, analyst, "/ngsi-ld/v1/entities?id="+laocai+"&attrs=height&options=keyValues", "")
	var kv []map[string]any
	if code != 200 || json.Unmarshal(body, &kv) != nil || len(kv) != 1 || kv[0]["height"] != 82.4 || len(kv[0]) != 3 {
		t.Errorf("keyValues with attrs: %d %s", code, body)
	}
	// paging: the same query in pages of 2 gives the whole list once
	var paged []string
	for off := 0; ; off += 2 {
		_, _, body := ngsiGet(t, base, analyst, fmt.Sprintf("/ngsi-ld/v1/entities?type=WaterObserved&limit=2&offset=%d", off), "")
		page := entityIDs(t, body)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
	}
	if strings.Join(paged, ",") != strings.Join(ids, ",") {
		t.Errorf("paged %v\nwhole %v", paged, ids)
	}

	// errors: ProblemDetails with the specification's types, nothing run
	for _, c := range []struct {
		name, path string
		code       int
		typ        string
	}{
		{"a broken q", "/ngsi-ld/v1/entities?type=WaterObserved&q=height>>1", 400, ngsild.ErrBadRequestData},
		{"an unterminated q", "/ngsi-ld/v1/entities?type=WaterObserved&q=(height>1", 400, ngsild.ErrBadRequestData},
		{"a runaway q", "/ngsi-ld/v1/entities?type=WaterObserved&q=" + strings.Repeat("(", 20) + "height>1" + strings.Repeat(")", 20), 400, ngsild.ErrBadRequestData},
		{"an unsupported georel", "/ngsi-ld/v1/entities?type=WaterObserved&georel=disjoint&geometry=Point&coordinates=[103.9,22.5]", 400, ngsild.ErrBadRequestData},
		{"an unknown type", "/ngsi-ld/v1/entities?type=Spaceship", 400, ngsild.ErrBadRequestData},
		{"a limit over the maximum", "/ngsi-ld/v1/entities?type=Device&limit=5000", 403, ngsild.ErrTooManyResults},
		{"no selection", "/ngsi-ld/v1/entities", 400, ngsild.ErrBadRequestData},
		{"an unknown parameter", "/ngsi-ld/v1/entities?type=Device&colour=red", 400, ngsild.ErrBadRequestData},
		{"an unknown entity", "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:nowhere", 404, ngsild.ErrResourceNotFound},
		{"an unknown path", "/ngsi-ld/v1/subscriptionz", 404, ngsild.ErrResourceNotFound},
	} {
		code, hdr, body := ngsiGet(t, base, analyst, c.path, "")
		var p ngsild.Problem
		if code != c.code || hdr.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil || p.Type != c.typ || p.Status != c.code || p.Detail == "" {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.code, c.typ)
		}
	}
	if code, _, _ := ngsiGet(t, base, analyst, "/ngsi-ld/v1/entities?type=Device", "text/html"); code != 406 {
		t.Errorf("text/html: %d, want 406", code)
	}

	// who: a partner within its scope (water in Bát Xát, alerts there), the wall screen not at all
	code, _, body = ngsiGet(t, base, f.tokens["partner"], "/ngsi-ld/v1/entities?idPattern=.*&limit=1000", "")
	got := entityIDs(t, body)
	if code != 200 || len(got) == 0 || strings.Contains(string(body), "lc-hong-laocai") || strings.Contains(string(body), "Camera") {
		t.Errorf("the partner's scope: %d %v", code, got)
	}
	for _, id := range got {
		if !strings.HasPrefix(id, "urn:ngsi-ld:WaterObserved:") && !strings.HasPrefix(id, "urn:ngsi-ld:Alert:") {
			t.Errorf("the partner reads %s", id)
		}
	}
	if code, _, _ := ngsiGet(t, base, f.tokens["partner"], "/ngsi-ld/v1/entities/"+url.PathEscape(laocai), ""); code != 404 {
		t.Errorf("the partner reads an entity outside its districts: %d, want 404", code)
	}
	testenv.WaitFor(t, "the partner's requests in the audit log", 15*time.Second, func() bool {
		_, b := f.call(t, "admin", "GET", APIPrefix+"/audit?action=ngsild.read", "")
		return strings.Contains(string(b), "key:partner") && strings.Contains(string(b), "idPattern") && strings.Contains(string(b), `"status":404`)
	})
	if code, _, _ := ngsiGet(t, base, f.tokens["viewer"], "/ngsi-ld/v1/entities?type=Device", ""); code != 403 {
		t.Errorf("the wall screen: %d, want 403", code)
	}
	if code, _, _ := ngsiGet(t, base, "", "/ngsi-ld/v1/entities?type=Device", ""); code != 401 {
		t.Errorf("no key: %d, want 401", code)
	}
	if code, _ := f.call(t, "partner", "GET", APIPrefix+"/sensors", ""); code != 403 {
		t.Errorf("the partner reads the dashboard's API: %d, want 403", code)
	}
}

// TestNGSILDTermsResolve expands every entity type's answer with a real JSON-LD processor
// (json-gold, safe mode: a term the @context does not define is an error), fetching the
// @context from the server itself.
func TestNGSILDTermsResolve(t *testing.T) {
	f := newFixture(t, 0)
	f.observe(t, "lc-hong-bat-xat", "water_level", 84.9)
	cams, err := streams.ParseCameraCatalog([]byte(`cameras:
  - {id: lc-cam-cau-coc-leu, name: Cầu Cốc Lếu, url: "rtsp://127.0.0.1:1/a", location: {lat: 22.5030, lon: 103.9650}, district: TP Lào Cai,
     purpose: traffic, owner_unit: traffic_police}
`), config.Units, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	f.city.SetCatalogs(nil, cams)
	f.city.CameraStatuses([]streams.CameraStatus{{Camera: "lc-cam-cau-coc-leu", State: streams.StateOnline, Time: time.Now(), FPS: 25}})
	base := "http://" + f.serve(t)
	code, hdr, ctxDoc := ngsiGet(t, base, "", ngsild.ContextPath, "")
	if code != 200 || hdr.Get("Content-Type") != "application/ld+json" || !json.Valid(ctxDoc) {
		t.Fatalf("the @context: %d %v", code, hdr)
	}
	proc := ld.NewJsonLdProcessor()
	opts := ld.NewJsonLdOptions("")
	opts.SafeMode = true
	opts.DocumentLoader = ld.NewCachingDocumentLoader(ld.NewDefaultDocumentLoader(http.DefaultClient))
	for _, typ := range ngsild.Types {
		for _, form := range []string{"", "&options=keyValues"} {
			code, hdr, body := ngsiGet(t, base, f.tokens["analyst"], "/ngsi-ld/v1/entities?limit=1000&type="+typ+form, "application/ld+json")
			var list []any
			if code != 200 || hdr.Get("Content-Type") != "application/ld+json" || json.Unmarshal(body, &list) != nil || len(list) == 0 {
				t.Fatalf("%s%s as JSON-LD: %d %s", typ, form, code, body)
			}
			expanded, err := proc.Expand(list, opts)
			if err != nil {
				t.Errorf("%s%s: %v", typ, form, err)
				continue
			}
			doc, _ := json.Marshal(expanded)
			if !strings.Contains(string(doc), "https://smartdatamodels.org/") || !strings.Contains(string(doc), "https://uri.etsi.org/ngsi-ld/location") {
				t.Errorf("%s%s expanded without the models' IRIs: %.400s", typ, form, doc)
			}
		}
	}
}

// TestNGSILDTemporal: a gauge's stored values over a window, the latest lastN, simplified, and
// aggregated over periods, from ClickHouse; the temporal query's errors.
func TestNGSILDTemporal(t *testing.T) {
	f := newFixture(t, 0)
	ctx := t.Context()
	conn := testenv.Conn(t, f.chCfg)
	sensors, _ := f.city.Catalogs()
	if err := analytics.SyncSensors(ctx, conn, sensors); err != nil {
		t.Fatal(err)
	}
	// a minute of Bát Xát's level, one value every 5 s: 84.00, 84.05, … 84.55
	t0 := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO readings (ts, sensor_id, metric, value, unit, quality, ingest_time, topic)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := batch.Append(t0.Add(time.Duration(i)*5*time.Second), "lc-hong-bat-xat", "water_level", 84+float64(i)*0.05, "m", "good", t0, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	f.observe(t, "lc-hong-bat-xat", "water_level", 84.55) // its current value names its attribute
	base := "http://" + f.serve(t)
	id := ngsild.ID(ngsild.TypeWaterObserved, "lc-hong-bat-xat")
	window := "&timerel=between&timeAt=" + t0.Format(time.RFC3339) + "&endTimeAt=" + t0.Add(time.Minute).Format(time.RFC3339)
	get := func(query string) (int, []map[string]any, []byte) {
		t.Helper()
		code, _, body := ngsiGet(t, base, f.tokens["analyst"], "/ngsi-ld/v1/temporal/entities?id="+id+query, "")
		var out []map[string]any
		_ = json.Unmarshal(body, &out)
		return code, out, body
	}
	code, out, body := get(window)
	if code != 200 || len(out) != 1 {
		t.Fatalf("values: %d %s", code, body)
	}
	vals, _ := out[0]["height"].([]any)
	if len(vals) != 12 || vals[0].(map[string]any)["value"] != 84.0 || vals[11].(map[string]any)["observedAt"] != t0.Add(55*time.Second).Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("the minute's values, oldest first: %s", body)
	}
	code, out, body = get(window + "&lastN=3&options=temporalValues")
	if v, _ := out[0]["height"].(map[string]any); code != 200 || v == nil || fmt.Sprint(v["values"]) != fmt.Sprintf("[[84.45 %s] [84.5 %s] [84.55 %s]]",
		t0.Add(45*time.Second).Format("2006-01-02T15:04:05.000Z"), t0.Add(50*time.Second).Format("2006-01-02T15:04:05.000Z"), t0.Add(55*time.Second).Format("2006-01-02T15:04:05.000Z")) {
		t.Errorf("the last 3 as pairs: %d %s", code, body)
	}
	code, out, body = get(window + "&aggrMethods=avg,min,max,totalCount&aggrPeriodDuration=PT30S")
	agg, _ := out[0]["height"].(map[string]any)
	if code != 200 || agg == nil || fmt.Sprint(agg["totalCount"]) != fmt.Sprintf("[[6 %s %s] [6 %s %s]]", t0.Format("2006-01-02T15:04:05.000Z"),
		t0.Add(30*time.Second).Format("2006-01-02T15:04:05.000Z"), t0.Add(30*time.Second).Format("2006-01-02T15:04:05.000Z"), t0.Add(time.Minute).Format("2006-01-02T15:04:05.000Z")) ||
		!strings.HasPrefix(fmt.Sprint(agg["min"]), "[[84 ") || !strings.HasPrefix(fmt.Sprint(agg["max"]), "[[84.25 ") {
		t.Errorf("30-second aggregates: %d %s", code, body)
	}
	for _, c := range []struct {
		name, query string
		code        int
		typ         string
	}{
		{"no timerel", "&timeAt=" + t0.Format(time.RFC3339), 400, ngsild.ErrBadRequestData},
		{"an unknown timerel", "&timerel=during&timeAt=" + t0.Format(time.RFC3339), 400, ngsild.ErrBadRequestData},
		{"a reversed window", "&timerel=between&timeAt=" + t0.Format(time.RFC3339) + "&endTimeAt=" + t0.Add(-time.Hour).Format(time.RFC3339), 400, ngsild.ErrBadRequestData},
		{"a window of a year", "&timerel=between&timeAt=" + t0.Add(-366*24*time.Hour).Format(time.RFC3339) + "&endTimeAt=" + t0.Format(time.RFC3339), 400, ngsild.ErrBadRequestData},
		{"an unknown method", window + "&aggrMethods=median&aggrPeriodDuration=PT1M", 422, ngsild.ErrOperationNotSupported},
		{"a period the history has no buckets of", window + "&aggrMethods=avg&aggrPeriodDuration=PT7S", 400, ngsild.ErrBadRequestData},
		{"a malformed period", window + "&aggrMethods=avg&aggrPeriodDuration=1h", 400, ngsild.ErrBadRequestData},
		{"q on temporal values", window + "&q=height>1", 422, ngsild.ErrOperationNotSupported},
	} {
		code, _, body := get(c.query)
		var p ngsild.Problem
		if code != c.code || json.Unmarshal(body, &p) != nil || p.Type != c.typ {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.code, c.typ)
		}
	}
	if code, _, body := ngsiGet(t, base, f.tokens["analyst"], "/ngsi-ld/v1/temporal/entities?type=Camera"+window, ""); code != 400 || !strings.Contains(string(body), "no temporal values") {
		t.Errorf("cameras' temporal values: %d %s", code, body)
	}
}
