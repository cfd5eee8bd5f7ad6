package dashboard

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest/citizen"
	"github.com/haidang-ioc/ioc/ingest/citizen/photos"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/citizensim"
	"github.com/haidang-ioc/ioc/streams"
)

// citizenFixture is the API fixture serving citizen apps: photos on disk in dir, reports in the
// fixture's ClickHouse, a device allowed limit reports per window.
func citizenFixture(t *testing.T, limit int) (*fixture, string) {
	t.Helper()
	dir := t.TempDir()
	store := &analytics.CitizenStore{Timeout: 10 * time.Second}
	lim := config.Default().Citizen
	lim.Enabled, lim.DeviceLimit, lim.MaxRequestBytes, lim.MaxPhotoBytes = true, limit, 4<<20, 2<<20
	f := newFixture(t, 0, func(o *Options) {
		o.Citizen = &Citizen{Photos: &photos.Disk{Dir: dir}, Store: store, Reports: store, Stats: store, Limits: lim}
	})
	store.Conn = testenv.Conn(t, f.chCfg) // the fixture's database, known once it is made
	f.srv.opts.Citizen.Stored = f.triage.Nudge
	return f, dir
}

// photoJPEG is a small street picture.
func photoJPEG(t *testing.T, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for i := range img.Pix {
		img.Pix[i] = shade
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	img.Set(10, 10, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// submit posts a report as key from device, with photos; it answers the status and body.
func (f *fixture) submit(t *testing.T, key, device, report string, photos ...[]byte) (int, []byte, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if report != "" {
		_ = mw.WriteField("report", report)
	}
	for i, p := range photos {
		w, _ := mw.CreateFormFile("photos", fmt.Sprintf("anh-%d.jpg", i+1))
		_, _ = w.Write(p)
	}
	_ = mw.Close()
	req := httptest.NewRequest("POST", APIPrefix+"/citizen-reports", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+f.tokens[key])
	if device != "" {
		req.Header.Set("X-Device-ID", device)
	}
	resp, err := f.srv.App().Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Retry-After")
}

func reportJSON(clientID, category string, lat, lon float64) string {
	return fmt.Sprintf(`{"client_id": %q, "category": %q, "description": "Rác thải đổ trộm ở đầu ngõ 12 đường Hoàng Liên, bốc mùi",
 "location": {"lat": %g, "lon": %g}, "contact": {"name": "Nguyễn Văn A", "phone": "0912 345 678"}}`, clientID, category, lat, lon)
}

// TestCitizenReports: a citizen app submits a report with two photos and gets a ticket; the
// same report sent again is the same ticket; the ticket shows its state (never the contact);
// the photos are kept as files named by their hashes with their thumbnails. Bad input is
// refused with its reason and kept as a dead letter, nothing else stored: a non-image, a
// 50,000 × 50,000 PNG, six photos, a place outside the province, an oversized request, a
// device sending too many; only the app role may submit.
func TestCitizenReports(t *testing.T) {
	f, dir := citizenFixture(t, 4)
	const dev = "device-7f3a9c21"
	code, b, _ := f.submit(t, "app", dev, reportJSON("c-0001-aaaa", "sanitation", 22.4979, 103.9688), photoJPEG(t, 90), photoJPEG(t, 160))
	var rc CitizenReceipt
	if code != 201 || json.Unmarshal(b, &rc) != nil || !citizen.ValidTicket(rc.Ticket) || rc.State != "received" || rc.Duplicate {
		t.Fatalf("a good report: %d %s", code, b)
	}
	code, b, _ = f.submit(t, "app", dev, reportJSON("c-0001-aaaa", "sanitation", 22.4979, 103.9688), photoJPEG(t, 90))
	var again CitizenReceipt
	if code != 200 || json.Unmarshal(b, &again) != nil || again.Ticket != rc.Ticket || !again.Duplicate {
		t.Errorf("the same report again: %d %s, want 200 with ticket %s", code, b, rc.Ticket)
	}
	code, b = f.call(t, "app", "GET", APIPrefix+"/citizen-reports/tickets/"+rc.Ticket, "")
	if code != 200 || !strings.Contains(string(b), `"state":"received"`) || !strings.Contains(string(b), `"category":"sanitation"`) ||
		strings.Contains(string(b), "0912") || strings.Contains(string(b), "Nguyễn") {
		t.Errorf("the ticket's status: %d %s", code, b)
	}
	if code, _ := f.call(t, "app", "GET", APIPrefix+"/citizen-reports/tickets/PA-261201-0000ZZ", ""); code != 404 {
		t.Errorf("an unknown ticket: %d, want 404", code)
	}
	if code, _ := f.call(t, "app", "GET", APIPrefix+"/citizen-reports/tickets/x'1", ""); code != 400 {
		t.Errorf("a malformed ticket: %d, want 400", code)
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			files = append(files, filepath.Base(p))
		}
		return nil
	})
	if len(files) != 4 { // two photos and their thumbnails
		t.Errorf("kept files: %v", files)
	}

	// refused, each with its reason
	var gif bytes.Buffer
	gif.WriteString("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 50_000), 50_000)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	bomb := append(append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, 13)...), chunk...)
	bomb = binary.BigEndian.AppendUint32(bomb, crc32.ChecksumIEEE(chunk))
	six := [][]byte{}
	for range 6 {
		six = append(six, photoJPEG(t, 100))
	}
	for _, tc := range []struct {
		name, report string
		photos       [][]byte
		code         int
		want         string
	}{
		{"a GIF", reportJSON("c-0002-gif", "sanitation", 22.4979, 103.9688), [][]byte{gif.Bytes()}, 400, "photo_type"},
		{"a PNG bomb", reportJSON("c-0003-bomb", "sanitation", 22.4979, 103.9688), [][]byte{bomb}, 400, "photo_too_many_pixels"},
		{"six photos", reportJSON("c-0004-six", "sanitation", 22.4979, 103.9688), six, 400, "photos: 6 photos"},
		{"outside the province", reportJSON("c-0005-out", "sanitation", 10.2449, 106.3680), [][]byte{photoJPEG(t, 1)}, 400, "outside the province"},
		{"an unknown category", reportJSON("c-0006-cat", "ufo", 22.4979, 103.9688), [][]byte{photoJPEG(t, 1)}, 400, "unknown category"},
		{"not JSON", "{nope", [][]byte{photoJPEG(t, 1)}, 400, "bad_report"},
	} {
		code, b, _ := f.submit(t, "app", "device-other-"+tc.name[:2], tc.report, tc.photos...)
		if code != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, b, tc.code, tc.want)
		}
	}
	if code, b, _ := f.submit(t, "app", "", reportJSON("c-0007-nodev", "sanitation", 22.4979, 103.9688), photoJPEG(t, 1)); code != 400 || !strings.Contains(string(b), "X-Device-ID") {
		t.Errorf("no device: %d %s", code, b)
	}
	// over max_request_bytes: answered 413 from its headers, before the body is read (a real
	// listener: fiber's in-process test refuses it itself)
	conn0, err := net.Dial("tcp", f.serve(t))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn0, "POST %s/citizen-reports HTTP/1.1\r\nHost: ioc\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n",
		APIPrefix, f.tokens["app"], 5<<20)
	_ = conn0.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(conn0), nil); err != nil || resp.StatusCode != 413 {
		t.Errorf("a request over max_request_bytes: %v %v, want 413", resp, err)
	}
	conn0.Close()
	if code, _, _ := f.submit(t, "operator", dev, reportJSON("c-0009-op", "sanitation", 22.4979, 103.9688), photoJPEG(t, 1)); code != 403 {
		t.Errorf("an operator submits: %d, want 403", code)
	}
	// a flood from one device: the fifth report in the window is refused (the resend did not count)
	for i := 2; i <= 5; i++ {
		code, _, retry := f.submit(t, "app", dev, reportJSON(fmt.Sprintf("c-1%03d-flood", i), "encroachment", 22.4979, 103.9688), photoJPEG(t, uint8(i)))
		switch {
		case i <= 4 && code != 201:
			t.Errorf("report %d of the device: %d, want 201", i, code)
		case i == 5 && (code != 429 || retry == ""):
			t.Errorf("report %d of the device: %d (Retry-After %q), want 429", i, code, retry)
		}
	}
	// the staff: the operator lists the four with the contact, the wall screen without it, a
	// unit none (none is routed to it yet); a photo by its hash to those who see its report
	var list Page[citizen.Report]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports?limit=3", ""); code != 200 || json.Unmarshal(b, &list) != nil ||
		list.Total != 4 || len(list.Items) != 3 || list.Items[0].Category != "encroachment" || list.Items[2].Received.After(list.Items[0].Received) {
		t.Fatalf("the operator's list: %d %s", code, b)
	}
	var san Page[citizen.Report]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports?category=sanitation", ""); code != 200 || json.Unmarshal(b, &san) != nil || san.Total != 1 ||
		!strings.Contains(string(b), "0912 345 678") || strings.Contains(string(b), dev) {
		t.Fatalf("the sanitation report for the operator: %d %s", code, b)
	}
	first := san.Items[0]
	if code, b := f.call(t, "viewer", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || !strings.Contains(string(b), `"total":4`) || strings.Contains(string(b), "0912") {
		t.Errorf("the wall screen's list: %d %s", code, b)
	}
	if code, b := f.call(t, "flood", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || !strings.Contains(string(b), `"total":0`) {
		t.Errorf("a unit's list: %d %s", code, b)
	}
	if code, _ := f.call(t, "flood", "GET", APIPrefix+"/citizen-reports/"+first.ID, ""); code != 404 {
		t.Errorf("a unit reads a report not routed to it: %d, want 404", code)
	}
	var one citizen.Report
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports/"+first.ID, ""); code != 200 || json.Unmarshal(b, &one) != nil || one.ID != first.ID || len(one.Photos) != 2 || one.Ticket != rc.Ticket {
		t.Fatalf("one report: %d %s", code, b)
	}
	photo := APIPrefix + "/citizen-reports/" + one.ID + "/photos/"
	for _, h := range []string{one.Photos[0].Hash, one.Photos[0].Thumb} {
		code, body, hdr := f.raw(t, "operator", photo+h)
		if cfg, err := jpeg.DecodeConfig(strings.NewReader(body)); code != 200 || hdr["type"] != "image/jpeg" || err != nil || cfg.Width == 0 {
			t.Errorf("photo %s: %d %s %v", h, code, hdr["type"], err)
		}
		if code, _, _ := f.raw(t, "flood", photo+h); code != 404 {
			t.Errorf("a unit asks for a photo of a report not routed to it: %d, want 404", code)
		}
	}
	if code, _, _ := f.raw(t, "operator", photo+strings.Repeat("ab", 32)); code != 404 {
		t.Errorf("an unknown photo: %d, want 404", code)
	}
	other := list.Items[0] // another report: its photos are not this one's
	if code, _, _ := f.raw(t, "operator", APIPrefix+"/citizen-reports/"+other.ID+"/photos/"+one.Photos[0].Hash); code != 404 || other.ID == one.ID {
		t.Errorf("a photo asked for under another report: %d, want 404", code)
	}
	if code, _, _ := f.raw(t, "operator", photo+"..%2f..%2fetc%2fpasswd"); code != 400 {
		t.Errorf("a path for a photo: %d, want 400", code)
	}

	conn := testenv.Conn(t, f.chCfg)
	var reports, dead uint64
	ctx := t.Context()
	if err := conn.QueryRow(ctx, "SELECT uniqExact(report_id) FROM citizen_report_events").Scan(&reports); err != nil || reports != 4 {
		t.Errorf("reports stored: %d %v, want 4", reports, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM dead_letters WHERE source = 'citizen'").Scan(&dead); err != nil || dead != 7 {
		t.Errorf("dead letters of refused submissions: %d %v, want 7", dead, err)
	}
}

// TestCitizenQueueInTheBrowser: a citizen's report is a diamond on the operator's map; clicked,
// the Phản ánh tab lists it with its thumbnail and shows its ticket, contact and photo.
func TestCitizenQueueInTheBrowser(t *testing.T) {
	exe := chromium(t)
	f, _ := citizenFixture(t, 5)
	code, b, _ := f.submit(t, "app", "device-browser-01", reportJSON("c-web-0001", "encroachment", 22.4979, 103.9688), photoJPEG(t, 120))
	var rc CitizenReceipt
	if code != 201 || json.Unmarshal(b, &rc) != nil {
		t.Fatalf("the report: %d %s", code, b)
	}
	var list Page[citizen.Report]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 {
		t.Fatalf("the list: %d %s", code, b)
	}
	f.waitReport(t, "operator", list.Items[0].ID, "routed", func(r citizen.Report) bool { return r.Alert != "" })
	base := "http://" + f.serve(t) + "/"
	ctx := browserContext(t, exe, 60*time.Second)
	if err := chromedp.Run(ctx,
		signedIn(base, f.tokens["operator"], "#map"),
		waitJS("the report on the map", `!!document.querySelector('#map polygon.report.rep-received[data-report]')`),
		chromedp.Evaluate(`document.querySelector('#map polygon.report').dispatchEvent(new MouseEvent('click', { bubbles: true })); true`, nil),
		waitJS("the tab and the report with its thumbnail", `!document.querySelector('#nav-reports-link').classList.contains('hidden') &&
			document.querySelector('#nav-reports').textContent === '1' &&
			(() => { const i = document.querySelector('#reports-table tr[data-report] img.thumb'); return !!i && i.complete && i.naturalWidth === 320; })() &&
			document.querySelector('#reports-table').textContent.includes('Lấn chiếm vỉa hè')`),
		waitJS("the report's detail with its photo, opened from the map", fmt.Sprintf(`(() => { const p = document.querySelector('#report-detail');
			const i = p.querySelector('.rep-photos img'); return p.textContent.includes(%q) && p.textContent.includes('0912 345 678') &&
			p.textContent.includes('Tiếp nhận') && !!i && i.complete && i.naturalWidth === 400; })()`, rc.Ticket)),
		waitJS("routed to the traffic police, with its deadline", `(() => { const p = document.querySelector('#report-detail');
			return p.textContent.includes('CSGT') && p.textContent.includes('Hạn xử lý') && p.textContent.includes('1 phản ánh cùng nơi') &&
			document.querySelector('#reports-table tr[data-report]').textContent.includes('CSGT'); })()`),
		chromedp.Evaluate(`document.querySelector('#report-detail [data-rep-act=take]').click(); true`, nil),
		waitJS("taken: in progress in the queue", `document.querySelector('#reports-table tr[data-report] td.rep-in_progress')?.textContent === 'Đang xử lý'`),
		chromedp.Evaluate(`document.querySelector('#rep-stats-toggle').click(); true`, nil),
		waitJS("the statistics by category", `(() => { const r = document.querySelector('#rep-stats tbody tr'); return !!r && r.cells.length === 9 &&
			r.cells[0].textContent.includes('Lấn chiếm') && r.cells[1].textContent === '1' && r.cells[3].textContent === '1' && r.cells[7].textContent !== '—'; })()`),
	); err != nil {
		t.Fatal(err)
	}
}

// The simulated citizen app's reports pass the real intake: tickets, photos whose EXIF puts
// them within a hundred metres of the place and minutes before the report; a restarted app's
// reports are new ones.
func TestSimulatedCitizenApp(t *testing.T) {
	f, _ := citizenFixture(t, 10)
	base := "http://" + f.serve(t)
	app := citizensim.New(citizensim.Config{Base: base, Token: f.tokens["app"], Seed: 7,
		Places: []citizensim.Place{{Name: "Nút giao Cốc Lếu – Hoàng Liên", Location: geo.Location{Lat: 22.4979, Lon: 103.9688}}}}, slog.New(slog.DiscardHandler))
	var first string
	for i := range 3 {
		tk, err := app.Send(t.Context())
		if err != nil || !citizen.ValidTicket(tk) {
			t.Fatalf("a simulated report: %q %v", tk, err)
		}
		if i == 0 {
			first = tk
		}
	}
	// the app run again (a demo restarted) draws the same report, and sends it as a new one
	again := citizensim.New(citizensim.Config{Base: base, Token: f.tokens["app"], Seed: 7,
		Places: []citizensim.Place{{Name: "Nút giao Cốc Lếu – Hoàng Liên", Location: geo.Location{Lat: 22.4979, Lon: 103.9688}}}}, slog.New(slog.DiscardHandler))
	if tk, err := again.Send(t.Context()); err != nil || tk == first {
		t.Fatalf("the restarted app's first report: %q %v, taken as a resend of %s", tk, err, first)
	}
	var list Page[citizen.Report]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || json.Unmarshal(b, &list) != nil || list.Total != 4 {
		t.Fatalf("the simulated reports: %d %s", code, b)
	}
	for _, r := range list.Items {
		if !strings.Contains(r.Description, "Cốc Lếu") || r.District != "TP Lào Cai" || len(r.Photos) == 0 {
			t.Errorf("report %+v", r)
		}
		for _, p := range r.Photos {
			if p.Location == nil || p.DistanceM > 120 || p.Taken.IsZero() || !p.Taken.Before(r.Received) || r.Received.Sub(p.Taken) > time.Hour {
				t.Errorf("photo %+v of a report received %s", p, r.Received)
			}
		}
	}
}

// waitReport polls a report as key until ok holds (the engine routes it within a poll, and its
// changes reach the store a moment after), failing after 15 s with the last answer.
func (f *fixture) waitReport(t *testing.T, key, id, what string, ok func(r citizen.Report) bool) citizen.Report {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, b := f.call(t, key, "GET", APIPrefix+"/citizen-reports/"+id, "")
		var r citizen.Report
		if code == 200 && json.Unmarshal(b, &r) == nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: report %s as %s: %d %s", what, id, key, code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCitizenTriage: reports raise alerts through the routing tree, two of one category 30 m
// apart are one group, the unit takes, answers or rejects them, the citizens read the answer by
// ticket, and the analysts count them.
func TestCitizenTriage(t *testing.T) {
	f, _ := citizenFixture(t, 10)
	ids := map[string]CitizenReceipt{}
	for _, r := range []struct{ name, device, category string }{
		{"a", "device-triage-a", "public_order"}, {"b", "device-triage-b", "public_order"}, {"c", "device-triage-c", "sanitation"},
	} {
		lat := 22.4979
		if r.name == "b" {
			lat += 0.00027 // 30 m north
		}
		code, b, _ := f.submit(t, "app", r.device, reportJSON("c-triage-"+r.name, r.category, lat, 103.9688), photoJPEG(t, 70))
		var rc CitizenReceipt
		if code != 201 || json.Unmarshal(b, &rc) != nil {
			t.Fatalf("report %s: %d %s", r.name, code, b)
		}
		ids[r.name] = rc
	}
	var list Page[citizen.Report]
	if code, b := f.call(t, "operator", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || json.Unmarshal(b, &list) != nil || list.Total != 3 {
		t.Fatalf("the list: %d %s", code, b)
	}
	byTicket := map[string]citizen.Report{}
	for _, r := range list.Items {
		byTicket[r.Ticket] = r
	}
	a, b, c := byTicket[ids["a"].Ticket].ID, byTicket[ids["b"].Ticket].ID, byTicket[ids["c"].Ticket].ID
	routed := func(r citizen.Report) bool { return r.Alert != "" }
	ra := f.waitReport(t, "operator", a, "routed", func(r citizen.Report) bool { return routed(r) && r.Group == 2 })
	rb := f.waitReport(t, "operator", b, "routed", func(r citizen.Report) bool { return routed(r) && r.Group == 2 })
	rc := f.waitReport(t, "operator", c, "routed", routed)
	if ra.Alert != rb.Alert || ra.Alert == rc.Alert || !slices.Contains(ra.Units, "police") || slices.Contains(rc.Units, "police") ||
		!slices.Contains(rc.Units, "environment") || ra.DueAt.IsZero() || ra.State != citizen.StateReceived {
		t.Errorf("routing: a %+v\nb %+v\nc %+v", ra.Triage, rb.Triage, rc.Triage)
	}
	// the units see their own: the police the group, not the sanitation report
	if code, body := f.call(t, "police", "GET", APIPrefix+"/citizen-reports", ""); code != 200 || !strings.Contains(string(body), `"total":2`) || strings.Contains(string(body), c) {
		t.Errorf("the police's list: %d %s", code, body)
	}
	if code, _ := f.call(t, "police", "GET", APIPrefix+"/citizen-reports/"+c, ""); code != 404 {
		t.Errorf("the police read the sanitation report: %d, want 404", code)
	}
	var al AlertDetail
	if code, body := f.call(t, "police", "GET", APIPrefix+"/alerts/"+ra.Alert, ""); code != 200 || json.Unmarshal(body, &al) != nil ||
		al.Alert.Source != "citizen" || al.Alert.SubCategory != "public_order" || len(al.Alert.Reports) != 2 || !strings.HasPrefix(al.Alert.Title.VI, "Phản ánh: Trật tự, an ninh") {
		t.Errorf("the group's alert: %d %s", code, body)
	}

	// acting: the flood unit cannot, the wall screen may not, the police take and answer
	if code, _ := f.call(t, "flood", "POST", APIPrefix+"/citizen-reports/"+a+"/take", `{}`); code != 404 {
		t.Errorf("another unit takes the report: %d, want 404", code)
	}
	if code, _ := f.call(t, "viewer", "POST", APIPrefix+"/citizen-reports/"+a+"/take", `{}`); code != 403 {
		t.Errorf("the wall screen takes the report: %d, want 403", code)
	}
	if code, body := f.call(t, "police", "POST", APIPrefix+"/citizen-reports/"+a+"/take", `{"note": "tổ tuần tra 113 đang tới"}`); code != 200 || !strings.Contains(string(body), `"state":"in_progress"`) {
		t.Errorf("the police take the report: %d %s", code, body)
	}
	f.waitReport(t, "police", b, "the group's other report in progress", func(r citizen.Report) bool { return r.State == citizen.StateInProgress })
	if code, body := f.call(t, "police", "POST", APIPrefix+"/citizen-reports/"+a+"/answer", `{"answer": ""}`); code != 400 || !strings.Contains(string(body), "answer") {
		t.Errorf("an answer without text: %d %s", code, body)
	}
	const answer = "Công an phường Cốc Lếu đã giải tán nhóm tụ tập và nhắc nhở các hộ liên quan."
	if code, body := f.call(t, "police", "POST", APIPrefix+"/citizen-reports/"+b+"/answer", fmt.Sprintf(`{"answer": %q}`, answer)); code != 200 || !strings.Contains(string(body), `"state":"resolved"`) {
		t.Errorf("the police answer: %d %s", code, body)
	}
	f.waitReport(t, "police", a, "answered", func(r citizen.Report) bool { return r.State == citizen.StateResolved && r.Answer == answer })
	if code, body := f.call(t, "police", "POST", APIPrefix+"/citizen-reports/"+a+"/answer", `{"answer": "lần nữa"}`); code != 409 {
		t.Errorf("answered twice: %d %s, want 409", code, body)
	}
	code, body := f.call(t, "app", "GET", APIPrefix+"/citizen-reports/tickets/"+ids["a"].Ticket, "")
	var st CitizenStatus
	if code != 200 || json.Unmarshal(body, &st) != nil || st.State != citizen.StateResolved || st.Answer != answer || strings.Contains(string(body), "police") {
		t.Errorf("the citizen's ticket: %d %s", code, body)
	}
	// the operator rejects the sanitation report with the reason its citizen reads
	const reason = "Địa điểm thuộc khu vực tư nhân, đề nghị liên hệ ban quản lý tòa nhà."
	if code, body := f.call(t, "operator", "POST", APIPrefix+"/citizen-reports/"+c+"/reject", fmt.Sprintf(`{"reason": %q}`, reason)); code != 200 || !strings.Contains(string(body), `"state":"rejected"`) {
		t.Errorf("the operator rejects: %d %s", code, body)
	}
	f.waitReport(t, "operator", c, "rejected", func(r citizen.Report) bool { return r.State == citizen.StateRejected && r.Answer == reason })
	if code, body := f.call(t, "app", "GET", APIPrefix+"/citizen-reports/tickets/"+ids["c"].Ticket, ""); code != 200 || !strings.Contains(string(body), `"state":"rejected"`) || !strings.Contains(string(body), reason) {
		t.Errorf("the rejected report's ticket: %d %s", code, body)
	}

	// the analysts' counts and response times; a unit's own only
	var stats []analytics.ReportStat
	if code, body := f.call(t, "analyst", "GET", APIPrefix+"/citizen-reports/stats?by=category", ""); code != 200 || json.Unmarshal(body, &stats) != nil || len(stats) != 2 ||
		stats[0].Key != "public_order" || stats[0].Reports != 2 || stats[0].Resolved != 2 || stats[0].MedianResponseSeconds == nil || stats[0].MedianAnswerSeconds == nil ||
		*stats[0].MedianAnswerSeconds < *stats[0].MedianResponseSeconds || stats[1].Key != "sanitation" || stats[1].Rejected != 1 {
		t.Errorf("stats by category: %d %s", code, body)
	}
	if code, body := f.call(t, "analyst", "GET", APIPrefix+"/citizen-reports/stats?by=unit", ""); code != 200 || !strings.Contains(string(body), `"key":"police","reports":2`) ||
		!strings.Contains(string(body), `"key":"ioc","reports":3`) || !strings.Contains(string(body), `"key":"environment","reports":1`) {
		t.Errorf("stats by unit: %d %s", code, body)
	}
	if code, body := f.call(t, "police", "GET", APIPrefix+"/citizen-reports/stats?by=unit", ""); code != 200 || string(body) == "" || strings.Contains(string(body), "environment") ||
		strings.Contains(string(body), `"key":"ioc"`) || !strings.Contains(string(body), `"key":"police","reports":2`) {
		t.Errorf("the police's stats: %d %s", code, body)
	}
	if code, _ := f.call(t, "analyst", "GET", APIPrefix+"/citizen-reports/stats?by=colour", ""); code != 400 {
		t.Errorf("stats by an unknown key: %d, want 400", code)
	}
}

// A report links to the nearest camera within 150 m, and to none farther.
func TestNearestCamera(t *testing.T) {
	cams, err := streams.ParseCameraCatalog([]byte(`cameras:
  - {id: near, name: Gần, url: "rtsp://127.0.0.1:1/a", location: {lat: 22.4980, lon: 103.9688}, district: TP Lào Cai, purpose: traffic, owner_unit: traffic_police}
  - {id: nearer, name: Gần hơn, url: "rtsp://127.0.0.1:1/b", location: {lat: 22.49795, lon: 103.9688}, district: TP Lào Cai, purpose: traffic, owner_unit: traffic_police}
  - {id: far, name: Xa, url: "rtsp://127.0.0.1:1/c", location: {lat: 22.5100, lon: 103.9688}, district: TP Lào Cai, purpose: traffic, owner_unit: traffic_police}
`), config.Units, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if id, d := nearestCamera(cams, geo.Location{Lat: 22.4979, Lon: 103.9688}); id != "nearer" || d != 6 {
		t.Errorf("nearest = %s at %v m, want nearer at 6 m", id, d)
	}
	if id, _ := nearestCamera(cams, geo.Location{Lat: 22.4900, Lon: 103.9688}); id != "" {
		t.Errorf("a report 900 m from every camera links to %s", id)
	}
}

// A report whose routing was stored but whose alert was not (the process died between the two
// writes) is open with an alert nobody holds: the engine routes it again.
func TestCitizenReportOfALostAlert(t *testing.T) {
	f, _ := citizenFixture(t, 10)
	store := f.srv.opts.Citizen.Store
	now := time.Now().UTC()
	r := citizen.Report{ID: "cr-lost-0001", Ticket: "PA-261201-G0ST01", App: "app", ClientID: "c-lost-0001", ClientKey: citizen.ClientKey("app", "d", "c-lost-0001"),
		Category: "flooding", Description: "Nước ngập sâu 40 cm trước cổng chợ Cốc Lếu", Location: geo.Location{Lat: 22.4979, Lon: 103.9688},
		District: "TP Lào Cai", Received: now.Add(-time.Hour), Triage: citizen.Triage{State: citizen.StateReceived}}
	lost := r
	lost.Triage = citizen.Triage{State: citizen.StateInProgress, Units: []string{"flood_control", "ioc"}, Alert: "ghost", Group: 1}
	if err := store.AppendCitizenEvents(t.Context(), []analytics.CitizenEvent{
		{Time: r.Received, Kind: "received", Actor: "app:app", Report: r},
		{Time: now.Add(-30 * time.Minute), Seq: analytics.ChangeSeq(now.Add(-30 * time.Minute)), Kind: "acknowledged", Actor: "flood", Report: lost, Change: true},
	}); err != nil {
		t.Fatal(err)
	}
	f.triage.Nudge()
	got := f.waitReport(t, "flood", r.ID, "routed again", func(x citizen.Report) bool { return x.Alert != "" && x.Alert != "ghost" })
	if got.State != citizen.StateReceived || !slices.Contains(got.Units, "flood_control") || got.Group != 1 {
		t.Errorf("routed again: %+v", got.Triage)
	}
	if code, body := f.call(t, "flood", "POST", APIPrefix+"/citizen-reports/"+r.ID+"/take", `{}`); code != 200 || !strings.Contains(string(body), `"state":"in_progress"`) {
		t.Errorf("the flood unit takes it: %d %s", code, body)
	}
}
