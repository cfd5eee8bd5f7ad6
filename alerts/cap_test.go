package alerts

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/internal/testenv"
)

// capDistricts gives TP Lào Cai an outline and a code, Bát Xát a code only.
const capDistricts = `
districts:
  - name: TP Lào Cai
    geocodes: {dvhc: "080"}
    polygon: [[22.56, 103.93], [22.53, 104.03], [22.44, 104.05], [22.38, 104.00], [22.56, 103.93]]
  - name: Bát Xát
    geocodes: {dvhc: "082"}
`

// validateCAP validates one document against the OASIS CAP 1.2 schema with xmllint (Debian's
// libxml2-utils), returning xmllint's complaint.
func validateCAP(t *testing.T, doc []byte) error {
	t.Helper()
	testenv.Integration(t)
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Fatal("no xmllint (validates CAP documents): run deploy/local/services.sh start, which installs libxml2-utils")
	}
	path := filepath.Join(t.TempDir(), "cap.xml")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", "testdata/CAP-v1.2.xsd", path).CombinedOutput()
	if err != nil {
		return &xmllintError{string(out)}
	}
	return nil
}

type xmllintError struct{ out string }

func (e *xmllintError) Error() string { return e.out }

// The schema is not a rubber stamp: documents that break CAP are refused.
func TestCAPSchemaRefusesBrokenDocuments(t *testing.T) {
	good := `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x.1</identifier><sender>ioc.test</sender>
<sent>2026-08-03T10:00:00+07:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><category>Met</category><event>Lũ</event><urgency>Immediate</urgency><severity>Severe</severity>
<certainty>Observed</certainty><area><areaDesc>TP Lào Cai</areaDesc></area></info></alert>`
	if err := validateCAP(t, []byte(good)); err != nil {
		t.Fatalf("a valid document refused: %v", err)
	}
	for name, bad := range map[string]string{
		"Z time":         strings.Replace(good, "+07:00", "Z", 1),
		"category":       strings.Replace(good, "<category>Met</category>", "<category>Flood</category>", 1),
		"order":          strings.Replace(good, "<status>Actual</status><msgType>Alert</msgType>", "<msgType>Alert</msgType><status>Actual</status>", 1),
		"no event":       strings.Replace(good, "<event>Lũ</event>", "", 1),
		"namespace":      strings.Replace(good, "cap:1.2", "cap:1.1", 1),
		"unknown status": strings.Replace(good, "Actual", "Real", 1),
	} {
		if err := validateCAP(t, []byte(bad)); err == nil {
			t.Errorf("%s: a broken document passed the schema", name)
		}
	}
}

// capRig runs the pure engine core on a fake clock and hands its notifications to a CAP feed
// stored in a real ClickHouse.
type capRig struct {
	h    *harness
	feed *CAPFeed
}

func newCAPFeedOn(t *testing.T, cfg config.CAP, store *ClickHouseStore, sensors *ingest.Catalog, now func() time.Time) (*CAPFeed, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := NewEngine(&RuleFile{}, sensors, nil, store, nil, nil, Options{}, prometheus.NewRegistry(), log)
	f := NewCAPFeed(cfg, e, store, sensors, log)
	f.now = now
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.Run(ctx) }()
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return f, stop
}

// notify hands the core's notifications to the feed, as the engine does.
func (r *capRig) notify() {
	for _, n := range r.h.c.notes {
		r.feed.Notify(n)
	}
	r.h.c.events, r.h.c.notes = nil, nil
}

// publish hands the core's notifications to the feed, as the engine does, and has a duty
// officer approve every draft at once (TestCAPApproval tests the approving).
func (r *capRig) publish() {
	r.notify()
	for _, d := range r.feed.Drafts() {
		for i := len(d.Approvals); i < d.Needed; i++ {
			if _, _, err := r.feed.Approve(context.Background(), d.AlertID, d.Identifier, fmt.Sprintf("key:op-%d", i), "Trực ban"); err != nil {
				r.h.t.Fatalf("approve %s: %v", d.Identifier, err)
			}
		}
	}
}

