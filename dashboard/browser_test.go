package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

var alertsFilterCritical = alerts.Filter{Severity: []alerts.Severity{alerts.SeverityCritical}}

// chromium finds Debian's Chromium; the test fails, saying how to install it, without one.
func chromium(t *testing.T) string {
	t.Helper()
	testenv.Integration(t)
	for _, name := range []string{os.Getenv("IOC_TEST_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium for the browser tests: run `deploy/local/services.sh start` (it installs Debian's chromium) or `apt-get install chromium`, or set IOC_TEST_CHROMIUM")
	return ""
}

// browserCity gives the fixture a day of river levels in ClickHouse (for trends) and eight
// cameras in every state (for the wall).
func browserCity(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	conn := testenv.Conn(t, f.chCfg)
	sensors, _ := f.city.Catalogs()
	if err := analytics.SyncSensors(ctx, conn, sensors); err != nil {
		t.Fatal(err)
	}
	w := analytics.NewWriter(conn, nil, config.Default().Writer, 10*time.Second, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	w.SetStoredBy("test")
	rollups, err := analytics.NewRollups(conn, w, "test", config.Default().Analytics, config.Default().Ingest.MaxAge, func(string) string { return "" }, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- w.Run(wctx) }()
	now := time.Now().UTC().Truncate(time.Minute)
	var rs []ingest.Reading
	for i := range 24 * 12 { // every 5 minutes for a day
		at := now.Add(-time.Duration(i) * 5 * time.Minute)
		for j, s := range []string{"lc-hong-laocai", "lc-hong-bat-xat"} {
			v := 79 + float64(j) + 1.5*float64(24*12-i)/float64(24*12)
			rs = append(rs, ingest.Reading{Time: at, Received: at, Sensor: s, Metric: "water_level", Value: v, Unit: "m", Quality: ingest.QualityGood, Topic: "test"})
		}
	}
	// and two rejected payloads for the health page
	dead := []ingest.DeadLetter{
		{Time: now.Add(-time.Minute), Source: "mqtt", Topic: "province/bat-xat/river/lc-hong-bat-xat", Reason: ingest.ReasonMalformedJSON, Detail: "unexpected end", Payload: []byte(`{"v":`), PayloadSize: 5},
		{Time: now.Add(-2 * time.Hour), Source: "mqtt", Topic: "province/sa-pa/rain/x", Reason: ingest.ReasonUnknownSensor, Detail: "x", Payload: []byte(`{}`), PayloadSize: 2},
	}
	if err := w.Deliver(ctx, ingest.Delivery{Readings: rs, DeadLetters: dead}); err != nil {
		t.Fatal(err)
	}
	// and their rollups, as an ingest process writes them
	if err := rollups.ObserveReadings(ctx, rs, nil); err != nil {
		t.Fatal(err)
	}
	if err := rollups.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var yaml strings.Builder
	yaml.WriteString("cameras:\n")
	states := []streams.State{streams.StateOnline, streams.StateOnline, streams.StateOnline, streams.StateDegraded, streams.StateOnline, streams.StateOffline, streams.StateOnline, streams.StateOnline}
	var sts []streams.CameraStatus
	for i, st := range states {
		id := fmt.Sprintf("lc-cam-%02d", i+1)
		fmt.Fprintf(&yaml, "  - {id: %s, name: \"Camera nút giao %d\", url: \"rtsp://127.0.0.1:8554/%s\", location: {lat: %.4f, lon: %.4f}, district: TP Lào Cai, purpose: traffic, owner_unit: traffic_police}\n",
			id, i+1, id, 22.48+float64(i)*0.004, 103.95+float64(i%3)*0.01)
		s := streams.CameraStatus{Time: now, Camera: id, State: st, Since: now.Add(-time.Hour), Codec: "H264", Width: 1920, Height: 1080, FPS: 25, BitrateKbps: 4096}
		switch st {
		case streams.StateDegraded:
			s.Reason, s.FPS = "low_fps", 9
		case streams.StateOffline:
			s.Reason, s.Width, s.Height, s.FPS, s.BitrateKbps = "refused", 0, 0, 0, 0
		}
		sts = append(sts, s)
	}
	cams, err := streams.ParseCameraCatalog([]byte(yaml.String()), config.Units, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	f.city.SetCatalogs(nil, cams)
	f.city.CameraStatuses(sts)
}

// openCount is how many alerts the engine has open (firing or acknowledged).
func openCount(t *testing.T, f *fixture) int {
	t.Helper()
	list, err := f.engine.Alerts(context.Background(), alerts.Filter{States: []alerts.State{alerts.StateFiring, alerts.StateAcknowledged}})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestBrowser drives the web UI in Debian's headless Chromium: log in, see the map fill,
// receive a new critical alert live, acknowledge it, see it leave the unacknowledged list,
// open a trend and export it as CSV. With IOC_SCREENSHOTS=DIR it also saves the main screens
// at 1920×1080 there (docs/screenshots).
// drawnSensors is a JS function of a map's selector: the sensors it shows, alone or in groups.
const drawnSensors = `((m) => document.querySelectorAll(m + ' circle.sensor').length +
	[...document.querySelectorAll(m + ' g.group')].reduce((n, g) => n + Number(g.dataset.count), 0))`

// jsList is ss as a JS array literal.
func jsList(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// waitJS waits up to 20 s until the page's js is true; its error names what it waited for.
func waitJS(what, js string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var ok bool
			if err := chromedp.Evaluate(js, &ok).Do(ctx); err != nil {
				return err
			}
			if ok {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("waited 20s for %s (%s)", what, js)
			}
		}
	})
}

// browserContext is a headless Chromium (Debian's, at exe) of the test's own, 1920×1080 in
// Vietnamese, for at most timeout; it ends with the test.
func browserContext(t *testing.T, exe string, timeout time.Duration) context.Context {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.WindowSize(1920, 1080), chromedp.NoSandbox, chromedp.Flag("headless", "new"),
		chromedp.Flag("lang", "vi-VN"))...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		if !strings.Contains(format, "unhandled") { // CDP events newer than chromedp's table
			t.Logf(format, args...)
		}
	}))
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return ctx
}

