package dashboard

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/internal/config"
)

// The incident report: one HTML page, self-contained (styles inline, the map and the charts as
// SVG drawn here), that prints on A4: the incident, its alerts, its checklist, its timeline,
// the map of the districts it touched, and the chart of the readings that triggered it.

// reportData is what the report's template reads.
type reportData struct {
	Lang     string
	Inc      incident.Incident
	Timeline []incident.Entry
	Draft    bool
	Printed  string
	Map      template.HTML
	Charts   []reportChart
	Local    func(t time.Time) string
	Units    map[string]string
}

// T is vi or en in the report's language.
func (d reportData) T(vi, en string) string {
	if d.Lang == "en" {
		return en
	}
	return vi
}

// StateName names st in the report's language.
func (d reportData) StateName(st incident.State) string { return d.T(st.Vietnamese(), string(st)) }

// SevName names sv in the report's language.
func (d reportData) SevName(sv alerts.Severity) string { return d.T(sv.Vietnamese(), string(sv)) }

// Text is t in the report's language.
func (d reportData) Text(t alerts.Text) string { return t.Lang(d.Lang) }

// reportChart is one metric's chart of the triggering readings.
type reportChart struct {
	Title string
	SVG   template.HTML
}

var reportTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<title>{{.T "Báo cáo sự cố" "Incident report"}} – {{.Text .Inc.Title}}</title>
<style>
@page { size: A4; margin: 15mm 12mm; }
body { font: 11pt/1.4 "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: #111; margin: 0 auto; max-width: 190mm; padding: 8mm 0; }
h1 { font-size: 16pt; margin: 0 0 2mm; } h2 { font-size: 12.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
.meta { display: grid; grid-template-columns: 38mm 1fr; gap: 1mm 4mm; }
.meta dt { color: #555; } .meta dd { margin: 0; }
.draft { border: 2px solid #b00; color: #b00; padding: 2mm; font-weight: bold; margin: 3mm 0; }
table { width: 100%; border-collapse: collapse; font-size: 9.5pt; } th, td { border: 1px solid #bbb; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; } tr { page-break-inside: avoid; } .overdue { color: #b00; font-weight: bold; } .done { color: #070; }
svg { width: 100%; height: auto; border: 1px solid #ccc; } .sev-critical { color: #8b0000; font-weight: bold; } .sev-high { color: #c00; }
figure { margin: 0 0 4mm; page-break-inside: avoid; } figcaption { font-size: 9pt; color: #444; }
footer { margin-top: 8mm; font-size: 8.5pt; color: #666; }
</style></head><body>
<h1>{{.T "BÁO CÁO SỰ CỐ" "INCIDENT REPORT"}}: {{.Text .Inc.Title}}</h1>
{{if .Draft}}<div class="draft">{{.T "BẢN NHÁP – sự cố chưa kết thúc" "DRAFT – the incident is not closed"}}</div>{{end}}
<dl class="meta">
<dt>{{.T "Mã sự cố" "Incident"}}</dt><dd>{{.Inc.ID}} ({{.Inc.Type}})</dd>
<dt>{{.T "Mức độ" "Severity"}}</dt><dd class="sev-{{.Inc.Severity}}">{{.SevName .Inc.Severity}}</dd>
<dt>{{.T "Trạng thái" "State"}}</dt><dd>{{.StateName .Inc.State}}</dd>
<dt>{{.T "Bắt đầu" "Opened"}}</dt><dd>{{call .Local .Inc.Opened}}</dd>
{{if not .Inc.Closed.IsZero}}<dt>{{.T "Kết thúc" "Closed"}}</dt><dd>{{call .Local .Inc.Closed}}</dd>{{end}}
<dt>{{.T "Người chủ trì" "Owner"}}</dt><dd>{{or .Inc.OwnerName "—"}}</dd>
<dt>{{.T "Địa bàn" "Districts"}}</dt><dd>{{range $i, $d := .Inc.Districts}}{{if $i}}, {{end}}{{$d}}{{end}}</dd>
<dt>{{.T "Đơn vị tham gia" "Units"}}</dt><dd>{{range $i, $u := .Inc.Units}}{{if $i}}; {{end}}{{index $.Units $u}}{{end}}</dd>
{{if .Inc.Procedure.VI}}<dt>{{.T "Quy trình" "Procedure"}}</dt><dd>{{.Text .Inc.Procedure}}</dd>{{end}}
{{if .Inc.Summary}}<dt>{{.T "Kết luận" "Summary"}}</dt><dd>{{.Inc.Summary}}</dd>{{end}}
</dl>
<h2>{{.T "Bản đồ khu vực ảnh hưởng" "Map of the affected districts"}}</h2>
<figure>{{.Map}}<figcaption>{{.T "Tô đỏ: huyện có cảnh báo của sự cố; chấm: trạm, camera phát cảnh báo." "Red: districts with the incident's alerts; dots: the stations and cameras that alerted."}}</figcaption></figure>
{{if .Charts}}<h2>{{.T "Diễn biến số liệu" "The readings"}}</h2>
{{range .Charts}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>{{end}}{{end}}
<h2>{{.T "Cảnh báo" "Alerts"}} ({{len .Inc.Alerts}})</h2>
<table><tr><th>{{.T "Bắt đầu" "Started"}}</th><th>{{.T "Cảnh báo" "Alert"}}</th><th>{{.T "Địa bàn" "District"}}</th><th>{{.T "Mức" "Severity"}}</th><th>{{.T "Kết thúc" "Ended"}}</th></tr>
{{range .Inc.Alerts}}<tr><td>{{call $.Local .StartsAt}}</td><td>{{$.Text .Title}}</td><td>{{.District}}</td><td class="sev-{{.Severity}}">{{$.SevName .Severity}}</td><td>{{if .EndsAt.IsZero}}{{$.T "đang diễn ra" "ongoing"}}{{else}}{{call $.Local .EndsAt}}{{end}}</td></tr>{{end}}
</table>
{{if .Inc.Steps}}<h2>{{.T "Các bước ứng phó" "Response steps"}}</h2>
<table><tr><th>{{.T "Bước" "Step"}}</th><th>{{.T "Đơn vị" "Unit"}}</th><th>{{.T "Hạn" "Due"}}</th><th>{{.T "Hoàn thành" "Done"}}</th></tr>
{{range .Inc.Steps}}<tr><td>{{$.Text .Text}}</td><td>{{index $.Units .Unit}}</td><td>{{call $.Local .Due}}{{if .Overdue}} <span class="overdue">{{$.T "quá hạn" "overdue"}}</span>{{end}}</td>
<td>{{if .Done.IsZero}}—{{else}}<span class="done">✓</span> {{call $.Local .Done}}, {{.DoneByName}}{{if .Note}}: {{.Note}}{{end}}{{end}}</td></tr>{{end}}
</table>{{end}}
<h2>{{.T "Diễn biến" "Timeline"}}</h2>
<table><tr><th style="width:32mm">{{.T "Thời gian" "Time"}}</th><th style="width:30mm">{{.T "Người / hệ thống" "By"}}</th><th>{{.T "Nội dung" "What"}}</th></tr>
{{range .Timeline}}<tr><td>{{call $.Local .Time}}</td><td>{{or .ActorName .Actor}}</td><td>{{if and (eq $.Lang "en") .TextEN}}{{.TextEN}}{{else}}{{.Text}}{{end}}</td></tr>{{end}}
</table>
<footer>{{.T "Giờ Việt Nam (Asia/Ho_Chi_Minh). In lúc" "Vietnam time (Asia/Ho_Chi_Minh). Printed"}} {{.Printed}} – Hải Đăng IOC</footer>
</body></html>`))

func (s *Server) incidentReport(c *fiber.Ctx, p *auth.Principal) error {
	lang, err := queryEnum(c, "lang", "vi", "en")
	if err != nil {
		return err
	}
	if lang == "" {
		lang = "vi"
	}
	ctx := c.UserContext()
	inc, line, err := s.incidentFor(ctx, p, c.Params("id"))
	if err != nil {
		return err
	}
	d := reportData{Lang: lang, Inc: inc, Timeline: line, Draft: inc.Active(), Printed: localTime(time.Now()),
		Local: localTime, Units: unitNames(lang)}
	d.Map = s.reportMap(inc)
	d.Charts = s.reportCharts(ctx, inc, d.T)
	var b strings.Builder
	if err := reportTemplate.Execute(&b, d); err != nil {
		return fmt.Errorf("incident report: %w", err)
	}
	c.Set(fiber.HeaderContentType, "text/html; charset=utf-8")
	return c.SendString(b.String())
}

// localTime shows a time in the report (alerts.LocalTime), "—" for none.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return alerts.LocalTime(t)
}

// unitNames names the units in lang: the Vietnamese names of config, or their ids in English.
func unitNames(lang string) map[string]string {
	out := map[string]string{}
	for id, name := range config.Units {
		if lang == "en" {
			out[id] = id
		} else {
			out[id] = name
		}
	}
	return out
}

// reportMap draws the province's districts, those of the incident in red, and its alerts'
// subjects as dots, as an SVG in an equirectangular projection scaled by the latitude.
func (s *Server) reportMap(inc incident.Incident) template.HTML {
	if s.src.City == nil {
		return ""
	}
	sensors, _ := s.src.City.Catalogs()
	if sensors == nil {
		return ""
	}
	minLat, minLon, maxLat, maxLon := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, dist := range sensors.Districts {
		for _, pt := range dist.Polygon {
			minLat, maxLat, minLon, maxLon = math.Min(minLat, pt[0]), math.Max(maxLat, pt[0]), math.Min(minLon, pt[1]), math.Max(maxLon, pt[1])
		}
	}
	if math.IsInf(minLat, 0) || maxLat == minLat || maxLon == minLon {
		return ""
	}
	const w = 700.0
	kx := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	h := w * (maxLat - minLat) / ((maxLon - minLon) * kx)
	xy := func(lat, lon float64) (float64, float64) {
		return (lon - minLon) / (maxLon - minLon) * w, (maxLat - lat) / (maxLat - minLat) * h
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="-10 -10 %.0f %.0f" role="img">`, w+20, h+20)
	for _, dist := range sensors.Districts {
		if len(dist.Polygon) == 0 {
			continue
		}
		fill := "#f4f4f4"
		if slices.Contains(inc.Districts, dist.Name) {
			fill = "#f3b3b3"
		}
		b.WriteString(`<polygon fill="` + fill + `" stroke="#666" stroke-width="1" points="`)
		var cx, cy float64
		for _, pt := range dist.Polygon {
			x, y := xy(pt[0], pt[1])
			cx, cy = cx+x, cy+y
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		n := float64(len(dist.Polygon))
		fmt.Fprintf(&b, `"/><text x="%.1f" y="%.1f" font-size="12" text-anchor="middle" fill="#333">%s</text>`, cx/n, cy/n, template.HTMLEscapeString(dist.Name))
	}
	for _, a := range inc.Alerts {
		if a.Location.Lat == 0 && a.Location.Lon == 0 {
			continue
		}
		x, y := xy(a.Location.Lat, a.Location.Lon)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="#b00" stroke="#fff" stroke-width="1.5"><title>%s</title></circle>`, x, y, template.HTMLEscapeString(a.SubjectName))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from escaped names and numbers
}

// reportCharts charts the readings of the sensors whose alerts make the incident, a chart a
// station and metric on its own scale (at most maxCharts), from 6 hours before the incident
// opened to its end (or its last change).
func (s *Server) reportCharts(ctx context.Context, inc incident.Incident, tr func(vi, en string) string) []reportChart {
	if s.src.Trends == nil {
		return nil
	}
	type series struct{ sensor, name, metric string }
	var want []series
	for _, a := range inc.Alerts {
		x := series{a.Subject, a.SubjectName, a.Metric}
		if a.Source == alerts.SourceSensor && a.Metric != "" && !slices.Contains(want, x) && len(want) < maxCharts {
			want = append(want, x)
		}
	}
	end := inc.Closed
	if end.IsZero() {
		end = inc.Updated
	}
	from, to := inc.Opened.Add(-6*time.Hour), end.Add(time.Hour)
	var out []reportChart
	for _, x := range want {
		got, err := s.src.Trends.Trend(ctx, analytics.TrendRequest{Sensors: []string{x.sensor}, Metric: x.metric, From: from, To: to, MaxPoints: 300})
		if err != nil {
			s.log.Warn("incident report without a chart", "incident", inc.ID, "sensor", x.sensor, "metric", x.metric, "err", err)
			continue
		}
		svg := chartSVG(got, from, to)
		if svg == "" {
			continue
		}
		unit := got[0].Unit
		out = append(out, reportChart{Title: fmt.Sprintf("%s — %s (%s), %s – %s", x.name, tr(metricNameVI(x.metric), x.metric), unit, localTime(from), localTime(to)), SVG: svg})
	}
	return out
}

// maxCharts bounds the report's charts.
const maxCharts = 8

// metricNameVI names a metric in Vietnamese for the report (its id when not listed).
func metricNameVI(m string) string {
	if n, ok := map[string]string{"water_level": "mực nước", "rainfall": "lượng mưa", "salinity": "độ mặn", "avg_speed": "tốc độ trung bình",
		"rain_intensity": "cường độ mưa", "turbidity": "độ đục", "ph": "pH", "alarm": "báo cháy"}[m]; ok {
		return n
	}
	return m
}

var chartColours = []string{"#1f5fbf", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#555"}

// chartSVG draws the series' maxima as lines over [from, to] with the value axis' bounds.
func chartSVG(series []analytics.Series, from, to time.Time) template.HTML {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, sr := range series {
		for _, pt := range sr.Points {
			if !pt.Missing && !math.IsNaN(pt.Max) {
				lo, hi = math.Min(lo, pt.Max), math.Max(hi, pt.Max)
			}
		}
	}
	if math.IsInf(lo, 0) {
		return ""
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	const w, h, left, bottom = 700.0, 150.0, 60.0, 24.0
	span := to.Sub(from).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" role="img" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="4" x2="%.0f" y2="%.0f" stroke="#888"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#888"/>`,
		left, left, h-bottom, left, h-bottom, w-4, h-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="12" text-anchor="end">%.2f</text><text x="%.0f" y="%.0f" text-anchor="end">%.2f</text>`, left-4, hi, left-4, h-bottom, lo)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
		left, h-6, localTime(from), w-4, h-6, localTime(to))
	for i, sr := range series {
		b.WriteString(`<polyline fill="none" stroke-width="1.6" stroke="` + chartColours[i%len(chartColours)] + `" points="`)
		for _, pt := range sr.Points {
			if pt.Missing || math.IsNaN(pt.Max) {
				continue
			}
			x := left + pt.T.Sub(from).Seconds()/span*(w-4-left)
			y := 4 + (hi-pt.Max)/(hi-lo)*(h-bottom-4)
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		fmt.Fprintf(&b, `"><title>%s</title></polyline>`, template.HTMLEscapeString(sr.Sensor))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and escaped names only
}