// feedEntries parses the Atom feed and returns each entry's document, validated.
func feedEntries(t *testing.T, f *CAPFeed) []*CAPMessage {
	t.Helper()
	body, err := f.Atom("http://ioc.test")
	if err != nil {
		t.Fatal(err)
	}
	var feed atomFeed
	if err := xml.Unmarshal(body, &feed); err != nil {
		t.Fatalf("atom: %v\n%s", err, body)
	}
	if feed.XMLName.Space != "http://www.w3.org/2005/Atom" || feed.ID == "" || feed.Updated == "" || feed.Links[0].Rel != "self" {
		t.Errorf("atom feed head: %+v", feed)
	}
	var out []*CAPMessage
	for _, e := range feed.Entries {
		href := e.Links[0].Href
		id, ok := strings.CutPrefix(href, "http://ioc.test/cap/")
		if !ok || e.Links[0].Type != "application/cap+xml" || e.Title == "" || e.ID == "" || e.Updated == "" {
			t.Errorf("atom entry: %+v", e)
			continue
		}
		doc, err := f.Document(context.Background(), strings.TrimSuffix(id, ".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := validateCAP(t, doc); err != nil {
			t.Errorf("%s is not valid CAP 1.2:\n%v\n%s", id, err, doc)
		}
		m := &CAPMessage{}
		if err := xml.Unmarshal(doc, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestCAPFeedAlertUpdateCancel(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	if _, err := analytics.Migrate(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	store := &ClickHouseStore{Conn: testenv.Conn(t, ch), Timeout: 10 * time.Second}
	file := rules(`kind: alarm_levels
metric: water_level
public: true
levels: {i: {severity: medium, risk_level: 1}, ii: {severity: high, risk_level: 2}, iii: {severity: critical, risk_level: 3}}
instruction: {vi: "Sẵn sàng sơ tán.", en: "Be ready to evacuate."}`, `kind: threshold
select: {kinds: [salinity]}
metric: salinity
threshold: 4
severity: high`) + testRoute
	h := newHarness(t, strings.Replace(file, "title: {vi:", "title: {en: \"{{.SubjectName}} above alarm {{.AlarmLevel}}\", vi:", 1))
	sensors, err := ingest.ParseCatalog([]byte(testSensors+capDistricts), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.c.setCatalogs(sensors, nil, h.now)
	cfg := config.Default().Alerts.CAP
	cfg.Sender, cfg.SenderName, cfg.Web = "ioc.laocai.test", "Trung tâm IOC Lào Cai", "https://ioc.laocai.test/canh-bao"
	// the feeds' goroutines read the clock while the test moves it
	var clockMu sync.Mutex
	clock := h.now
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) {
		h.advance(d)
		clockMu.Lock()
		clock = h.now
		clockMu.Unlock()
	}
	feed, stop := newCAPFeedOn(t, cfg, store, sensors, now)
	r := &capRig{h: h, feed: feed}

	h.read("gauge-a", "water_level", 80.5) // báo động I
	h.read("salt-a", "salinity", 5)        // not public: never on the feed
	r.publish()
	advance(time.Minute)
	h.read("gauge-a", "water_level", 82.4) // báo động II: Update
	r.publish()
	for _, l := range h.c.sortedAlerts() { // an acknowledgement is no public change
		if l.Subject == "gauge-a" {
			l.State, l.AckedAt = StateAcknowledged, h.now
			h.c.emit(l, EventAcknowledged, "op.nguyen", Text{}, h.now)
		}
	}
	r.publish()
	advance(time.Minute)
	h.read("gauge-b", "water_level", 80.2) // Bát Xát: geocode and a circle, no outline
	r.publish()
	advance(time.Minute)
	h.read("gauge-a", "water_level", 79.0) // below I: Cancel
	advance(time.Minute)
	r.publish()

	msgs := feedEntries(t, feed)
	var types []string
	for _, m := range msgs {
		types = append(types, m.MsgType+" "+m.Info[0].Area[0].AreaDesc)
	}
	want := []string{"Cancel Trạm A, TP Lào Cai", "Alert Trạm B, Bát Xát", "Update Trạm A, TP Lào Cai", "Alert Trạm A, TP Lào Cai"}
	if strings.Join(types, "|") != strings.Join(want, "|") {
		t.Fatalf("feed, newest first = %q, want %q", types, want)
	}
	cancel, gaugeB, update, first := msgs[0], msgs[1], msgs[2], msgs[3]
	if first.References != "" || update.References != capReference(first) ||
		cancel.References != capReference(first)+" "+capReference(update) {
		t.Errorf("references: update %q, cancel %q", update.References, cancel.References)
	}
	if first.Incidents != update.Incidents || first.Incidents == gaugeB.Incidents {
		t.Errorf("incidents: %q %q %q", first.Incidents, update.Incidents, gaugeB.Incidents)
	}
	if !strings.HasSuffix(first.Sent, "+07:00") || first.Sender != "ioc.laocai.test" || first.Status != "Actual" || first.Scope != "Public" {
		t.Errorf("alert head: %+v", first)
	}
	vi, en := update.Info[0], update.Info[1]
	if vi.Language != "vi-VN" || en.Language != "en-US" || vi.Event != "Lũ, ngập lụt" || en.Event != "Flood" ||
		vi.Category[0] != "Met" || vi.Severity != "Severe" || vi.Urgency != "Immediate" || vi.ResponseType[0] != "Prepare" ||
		vi.Instruction != "Sẵn sàng sơ tán." || en.Instruction != "Be ready to evacuate." ||
		!strings.Contains(en.Headline, "above alarm 2") || vi.SenderName != "Trung tâm IOC Lào Cai" || vi.Web != cfg.Web {
		t.Errorf("update info: %+v / %+v", vi, en)
	}
	// a flood warning (naturalDisaster, no cap_expires in its rule) is valid a day after it is sent
	for _, m := range []*CAPMessage{first, update, cancel} {
		sent, err := time.Parse(time.RFC3339, m.Sent)
		if err != nil || m.Info[0].Expires != capTime(sent.Add(24*time.Hour)) || m.Info[1].Expires != m.Info[0].Expires {
			t.Errorf("%s sent %s expires %q / %q, want 24 h later", m.MsgType, m.Sent, m.Info[0].Expires, m.Info[1].Expires)
		}
	}
	if p := vi.Parameter; len(p) < 2 || p[0] != (CAPValue{"riskLevel", "2"}) || p[1] != (CAPValue{"alarmLevel", "2"}) {
		t.Errorf("parameters: %+v", p)
	}
	if ar := vi.Area[0]; len(ar.Polygon) != 1 || !strings.HasPrefix(ar.Polygon[0], "22.56,103.93 22.53,104.03") ||
		len(ar.Circle) != 0 || ar.Geocode[0] != (CAPValue{"dvhc", "080"}) {
		t.Errorf("TP Lào Cai area: %+v", ar)
	}
	if ar := gaugeB.Info[0].Area[0]; len(ar.Polygon) != 0 || ar.Circle[0] != "22.5,103.9 5" || ar.Geocode[0] != (CAPValue{"dvhc", "082"}) {
		t.Errorf("Bát Xát area: %+v", ar)
	}
	if c := cancel.Info[0]; c.ResponseType[0] != "AllClear" || c.Urgency != "Past" || !strings.HasPrefix(c.Headline, "Đã kết thúc: ") {
		t.Errorf("cancel info: %+v", c)
	}

	// a restart: the new feed reads what was published from ClickHouse; gauge B's end is a
	// Cancel that references its Alert, and the ended alert A stays on the feed.
	waitRows(t, store, "SELECT count() FROM cap_messages", 4)
	stop()
	feed2, _ := newCAPFeedOn(t, cfg, store, sensors, now)
	r.feed = feed2
	for i := 0; ; i++ {
		if body, _ := feed2.Atom(""); bytes.Count(body, []byte("<entry>")) == 4 {
			break
		}
		if i == 200 {
			t.Fatal("the restarted feed did not load the 4 published messages")
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.read("gauge-b", "water_level", 78)
	advance(time.Minute)
	r.publish()
	msgs = feedEntries(t, feed2)
	if len(msgs) != 5 || msgs[0].MsgType != CAPCancel || msgs[0].References != capReference(gaugeB) {
		var got []string
		for _, m := range msgs {
			got = append(got, m.MsgType+" "+m.Sent+" "+m.Info[0].Area[0].AreaDesc)
		}
		t.Fatalf("after a restart the feed is %q: want gauge B's Cancel newest", got)
	}
	if _, err := feed2.Document(context.Background(), "ioc.laocai.test.nosuch.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown message: %v, want ErrNotFound (the dashboard answers 404 for it)", err)
	}

	// past the window, ended alerts leave the feed; their documents stay in ClickHouse
	h.now = h.now.Add(cfg.Window + time.Minute)
	advance(0)
	if body, _ := feed2.Atom(""); bytes.Contains(body, []byte("<entry>")) {
		t.Errorf("ended alerts still on the feed after the window:\n%s", body)
	}
	waitRows(t, store, "SELECT count() FROM cap_messages", 5)
	if doc, err := feed2.Document(context.Background(), first.Identifier); err != nil || validateCAP(t, doc) != nil {
		t.Errorf("an old message from ClickHouse: %v", err)
	}
}

// A message expires its rule's cap_expires after it is sent, else its category's default; the
// document with <expires> is valid CAP 1.2.
func TestCAPExpires(t *testing.T) {
	at := time.Date(2026, 8, 15, 5, 0, 0, 0, time.UTC)
	cfg := config.Default().Alerts.CAP
	var docs [][]byte
	for _, tc := range []struct {
		a    Alert
		want time.Duration
	}{
		{Alert{Category: "naturalDisaster"}, 24 * time.Hour},
		{Alert{Category: "traffic"}, 2 * time.Hour},
		{Alert{Category: "somethingNew"}, DefaultCAPExpiresOther},
		{Alert{Category: "naturalDisaster", CAPExpires: 90 * time.Minute}, 90 * time.Minute},
	} {
		a := tc.a
		a.ID, a.Rule, a.Severity, a.StartsAt, a.FiredAt, a.Title = "a1", "r", SeverityHigh, at, at, Text{VI: "Lũ"}
		a.Location = geo.Location{Lat: 22.5, Lon: 103.9}
		m := buildCAP(cfg, CAPAlert, &a, at, nil, nil)
		if got := m.Info[0].Expires; got != capTime(at.Add(tc.want)) {
			t.Errorf("%+v: expires %s, want %s", tc.a, got, capTime(at.Add(tc.want)))
		}
		doc, err := xml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, append([]byte(xml.Header), doc...))
	}
	if _, err := ParseRules([]byte(rules("kind: threshold\nmetric: salinity\nthreshold: 4\nseverity: high\ncap_expires: -1h"))); err == nil ||
		!strings.Contains(err.Error(), "cap_expires") {
		t.Errorf("a negative cap_expires: %v, want refused", err)
	}
	for _, doc := range docs {
		if err := validateCAP(t, doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}