func TestBrowser(t *testing.T) {
	exe := chromium(t)
	archive, _ := tileArchive(t)
	f := newFixture(t, 0, func(o *Options) { o.Tiles = archive })
	browserCity(t, f)
	base := "http://" + f.serve(t) + "/"

	downloads := t.TempDir()
	ctx := browserContext(t, exe, 90*time.Second)
	// the console asks for a note with prompt(): answer it
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go func() {
				_ = chromedp.Run(ctx, page.HandleJavaScriptDialog(true).WithPromptText("Đội cơ động đã nhận"))
			}()
		}
	})
	shots := os.Getenv("IOC_SCREENSHOTS")
	shoot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			if shots == "" {
				return nil
			}
			time.Sleep(400 * time.Millisecond) // let the view settle
			var png []byte
			if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		})
	}
	waitFor := waitJS

	sensors, _ := f.city.Catalogs()
	var title string
	if err := chromedp.Run(ctx,
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		chromedp.Navigate(base),
		chromedp.WaitVisible("#login-form"),
		chromedp.Title(&title),
		shoot("login"),
		chromedp.SendKeys("#token", f.tokens["operator"]),
		chromedp.Click("#login-submit"),
		waitFor("the map to fill with every sensor, those at one place grouped", fmt.Sprintf(`%s('#map') === %d && document.querySelectorAll('#map g.group').length >= 1`, drawnSensors, sensors.Len())),
		waitFor("the district outlines", `document.querySelectorAll('#map polygon.district').length >= 3`),
		// the communes' outlines from the province's GeoJSON, each inside the map
		waitFor("the commune outlines", `document.querySelectorAll('#map polygon.commune').length === S.outlines.features.filter((f) => f.properties.level === 'commune').length &&
			document.querySelectorAll('#map polygon.commune').length >= 10 && !!document.querySelector('#map polygon.commune[data-commune="Phường Cốc Lếu"][data-of-district="TP Lào Cai"]')`),
		waitFor("the base map's tiles from the archive ioc serves", `document.querySelectorAll('#map image.tile[href^="blob:"]').length >= 1`),
		waitFor("the cameras on the map", `document.querySelectorAll('#map rect.camera').length === 8`),
		waitFor("the live channel", `document.querySelector('#live-state').classList.contains('on')`),
		waitFor("the open river alert in the KPIs", `Number(document.querySelector('#k-alerts .v').textContent) >= 1`),
	); err != nil {
		t.Fatal(err)
	}
	// a group opens as a list on click; the wheel zooms in around it until its stations stand
	// apart; dragging pans; ⌂ fits the province again
	var group []string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('#map g.group').dataset.sensors.split(' ')`, &group),
		chromedp.Evaluate(`document.querySelector('#map g.group').dispatchEvent(new MouseEvent('click', { bubbles: true })); true`, nil),
		waitFor("the group's stations listed", `document.querySelectorAll('#map-side [data-group-sensor]').length === Number(document.querySelector('#map g.group').dataset.count)`),
		chromedp.Evaluate(`document.querySelector('#map-side [data-group-sensor]').click(); true`, nil),
		waitFor("a station of the group opened", `!!document.querySelector('#side-trend')`),
		chromedp.Evaluate(`(() => { const m = document.querySelector('#map'), b = m.getBoundingClientRect(), c = document.querySelector('#map g.group circle');
			for (let i = 0; i < 6; i++) { const x = Number(c.getAttribute('cx')), y = Number(c.getAttribute('cy'));
				m.dispatchEvent(new WheelEvent('wheel', { deltaY: -100, clientX: b.left + x, clientY: b.top + y, bubbles: true, cancelable: true })); }
			return true; })()`, nil),
	); err != nil {
		t.Fatal(err)
	}
	apart := fmt.Sprintf(`S.mapView.k > 10 && document.querySelectorAll('#map image.tile').length <= 100 && %s.every((id) => !!document.querySelector('#map circle.sensor[data-sensor="' + id + '"]'))`, jsList(group))
	if err := chromedp.Run(ctx,
		waitFor("the group's stations apart once zoomed in", apart),
		shoot("map-zoomed"),
		chromedp.Evaluate(`(() => { const m = document.querySelector('#map'), b = m.getBoundingClientRect(), dx0 = S.mapView.dx;
			const at = (type, x) => (type === 'pointerdown' ? m : window).dispatchEvent(new PointerEvent(type, { clientX: b.left + x, clientY: b.top + 5, bubbles: true }));
			at('pointerdown', 5); at('pointermove', 105); at('pointerup', 105); return S.mapView.dx - dx0; })() === 100`, nil),
		chromedp.Click("#map-zoom-fit"),
		waitFor("the province fitted again", fmt.Sprintf(`S.mapView.k === 1 && %s('#map') === %d && document.querySelectorAll('#map g.group').length >= 1`, drawnSensors, sensors.Len())),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Trung tâm điều hành") {
		t.Errorf("title %q is not Vietnamese", title)
	}

	// a new critical alert arrives while the operator watches the map
	f.observe(t, "lc-hong-bat-xat", "water_level", 86.4) // over báo động III (86)
	var alarm string
	if err := chromedp.Run(ctx,
		waitFor("the alarm banner", `!document.querySelector('#alarm').classList.contains('hidden')`),
		chromedp.Text("#alarm-text", &alarm),
		waitFor("the critical KPI", `Number(document.querySelector('#k-critical .v').textContent) >= 1`),
		shoot("map"),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(alarm, "CẢNH BÁO KHẨN CẤP") || !strings.Contains(alarm, "Bát Xát") {
		t.Errorf("alarm banner %q", alarm)
	}

	// acknowledge it from the console: it leaves the unacknowledged list
	critical := ""
	for deadline := time.Now().Add(5 * time.Second); critical == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		list, _ := f.engine.Alerts(context.Background(), alertsFilterCritical)
		if len(list) > 0 {
			critical = list[0].ID
		}
	}
	row := fmt.Sprintf(`tr[data-alert=%q]`, critical)
	// the detail shows the stored history (alert_events, written through the engine's outbox):
	// under load it can come a moment after the alert itself
	testenv.WaitFor(t, "the critical alert's history stored", 15*time.Second, func() bool {
		_, body := f.call(t, "operator", "GET", APIPrefix+"/alerts/"+critical, "")
		var d AlertDetail
		return json.Unmarshal(body, &d) == nil && len(d.Events) >= 1
	})
	if err := chromedp.Run(ctx,
		chromedp.Click("#alarm-ack"),
		waitFor("the console", `location.hash === '#alerts'`),
		waitFor("the alert in the unacknowledged list", fmt.Sprintf(`!!document.querySelector(%q)`, row)),
		waitFor("its history", `document.querySelectorAll('#alert-detail .history li').length >= 1`),
		shoot("alerts"),
		chromedp.Click(row+` button[data-act=acknowledge]`),
		waitFor("it to leave the unacknowledged list", fmt.Sprintf(`!document.querySelector('#alerts-table tbody %s')`, row)),
	); err != nil {
		var detail string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#alert-detail').innerText`, &detail))
		t.Fatalf("%v\nthe detail: %s", err, detail)
	}
	list, _ := f.engine.Alerts(context.Background(), alertsFilterCritical)
	if len(list) != 1 || list[0].State != "acknowledged" {
		t.Fatalf("the engine's alert after the click: %+v", list)
	}

	// the river alert's public warning waits in its detail; the duty officer approves it there
	draft, ok := f.capFeed.DraftOf(f.alert.ID)
	if !ok {
		t.Fatal("the river alert has no public warning waiting")
	}
	f.addDeliveries(t) // its notifications' receipts show in the detail too
	riverRow := fmt.Sprintf(`tr[data-alert=%q]`, f.alert.ID)
	if err := chromedp.Run(ctx,
		waitFor("the river alert in the list", fmt.Sprintf(`!!document.querySelector(%q)`, riverRow)),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).click(); true`, riverRow), nil), // the list re-renders with the live feed
		waitFor("the river alert's warning waiting in its detail", fmt.Sprintf(`document.querySelector('#alert-detail .cap-draft button[data-act="cap/approve"]')?.dataset.id === %q && (document.querySelector('#alert-detail .cap-draft')?.textContent || '').includes('chờ duyệt')`, f.alert.ID)),
		waitFor("the notifications' receipts", `document.querySelectorAll('#alert-detail .deliveries li').length === 3 && document.querySelector('#alert-detail .deliveries').textContent.includes('đã nhận') && document.querySelector('#alert-detail .deliveries').textContent.includes('503')`),
		shoot("warning-draft"),
		chromedp.Evaluate(`document.querySelector('#alert-detail .cap-draft button[data-act="cap/approve"]').click(); true`, nil),
		waitFor("the draft gone and the release said", `!document.querySelector('#alert-detail .cap-draft') && (document.querySelector('#alert-detail .notice')?.textContent || '').includes('đã được phát')`),
	); err != nil {
		var html string
		_ = chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#alert-detail').innerText`, &html))
		_, still := f.capFeed.DraftOf(f.alert.ID)
		t.Fatalf("%v\ndetail: %s\ndraft still waiting: %v", err, html, still)
	}
	if feed, _ := f.capFeed.Atom(""); !strings.Contains(string(feed), draft.Identifier) {
		t.Errorf("the approved warning %s is not on the feed", draft.Identifier)
	}
	// the history finds the river alert by a word of it, with its response times
	testenv.WaitFor(t, "the river alert in the stored history", 15*time.Second, func() bool {
		_, body := f.call(t, "operator", "GET", APIPrefix+"/alerts/history", "")
		return strings.Contains(string(body), f.alert.ID)
	})
	histRow := fmt.Sprintf(`#history-table tr[data-alert-history=%q]`, f.alert.ID)
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"#history"),
		waitFor("the river alert in the history", fmt.Sprintf(`!!document.querySelector(%q)`, histRow)),
		chromedp.SetValue("#hist-q", "không có trạm này"),
		chromedp.Click("#hist-search"),
		waitFor("nothing found for a word no alert has", fmt.Sprintf(`!document.querySelector(%q) && document.querySelector('#hist-count').textContent.startsWith('0')`, histRow)),
		chromedp.SetValue("#hist-q", "Lào Cai"),
		chromedp.Click("#hist-search"),
		waitFor("the river alert found by a word of it, and the response times", fmt.Sprintf(`!!document.querySelector(%q) && [...document.querySelectorAll('#times-table tbody tr')].some((r) => r.textContent.includes('Ban chỉ huy PCTT') && r.textContent.includes('Thiên tai')) &&
			[...document.querySelectorAll('#times-chart text.bar-label')].some((l) => l.textContent === 'Ban chỉ huy PCTT · Thiên tai') &&
			document.querySelectorAll('#times-chart rect.bar-ack').length === 1 + [...document.querySelectorAll('#times-table tbody tr')].filter((r) => r.cells[3].textContent !== '—').length`, histRow)),
		shoot("history"),
		chromedp.Click("#hist-csv"),
		waitFor("the history saved as CSV", `document.querySelector('#hist-count').textContent.includes('lich-su-canh-bao.csv')`),
		chromedp.Navigate(base+"#alerts"),
		waitFor("the console again", fmt.Sprintf(`!!document.querySelector('#alert-detail .silence-form') && document.querySelector('#alert-detail .silence-form').dataset.id === %q`, f.alert.ID)),
	); err != nil {
		t.Fatal(err)
	}
	// the duty officer silences the river alert for two hours from its detail, then ends it
	silenced := `[...document.querySelectorAll('#silences-table tbody tr[data-silence]')].find((r) => r.textContent.includes('river_alarm_level') && r.textContent.includes('bảo trì trạm'))`
	if err := chromedp.Run(ctx,
		chromedp.SetValue(`#alert-detail .silence-form input[name=reason]`, "bảo trì trạm"),
		chromedp.Evaluate(`document.querySelector('#alert-detail .silence-form button[type=submit]').click(); true`, nil),
		waitFor("the silence in the list", "!!"+silenced),
	); err != nil {
		t.Fatal(err)
	}
	if code, body := f.call(t, "operator", "GET", APIPrefix+"/silences", ""); code != 200 || !strings.Contains(string(body), `"reason":"bảo trì trạm"`) {
		t.Fatalf("the silence made in the UI: %d %s", code, body)
	}
	// a silence of a whole district for maintenance, from the form above the list
	districtSilence := `[...document.querySelectorAll('#silences-table tbody tr[data-silence]')].find((r) => r.textContent.includes('district = Sa Pa') && r.textContent.includes('bảo trì gateway'))`
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(silenced+`.querySelector('button[data-silence-end]').click(); true`, nil),
		waitFor("the silence gone from the list", "!"+silenced),
		chromedp.SetValue(`#silence-new select[name=label]`, "district"),
		chromedp.SetValue(`#silence-new input[name=value]`, "Sa Pa"),
		chromedp.SetValue(`#silence-new select[name=hours]`, "8"),
		chromedp.SetValue(`#silence-new input[name=reason]`, "bảo trì gateway"),
		chromedp.Evaluate(`document.querySelector('#silence-new button[type=submit]').click(); true`, nil),
		waitFor("the district's silence in the list, 8 hours", "!!"+districtSilence),
		chromedp.Evaluate(districtSilence+`.querySelector('button[data-silence-end]').click(); true`, nil),
		waitFor("the district's silence ended", "!"+districtSilence),
	); err != nil {
		t.Fatal(err)
	}

	// the incident the river alert opened (the flood procedure of the flash-flood scenario): the
	// operator takes it, ticks a step of the checklist with a note, prints its report and closes
	// it with a summary; the handover lists it while it is open
	incRow := fmt.Sprintf(`#incidents-table tr[data-incident=%q]`, f.incident.ID)
	incStep := `document.querySelector('#incident-detail li[data-step="monitor"]')`
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"#duty"),
		waitFor("the open incident on the handover", fmt.Sprintf(`!!document.querySelector('#handover [data-handover-incident=%q]')`, f.incident.ID)),
		chromedp.Navigate(base+"#incidents"),
		waitFor("the river's incident in the list", "!!document.querySelector("+fmt.Sprintf("%q", incRow)+")"),
		chromedp.Evaluate(`document.querySelector(`+fmt.Sprintf("%q", incRow)+`).click(); true`, nil),
		// Bát Xát's critical alert joined it: the critical procedure's steps came with it
		waitFor("its checklist, every step to do", `document.querySelectorAll('#incident-detail .checklist li').length === 7 && !!document.querySelector('#incident-detail [data-step-done="monitor"]') &&
			!document.querySelector('#incident-detail .checklist li.done') && document.querySelector('#incident-detail').textContent.includes('báo động III')`),
		shoot("incident"),
		chromedp.Evaluate(`document.querySelector('#incident-detail [data-inc-act="take"]').click(); true`, nil),
		waitFor("taken: in progress, owned by the operator", `!!document.querySelector('#incident-detail .inc-in_progress') && document.querySelector('#incident-detail').textContent.includes('Trực ban IOC')`),
		chromedp.Evaluate(`document.querySelector('#incident-detail [data-step-done="monitor"]').click(); true`, nil),
		waitFor("the step ticked with its note, in the timeline", incStep+`.classList.contains('done') && `+incStep+`.textContent.includes('Đội cơ động đã nhận') &&
			document.querySelector('#incident-detail .timeline').textContent.includes('Hoàn thành')`),
		// the report opens in a window of its own (caught here) from a blob of the fetched HTML
		chromedp.Evaluate(`window.open = () => { const w = { addEventListener() {}, close() {} }; Object.defineProperty(w, 'location', { set(u) { window.reportURL = u; } }); return w; };
			const made = URL.createObjectURL; URL.createObjectURL = (b) => { b.text().then((h) => { window.reportHTML = h; }); return made(b); };
			document.querySelector('#incident-detail [data-inc-report]').click(); true`, nil),
		waitFor("the report's blob in the window", `typeof window.reportURL === 'string' && window.reportURL.startsWith('blob:')`),
		waitFor("the report: a draft with the step and the map", `(window.reportHTML || '').includes('BÁO CÁO SỰ CỐ') && window.reportHTML.includes('BẢN NHÁP') &&
			window.reportHTML.includes('Đội cơ động đã nhận') && window.reportHTML.includes('<polygon')`),
		chromedp.Evaluate(`document.querySelector('#incident-detail [data-inc-act="closed"]').click(); true`, nil),
		waitFor("closed with the summary", `!!document.querySelector('#incident-detail .inc-closed') && document.querySelector('#incident-detail .notes').textContent === 'Đội cơ động đã nhận' &&
			!document.querySelector('#incident-detail [data-step-done]')`),
	); err != nil {
		t.Fatal(err)
	}

	// the banner leaves as soon as its alert is resolved
	f.observe(t, "lc-hong-laocai", "water_level", 84) // over báo động III (83.5): the river alert turns critical
	if err := chromedp.Run(ctx,
		waitFor("the banner of Lào Cai's critical alert", `!document.querySelector('#alarm').classList.contains('hidden') && document.querySelector('#alarm').dataset.alert === `+fmt.Sprintf("%q", f.alert.ID)),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.Resolve(context.Background(), f.alert.ID, "op.tran", "đã xử lý"); err != nil {
		t.Fatal(err)
	}
	// the map: each district in the colour of its highest open alert, one count everywhere
	f.observe(t, "lc-hong-pho-lu", "water_level", 76.4) // Phố Lu at báo động I: medium, in Bảo Thắng
	testenv.WaitFor(t, "Phố Lu's alert in the engine", 10*time.Second, func() bool {
		list, _ := f.engine.Alerts(context.Background(), alerts.Filter{States: []alerts.State{alerts.StateFiring}})
		return slices.ContainsFunc(list, func(a alerts.Alert) bool { return a.Subject == "lc-hong-pho-lu" })
	})
	if err := chromedp.Run(ctx,
		waitFor("the banner to leave with its resolved alert", `document.querySelector('#alarm').classList.contains('hidden')`),
		chromedp.Navigate(base+"#map"),
		waitFor("districts coloured by their highest alert", `(() => { const d = (n) => document.querySelector('#map polygon[data-district="' + n + '"]');
			return d('Bát Xát').classList.contains('d-critical') && d('Bảo Thắng').classList.contains('d-medium') && !d('TP Lào Cai').className.baseVal.includes('d-'); })()`),
		waitFor("the map's open alerts, the engine's", fmt.Sprintf(`document.querySelector('#k-alerts .v').textContent === '%d'`, openCount(t, f))),
	); err != nil {
		t.Fatal(err)
	}

	// cameras, trend and CSV export, health
	var csvNote string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(base+"#cameras"),
		waitFor("the camera wall", `document.querySelectorAll('#wall .cam').length === 8 && document.querySelectorAll('#wall .cam.offline').length === 1`),
		shoot("cameras"),
		chromedp.Navigate(base+"#trends"),
		waitFor("the sensor list", `document.querySelectorAll('#trend-sensors option').length > 0`),
		chromedp.Evaluate(`for (const o of document.querySelector('#trend-sensors').options) o.selected = ['lc-hong-laocai','lc-hong-bat-xat'].includes(o.value);
			document.querySelector('#trend-sensors').dispatchEvent(new Event('change')); true`, nil),
		chromedp.Click("#trend-show"),
		// five-minute readings in one-minute buckets are still lines, with the stations' báo động lines
		waitFor("the chart's lines", `document.querySelectorAll('#chart path.line').length === 2 && [...document.querySelectorAll('#chart path.line')].every((p) => (p.getAttribute('d').match(/L/g) || []).length > 200)`),
		waitFor("the báo động I, II, III lines of both stations", `document.querySelectorAll('#chart line.alarm-level').length === 6 && document.querySelector('#chart .alarm-label').textContent === 'BĐ I'`),
		shoot("trends"),
		chromedp.Click("#trend-csv"),
		waitFor("the export", `document.querySelector('#trend-note').textContent.includes('.csv')`),
		chromedp.Text("#trend-note", &csvNote),
		chromedp.Navigate(base+"#health"),
		waitFor("the health cards", `document.querySelectorAll('#health-cards .card').length >= 3`),
		waitFor("the dead letters by reason", `document.querySelectorAll('#dead-letters tbody tr').length === 2 && document.querySelector('#dead-letters').textContent.includes('JSON lỗi')`),
		waitFor("the health page's open alerts, the engine's", fmt.Sprintf(`[...document.querySelectorAll('#health-cards .row')].some((r) => r.textContent === 'Cảnh báo đang mở%d')`, openCount(t, f))),
		shoot("health"),
		chromedp.Click("#lang"),
		waitFor("English", `document.querySelector('[data-view=map]').textContent === 'Map'`),
		// in English every label is English: units, metrics, the engine's reasons in the history
		chromedp.Navigate(base+"#alerts"),
		chromedp.Click(`input[name=af][value=all]`),
		waitFor("the alert list", `document.querySelectorAll('#alerts-table tbody tr').length >= 1`),
		chromedp.Click(`#alerts-table tbody tr`),
		waitFor("its history in English", `document.querySelectorAll('#alert-detail .history li').length >= 1 && document.querySelector('#alert-detail .history').textContent.includes('condition')`),
		waitFor("no Vietnamese reason and no raw id", `!/điều kiện|mức độ|flood_control|water_level/.test(document.querySelector('main').innerText) && document.querySelector('#alerts-table').innerText.includes('Flood control')`),
	); err != nil {
		t.Fatal(err)
	}
	// the wall screen's role may not read trends or dead letters: no Trends tab, no such card
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(fmt.Sprintf(`sessionStorage.setItem('ioc.token', %q); true`, f.tokens["viewer"]), nil),
		chromedp.Navigate(base+"#trends"),
		chromedp.Reload(), // a new page, logged in with the viewer's token
		waitFor("the viewer's map", `!!S.me && S.me.role === 'viewer' && S.view === 'map' && document.querySelector('#nav a[data-view=trends]').classList.contains('hidden')`),
		chromedp.Navigate(base+"#health"),
		waitFor("the viewer's health page", `document.querySelectorAll('#health-cards .card').length === 3 && !document.querySelector('#dead-letters')`),
		waitFor("no admin tab for the viewer", `document.querySelector('#nav a[data-view=admin]').classList.contains('hidden')`),
		// the viewer's default is the wall screen: no controls, type readable at 5 m, the map,
		// the cameras and the open alerts in turn (here every 2 s)
		chromedp.Navigate(base+"?rotate=2"),
		waitFor("the wall screen by default", `!!S.me && S.view === 'screen' && document.body.classList.contains('wallscreen') &&
			getComputedStyle(document.querySelector('#nav')).display === 'none' && getComputedStyle(document.querySelector('#logout')).display === 'none' &&
			parseFloat(getComputedStyle(document.querySelector('#screen-kpis .kpi .v')).fontSize) >= 48 &&
			`+drawnSensors+`('#screen-map') === S.sensors.size`),
		shoot("wall-screen"),
		waitFor("the cameras' slide", `document.querySelectorAll('#screen-cams .cam').length === S.cameras.size && !document.querySelector('[data-slide=cameras]').classList.contains('hidden')`),
		// the river alert came back critical after its incident was closed: a new incident
		waitFor("the open incidents' slide", `!document.querySelector('[data-slide=incidents]').classList.contains('hidden') && document.querySelectorAll('#screen-incidents li[data-screen-incident]').length >= 1 &&
			parseFloat(getComputedStyle(document.querySelector('#screen-incidents li')).fontSize) >= 28`),
		waitFor("the open alerts' slide", `!document.querySelector('[data-slide=alerts]').classList.contains('hidden') && document.querySelectorAll('#screen-alerts li[data-screen-alert]').length >= 1 &&
			parseFloat(getComputedStyle(document.querySelector('#screen-alerts li')).fontSize) >= 28`),
		shoot("wall-screen-alerts"),
		waitFor("the map's slide again", `!document.querySelector('[data-slide=map]').classList.contains('hidden')`),
	); err != nil {
		t.Fatal(err)
	}
	// the admin makes an API key on its screen: the token shown once, the key listed without it
	var shown string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(fmt.Sprintf(`sessionStorage.setItem('ioc.token', %q); true`, f.tokens["admin"]), nil),
		chromedp.Navigate(base+"#admin"),
		chromedp.Reload(),
		waitFor("the admin screen with the config's keys", `S.view === 'admin' && document.querySelectorAll('#keys-table tbody tr').length >= 6`),
		chromedp.SendKeys("#key-id", "zalo-oa"),
		chromedp.SendKeys("#key-name", "Zalo OA tỉnh"),
		chromedp.SetValue("#key-role", "viewer"),
		chromedp.Click("#key-create"),
		waitFor("the new key's token and its row", `!document.querySelector('#key-token').classList.contains('hidden') && !!document.querySelector('#keys-table tr[data-key="zalo-oa"]')`),
		chromedp.Text("#key-token", &shown),
		waitFor("the rules in force", `document.querySelectorAll('#rules-table tbody tr[data-rule]').length > 10`),
		waitFor("the correlations and procedures in force", `!!document.querySelector('#correlations-table tr[data-correlation="flood_basin"]') &&
			document.querySelectorAll('#procedures details.procedure').length >= 10 && document.querySelector('#procedures [data-procedure="fire/high"]').textContent.includes('114')`),
		waitFor("the catalogs with the latest readings", `document.querySelectorAll('#catalog-sensors tbody tr').length === S.sensors.size && S.sensors.size > 20 &&
			/(Water level|Mực nước) 84/.test(document.querySelector('#catalog-sensors tr[data-catalog-sensor="lc-hong-laocai"]').textContent)`),
		chromedp.Click("#rules-reload"),
		waitFor("the reload said", `/\d+ (rules loaded|luật)/.test(document.querySelector('#rules-result').textContent)`),
		shoot("admin-keys"),
	); err != nil {
		t.Fatal(err)
	}
	var listed string
	if err := chromedp.Run(ctx, chromedp.Text("#keys-table", &listed)); err != nil {
		t.Fatal(err)
	}
	token := shown[strings.Index(shown, "ioc_"):]
	if _, err := f.srv.auth.Authenticate(context.Background(), token); err != nil || strings.Contains(listed, token) {
		t.Errorf("the token shown (%q) must work and never be listed: %v", token, err)
	}
	var csv []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if csv, err = os.ReadFile(filepath.Join(downloads, "xu-huong-water_level.csv")); err == nil && len(csv) > 0 {
			break
		}
	}
	if hist, err := os.ReadFile(filepath.Join(downloads, "lich-su-canh-bao.csv")); err != nil || !strings.Contains(string(hist), f.alert.ID) {
		t.Errorf("the history's CSV: %v, %q", err, hist)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) < 100 || !strings.HasPrefix(strings.TrimPrefix(lines[0], "\ufeff"), "Mã cảm biến,Chỉ số,Đơn vị,Thời gian (UTC)") {
		t.Fatalf("CSV export (%s): %d lines, header %q", csvNote, len(lines), lines[0])
	}
	// the raw readings behind it, for an analyst, with an English header
	code, raw := f.call(t, "analyst", "GET", APIPrefix+"/exports/readings.csv?sensors=lc-hong-laocai&metric=water_level&lang=en", "")
	rows := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if code != 200 || len(rows) < 280 || !strings.HasPrefix(rows[0], "sensor,") {
		t.Fatalf("readings export: %d, %d lines, header %q", code, len(rows), rows[0])
	}

	// the duty officer writes in the duty log and hands the shift over with the alerts nobody
	// acknowledged; the outgoing officer cannot take it over; another officer (the admin) does
	asToken := func(key, view string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.Evaluate(fmt.Sprintf(`sessionStorage.setItem('ioc.token', %q); true`, f.tokens[key]), nil),
			chromedp.Navigate(base + "#" + view),
			chromedp.Reload(),
		}
	}
	if err := chromedp.Run(ctx,
		asToken("operator", "duty"),
		waitFor("the duty screen", `S.view === 'duty' && S.me.role === 'operator' && !!document.querySelector('#handover-do')`),
		chromedp.SendKeys("#duty-text", "22:10 mưa lớn ở Sa Pa, đã báo đội cơ động"),
		chromedp.Click("#duty-add"),
		waitFor("the line in the log", `[...document.querySelectorAll('#duty-log li[data-duty-entry]')].some((li) => li.textContent.includes('mưa lớn ở Sa Pa'))`),
		chromedp.SendKeys("#handover-notes", "Theo dõi mực nước sông Hồng tại Lào Cai"),
		chromedp.Click("#handover-do"),
		waitFor("the handover waiting, with no take-over button for its own officer", `!!document.querySelector('#handover-waiting') && !document.querySelector('#handover-accept') &&
			document.querySelector('#handover').textContent.includes('sông Hồng')`),
		shoot("duty-handover"),
		asToken("admin", "duty"),
		waitFor("the handover for the next officer", `S.view === 'duty' && !!document.querySelector('#handover-accept')`),
		chromedp.SendKeys("#accept-note", "Đã nhận ca, đã đọc dặn dò"),
		chromedp.Click("#handover-accept"),
		waitFor("the shift taken over", `!document.querySelector('#handover-waiting') && /Trực ban IOC → Quản trị/.test(document.querySelector('#handover-last').textContent)`),
		shoot("duty-taken-over"),
	); err != nil {
		t.Fatal(err)
	}
	if code, body := f.call(t, "operator", "GET", APIPrefix+"/duty/handovers", ""); code != 200 || !strings.Contains(string(body), "Đã nhận ca, đã đọc dặn dò") {
		t.Errorf("the handover taken over in the browser: %d %s", code, body)
	}
}

// signedIn opens the UI at base (a page of its origin, so that its session storage may be
// written) signed in with token, on the page of hash.
func signedIn(base, token, hash string) chromedp.Tasks {
	return chromedp.Tasks{chromedp.Navigate(base), chromedp.Evaluate(fmt.Sprintf(`sessionStorage.setItem('ioc.token', %q); true`, token), nil),
		chromedp.Navigate(base + hash), chromedp.Reload()}
}
