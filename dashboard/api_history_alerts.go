package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/dashboard/auth"
)

// AlertSearcher searches the stored alerts (alerts.ClickHouseStore).
type AlertSearcher interface {
	SearchAlerts(ctx context.Context, q alerts.AlertSearch) ([]alerts.AlertSearchRow, int, error)
}

// HistoryItem is one alert of the history: as its events in the range left it, with when it
// fired, was acknowledged and resolved, and the response times.
type HistoryItem struct {
	Alert    alerts.Alert `json:"alert"`
	Fired    time.Time    `json:"fired,omitzero"`
	Acked    time.Time    `json:"acknowledged,omitzero"`
	Resolved time.Time    `json:"resolved,omitzero"`
	// AckSeconds and ResolveSeconds are from firing to the acknowledgement and the end (left
	// out when either is missing).
	AckSeconds     float64 `json:"ack_seconds,omitempty"`
	ResolveSeconds float64 `json:"resolve_seconds,omitempty"`
}

// ResponseTime sums up how fast one unit answered one category's alerts in the range.
type ResponseTime struct {
	Unit     string `json:"unit"`
	Category string `json:"category"`
	Alerts   int    `json:"alerts"`
	// Acknowledged and Resolved count the alerts that were; the medians are over them.
	Acknowledged         int     `json:"acknowledged"`
	MedianAckSeconds     float64 `json:"median_ack_seconds"`
	Resolved             int     `json:"resolved"`
	MedianResolveSeconds float64 `json:"median_resolve_seconds"`
}

var historyParams = []param{
	{name: "from", typ: "date-time", desc: "start (RFC 3339), default 7 days ago"},
	{name: "to", typ: "date-time", desc: "end (RFC 3339), default now"},
	{name: "district", typ: "string", desc: "only this district"},
	{name: "category", typ: "string", desc: "only this category (naturalDisaster, traffic, …)"},
	{name: "state", typ: "string", desc: "only alerts left in this state", enum: []string{"pending", "firing", "acknowledged", "resolved"}},
	{name: "unit", typ: "string", desc: "only alerts routed to this unit"},
	{name: "q", typ: "string", desc: "text anywhere in the alert (title, subject, reason…)"},
}

// alertSearch reads the history's filters; a unit caller is held to its own units.
func (s *Server) alertSearch(c *fiber.Ctx, p *auth.Principal) (alerts.AlertSearch, error) {
	from, to, units, err := historyScope(c, p)
	if err != nil {
		return alerts.AlertSearch{}, err
	}
	q := alerts.AlertSearch{From: from, To: to, Units: units, District: c.Query("district"), Category: c.Query("category"),
		State: c.Query("state"), Text: c.Query("q")}
	if st := q.State; st != "" && !slices.Contains([]string{"pending", "firing", "acknowledged", "resolved"}, st) {
		return q, errBadRequest("bad_parameter", "state: want pending, firing, acknowledged or resolved")
	}
	return q, nil
}

// historyScope reads a history search's range (from, to: default the last 7 days), its unit
// and its text's length; a unit caller is held to its own units, and one naming another
// unit's is answered 404.
func historyScope(c *fiber.Ctx, p *auth.Principal) (from, to time.Time, units []string, err error) {
	now := time.Now().UTC()
	if from, to, err = queryRange(c, now.Add(time.Minute), 7*24*time.Hour+time.Minute); err != nil {
		return
	}
	if !to.After(from) || to.Sub(from) > 366*24*time.Hour {
		return from, to, nil, errBadRequest("bad_range", "want from before to, at most 366 days apart")
	}
	if len(c.Query("q")) > 200 {
		return from, to, nil, errBadRequest("bad_parameter", "q: at most 200 bytes")
	}
	unit := c.Query("unit")
	switch {
	case p.SeesAll() && unit != "":
		units = []string{unit}
	case !p.SeesAll() && unit == "":
		units = p.Units
	case !p.SeesAll():
		if !slices.Contains(p.Units, unit) {
			return from, to, nil, errNotFound // a unit does not learn of others' alerts
		}
		units = []string{unit}
	}
	return from, to, units, nil
}

