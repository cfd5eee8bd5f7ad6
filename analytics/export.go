package analytics

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"sort"
	"strconv"
	"time"
)

// Lang chooses the header row of a CSV export.
type Lang string

// Header languages. Vietnamese files start with a UTF-8 byte order mark, so that spreadsheet
// programs on Windows show the diacritics.
const (
	LangEnglish    Lang = "en"
	LangVietnamese Lang = "vi"
)

// vietnam is the operators' time zone, for the local-time column of exports.
var vietnam = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600) // no zoneinfo on the machine: Vietnam has no DST
}()

var trendHeader = map[Lang][]string{
	LangEnglish: {"sensor", "metric", "unit", "time_utc", "time_vietnam", "count", "min", "max", "avg", "sum", "last", "p95"},
	LangVietnamese: {"Mã cảm biến", "Chỉ số", "Đơn vị", "Thời gian (UTC)", "Thời gian (giờ Việt Nam)", "Số mẫu",
		"Nhỏ nhất", "Lớn nhất", "Trung bình", "Tổng", "Giá trị cuối", "Phân vị 95"},
}

var readingsHeader = map[Lang][]string{
	LangEnglish:    {"sensor", "metric", "unit", "time_utc", "time_vietnam", "value", "quality"},
	LangVietnamese: {"Mã cảm biến", "Chỉ số", "Đơn vị", "Thời gian (UTC)", "Thời gian (giờ Việt Nam)", "Giá trị", "Chất lượng"},
}

var districtHeader = map[Lang][]string{
	LangEnglish:    {"district", "time_utc", "time_vietnam", "sensors", "count", "min", "max", "avg", "sum"},
	LangVietnamese: {"Huyện/Thành phố", "Thời gian (UTC)", "Thời gian (giờ Việt Nam)", "Số cảm biến", "Số mẫu", "Nhỏ nhất", "Lớn nhất", "Trung bình", "Tổng"},
}

// csvOut writes CSV rows to w through a buffer, flushing as it fills: memory stays constant
// whatever the export's size.
type csvOut struct {
	w   *csv.Writer
	buf *bufio.Writer
}

func newCSV(w io.Writer, lang Lang, header map[Lang][]string) (*csvOut, error) {
	h, ok := header[lang]
	if !ok {
		return nil, refuse(CodeBadParam, "language %q: want vi or en", lang)
	}
	buf := bufio.NewWriterSize(w, 64<<10)
	if lang == LangVietnamese {
		if _, err := buf.WriteString("\ufeff"); err != nil {
			return nil, err
		}
	}
	out := &csvOut{w: csv.NewWriter(buf), buf: buf}
	return out, out.w.Write(h)
}

func (o *csvOut) row(fields ...string) error { return o.w.Write(fields) }

func (o *csvOut) close() error {
	o.w.Flush()
	if err := o.w.Error(); err != nil {
		return err
	}
	return o.buf.Flush()
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func times(t time.Time) (string, string) {
	return t.UTC().Format(time.RFC3339), t.In(vietnam).Format("2006-01-02 15:04:05")
}

// ExportTrend writes the trend of req as CSV, a row a bucket, gaps included (empty cells, count
// 0), streaming: rows go out as the server sends them.
func (q *Querier) ExportTrend(ctx context.Context, w io.Writer, req TrendRequest, lang Lang) error {
	ctx, cancel := context.WithTimeout(ctx, q.lim.ExportTimeout)
	defer cancel()
	p, err := q.prepare(ctx, &req)
	if err != nil {
		return err
	}
	out, err := newCSV(w, lang, trendHeader)
	if err != nil {
		return err
	}
	sensors := append([]string(nil), req.Sensors...)
	sort.Strings(sensors) // the query's order
	writePoint := func(sensor string, pt Point) error {
		utc, local := times(pt.T)
		if pt.Missing {
			return out.row(sensor, req.Metric, p.unit, utc, local, "0", "", "", "", "", "", "")
		}
		return out.row(sensor, req.Metric, p.unit, utc, local, strconv.FormatUint(pt.Count, 10),
			num(pt.Min), num(pt.Max), num(pt.Avg), num(pt.Sum), num(pt.Last), num(pt.P95))
	}
	// fill writes sensor's missing buckets from next up to until.
	fill := func(sensor string, next, until time.Time) error {
		for _, gap := range fillTo(nil, next, until, p.step) {
			if err := writePoint(sensor, gap); err != nil {
				return err
			}
		}
		return nil
	}
	first := p.first(req.From)
	cur, next := 0, first
	err = q.scanTrend(ctx, req, p, func(sensor string, pt Point) error {
		for cur < len(sensors) && sensors[cur] != sensor { // sensors without (more) rows
			if err := fill(sensors[cur], next, req.To); err != nil {
				return err
			}
			cur, next = cur+1, first
		}
		if err := fill(sensor, next, pt.T); err != nil {
			return err
		}
		next = pt.T.Add(p.step)
		return writePoint(sensor, pt)
	})
	if err != nil {
		return err
	}
	for ; cur < len(sensors); cur, next = cur+1, first {
		if err := fill(sensors[cur], next, req.To); err != nil {
			return err
		}
	}
	return out.close()
}

// ExportReadings writes the raw readings of sensors' metric over [from, to) as CSV, each
// stored reading once, streaming.
func (q *Querier) ExportReadings(ctx context.Context, w io.Writer, sensors []string, metric string, from, to time.Time, lang Lang) error {
	ctx, cancel := context.WithTimeout(ctx, q.lim.ExportTimeout)
	defer cancel()
	def, err := q.checkRangeMetric(from, to, metric)
	if err != nil {
		return err
	}
	if err := q.checkSensors(ctx, sensors); err != nil {
		return err
	}
	out, err := newCSV(w, lang, readingsHeader)
	if err != nil {
		return err
	}
	rows, err := q.conn.Query(q.exportCtx(ctx), `SELECT toString(sensor_id), ts, value, toString(quality) FROM readings FINAL
WHERE sensor_id IN ? AND metric = ? AND ts >= ? AND ts < ? AND text = '' ORDER BY sensor_id, ts`, StringSet(sensors), metric, from.UTC(), to.UTC())
	if err != nil {
		return queryFailed(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		var sensor, quality string
		var ts time.Time
		var v float64
		if err := rows.Scan(&sensor, &ts, &v, &quality); err != nil {
			return err
		}
		utc, local := times(ts)
		if err := out.row(sensor, metric, def.Unit, utc, local, num(v), quality); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return queryFailed(ctx, err)
	}
	return out.close()
}

// WriteDistricts writes district aggregates as CSV.
func WriteDistricts(w io.Writer, points []DistrictPoint, lang Lang) error {
	out, err := newCSV(w, lang, districtHeader)
	if err != nil {
		return err
	}
	for _, d := range points {
		utc, local := times(d.T)
		if err := out.row(d.District, utc, local, strconv.FormatUint(d.Sensors, 10), strconv.FormatUint(d.Count, 10),
			num(d.Min), num(d.Max), num(d.Avg), num(d.Sum)); err != nil {
			return err
		}
	}
	return out.close()
}
