package dashboard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// TrendSource answers history questions (analytics.Querier).
type TrendSource interface {
	Trend(ctx context.Context, req analytics.TrendRequest) ([]analytics.Series, error)
	Compare(ctx context.Context, req analytics.TrendRequest, offset time.Duration) (now, before []analytics.Series, err error)
	ExportTrend(ctx context.Context, w io.Writer, req analytics.TrendRequest, lang analytics.Lang) error
	ExportReadings(ctx context.Context, w io.Writer, sensors []string, metric string, from, to time.Time, lang analytics.Lang) error
	// Values are the stored values of a metric, newest first (the NGSI-LD temporal API).
	Values(ctx context.Context, sensors []string, metric string, from, to time.Time, lastN int) (map[string][]analytics.ValueAt, error)
}

// DeadLetterSource sums up the dead letters (analytics.Querier).
type DeadLetterSource interface {
	DeadLetterSummary(ctx context.Context, now time.Time) (analytics.DeadLetterSummary, error)
}

func (s *Server) deadLetterSummary(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.DeadLetters == nil {
		return errUnavailable
	}
	sum, err := s.src.DeadLetters.DeadLetterSummary(c.UserContext(), s.opts.Clock())
	if err != nil {
		return err
	}
	return c.JSON(sum)
}

var trendParams = []param{
	{name: "sensors", typ: "list", desc: "sensor ids (comma-separated), required"},
	{name: "metric", typ: "string", desc: "metric, required (water_level, rainfall, speed, …)"},
	{name: "from", typ: "date-time", desc: "start (RFC 3339), default 24 hours ago"},
	{name: "to", typ: "date-time", desc: "end (RFC 3339), default now"},
	{name: "points", typ: "integer", desc: "most points per series (default: the server's)"},
	{name: "resolution", typ: "string", desc: "force a source: raw, 1m or 1h", enum: []string{"raw", "1m", "1h"}},
}

// comparePeriods are the offsets a trend may be compared with.
var comparePeriods = map[string]time.Duration{"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "28d": 28 * 24 * time.Hour, "52w": 52 * 7 * 24 * time.Hour}

// trendRequest reads a trend's parameters.
func trendRequest(c *fiber.Ctx) (analytics.TrendRequest, error) {
	now := time.Now().UTC()
	req := analytics.TrendRequest{Sensors: queryList(c, "sensors"), Metric: c.Query("metric")}
	if len(req.Sensors) == 0 || req.Metric == "" {
		return req, errBadRequest("bad_parameter", "sensors and metric are required")
	}
	var err error
	if req.From, req.To, err = queryRange(c, now, 24*time.Hour); err != nil {
		return req, err
	}
	if req.MaxPoints, err = queryInt(c, "points", 0, 0, 100_000); err != nil {
		return req, err
	}
	res, err := queryEnum(c, "resolution", "raw", "1m", "1h")
	req.Resolution = analytics.Resolution(res)
	return req, err
}

// TrendPoint is one bucket; its values are null where the bucket holds no reading.
type TrendPoint struct {
	T     time.Time `json:"t"`
	Count uint64    `json:"count"`
	Min   *float64  `json:"min"`
	Max   *float64  `json:"max"`
	Avg   *float64  `json:"avg"`
	Last  *float64  `json:"last"`
	P95   *float64  `json:"p95"`
}

// TrendSeries is one sensor's trend.
type TrendSeries struct {
	Sensor      string       `json:"sensor"`
	Metric      string       `json:"metric"`
	Unit        string       `json:"unit"`
	Resolution  string       `json:"resolution"`
	StepSeconds float64      `json:"step_seconds"`
	Points      []TrendPoint `json:"points"`
}

// TrendAnswer holds the series, and the same span of an earlier period (moved onto the same
// time axis) when compare was asked.
type TrendAnswer struct {
	Series  []TrendSeries `json:"series"`
	Compare []TrendSeries `json:"compare,omitempty"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func toSeries(in []analytics.Series) []TrendSeries {
	out := make([]TrendSeries, len(in))
	for i, s := range in {
		ts := TrendSeries{Sensor: s.Sensor, Metric: s.Metric, Unit: s.Unit, Resolution: string(s.Resolution), StepSeconds: s.Step.Seconds(), Points: make([]TrendPoint, len(s.Points))}
		for j, p := range s.Points {
			ts.Points[j] = TrendPoint{T: p.T, Count: p.Count}
			if !p.Missing {
				ts.Points[j].Min, ts.Points[j].Max, ts.Points[j].Avg, ts.Points[j].Last, ts.Points[j].P95 = num(p.Min), num(p.Max), num(p.Avg), num(p.Last), num(p.P95)
			}
		}
		out[i] = ts
	}
	return out
}

// queryFailed turns the querier's refusals into 400s with their codes.
func queryFailed(err error) error {
	var qe *analytics.QueryError
	if errors.As(err, &qe) {
		return errBadRequest(qe.Code, qe.Msg)
	}
	return err
}

func (s *Server) trend(c *fiber.Ctx, _ *auth.Principal) error {
	if s.src.Trends == nil {
		return errUnavailable
	}
	req, err := trendRequest(c)
	if err != nil {
		return err
	}
	period := c.Query("compare")
	if period == "" {
		series, err := s.src.Trends.Trend(c.UserContext(), req)
		if err != nil {
			return queryFailed(err)
		}
		return c.JSON(TrendAnswer{Series: toSeries(series)})
	}
	offset, ok := comparePeriods[period]
	if !ok {
		return errBadRequest("bad_parameter", "compare: want 1d, 7d, 28d or 52w")
	}
	now, before, err := s.src.Trends.Compare(c.UserContext(), req, offset)
	if err != nil {
		return queryFailed(err)
	}
	return c.JSON(TrendAnswer{Series: toSeries(now), Compare: toSeries(before)})
}

func (s *Server) exportTrend(c *fiber.Ctx, _ *auth.Principal) error {
	return s.exportCSV(c, "trend", func(ctx context.Context, w io.Writer, req analytics.TrendRequest, lang analytics.Lang) error {
		return s.src.Trends.ExportTrend(ctx, w, req, lang)
	})
}

func (s *Server) exportReadings(c *fiber.Ctx, _ *auth.Principal) error {
	return s.exportCSV(c, "readings", func(ctx context.Context, w io.Writer, req analytics.TrendRequest, lang analytics.Lang) error {
		return s.src.Trends.ExportReadings(ctx, w, req.Sensors, req.Metric, req.From, req.To, lang)
	})
}

// exportCSV answers a CSV export of the request's sensors, metric and range, with its header
// in the asked language (Vietnamese by default).
func (s *Server) exportCSV(c *fiber.Ctx, what string, export func(context.Context, io.Writer, analytics.TrendRequest, analytics.Lang) error) error {
	if s.src.Trends == nil {
		return errUnavailable
	}
	req, err := trendRequest(c)
	if err != nil {
		return err
	}
	lang, err := queryEnum(c, "lang", "vi", "en")
	if err != nil {
		return err
	}
	if lang == "" {
		lang = "vi"
	}
	var buf bytes.Buffer
	if err := export(c.UserContext(), &buf, req, analytics.Lang(lang)); err != nil {
		return queryFailed(err)
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+what+`-`+req.Metric+`.csv"`)
	return c.Send(buf.Bytes())
}