func historyItem(r alerts.AlertSearchRow) HistoryItem {
	it := HistoryItem{Fired: r.Fired, Acked: r.Acked, Resolved: r.Resolved}
	if err := json.Unmarshal(r.Alert, &it.Alert); err != nil {
		it.Alert = alerts.Alert{ID: r.AlertID, Rule: r.Rule, Subject: r.Subject, State: alerts.State(r.State), Category: r.Category, District: r.District, Units: r.Units}
	}
	if !r.Fired.IsZero() && !r.Acked.IsZero() {
		it.AckSeconds = max(0, r.Acked.Sub(r.Fired).Seconds())
	}
	if !r.Fired.IsZero() && !r.Resolved.IsZero() {
		it.ResolveSeconds = max(0, r.Resolved.Sub(r.Fired).Seconds())
	}
	return it
}

func (s *Server) alertHistory(c *fiber.Ctx, p *auth.Principal) error {
	limit, offset, err := pageWindow(c)
	if err != nil {
		return err
	}
	items, total, err := s.searchHistory(c, p, limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(Page[HistoryItem]{Items: items, Total: total, Limit: limit, Offset: offset})
}

// maxHistoryRows bounds what response times and exports read.
const maxHistoryRows = 100_000

// searchHistory runs the request's search of the history: at most limit items after offset,
// and how many there are.
func (s *Server) searchHistory(c *fiber.Ctx, p *auth.Principal, limit, offset int) ([]HistoryItem, int, error) {
	if s.src.Searcher == nil {
		return nil, 0, errUnavailable
	}
	q, err := s.alertSearch(c, p)
	if err != nil {
		return nil, 0, err
	}
	q.Limit, q.Offset = limit, offset
	rows, total, err := s.src.Searcher.SearchAlerts(c.UserContext(), q)
	if err != nil {
		return nil, 0, err
	}
	items := make([]HistoryItem, len(rows))
	for i, r := range rows {
		items[i] = historyItem(r)
	}
	return items, total, nil
}

func (s *Server) responseTimes(c *fiber.Ctx, p *auth.Principal) error {
	items, _, err := s.searchHistory(c, p, maxHistoryRows, 0)
	if err != nil {
		return err
	}
	type key struct{ unit, category string }
	acks, resolves, counts := map[key][]float64{}, map[key][]float64{}, map[key]int{}
	for _, it := range items {
		for _, u := range it.Alert.Units {
			if !p.SeesAll() && !slices.Contains(p.Units, u) {
				continue
			}
			k := key{u, it.Alert.Category}
			counts[k]++
			if !it.Fired.IsZero() && !it.Acked.IsZero() {
				acks[k] = append(acks[k], it.AckSeconds)
			}
			if !it.Fired.IsZero() && !it.Resolved.IsZero() {
				resolves[k] = append(resolves[k], it.ResolveSeconds)
			}
		}
	}
	out := []ResponseTime{}
	for k, n := range counts {
		out = append(out, ResponseTime{Unit: k.unit, Category: k.category, Alerts: n, Acknowledged: len(acks[k]), MedianAckSeconds: median(acks[k]),
			Resolved: len(resolves[k]), MedianResolveSeconds: median(resolves[k])})
	}
	slices.SortFunc(out, func(a, b ResponseTime) int {
		if a.Unit != b.Unit {
			return strings.Compare(a.Unit, b.Unit)
		}
		return strings.Compare(a.Category, b.Category)
	})
	return c.JSON(out)
}

func (s *Server) exportAlerts(c *fiber.Ctx, p *auth.Principal) error {
	items, _, err := s.searchHistory(c, p, maxHistoryRows, 0)
	if err != nil {
		return err
	}
	w := csvAnswer(c, "lich-su-canh-bao.csv")
	_ = w.Write([]string{"alert_id", "rule", "title", "subject", "district", "category", "severity", "state", "units", "fired", "acknowledged", "resolved", "ack_seconds", "resolve_seconds"})
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, it := range items {
		a := it.Alert
		_ = w.Write([]string{a.ID, a.Rule, a.Title.VI, a.SubjectName, a.District, a.Category, string(a.Severity), string(a.State),
			fmt.Sprint(a.Units), ts(it.Fired), ts(it.Acked), ts(it.Resolved),
			strconv.FormatFloat(it.AckSeconds, 'f', 0, 64), strconv.FormatFloat(it.ResolveSeconds, 'f', 0, 64)})
	}
	w.Flush()
	return w.Error()
}

// csvAnswer answers the request with a CSV file to save as name, written through the writer
// it returns.
func csvAnswer(c *fiber.Ctx, name string) *csv.Writer {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return csv.NewWriter(c.Response().BodyWriter())
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
