package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/ingest/citizen"
)

// CitizenStore reads and writes citizen_report_events (migration 0019) and the dead letters
// of refused submissions.
type CitizenStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// CitizenEvent is one change of a report: what changed, who did it, and the report after it.
// The first (seq 0, from the intake) carries the whole report; the others (Change, from the
// alert that routes it; seq ChangeSeq) carry its id and its Triage only, the rest being the
// first's.
type CitizenEvent struct {
	Time   time.Time
	Seq    uint32
	Kind   string
	Actor  string
	Report citizen.Report
	Change bool
}

// AppendCitizenEvents stores events in one insert.
func (s *CitizenStore) AppendCitizenEvents(ctx context.Context, evs []CitizenEvent) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "citizen report events", "INSERT INTO citizen_report_events (ts, ms, report_id, seq, kind, actor, "+
		"ticket, client_key, category, state, district, commune, lat, lon, received, units, photos, report)", len(evs), func(i int) ([]any, error) {
		e := &evs[i]
		r := &e.Report
		if e.Change {
			doc, err := json.Marshal(&r.Triage)
			if err != nil {
				return nil, fmt.Errorf("report %s: %w", r.ID, err)
			}
			return []any{e.Time.UTC(), Millis(e.Time), r.ID, e.Seq, e.Kind, e.Actor, "", "", "", r.State, "", "", 0.0, 0.0,
				time.Unix(0, 0).UTC(), orNone(r.Units), []string{}, string(doc)}, nil
		}
		doc, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", r.ID, err)
		}
		photos := make([]string, len(r.Photos))
		for j, p := range r.Photos {
			photos[j] = p.Hash
		}
		return []any{e.Time.UTC(), Millis(e.Time), r.ID, e.Seq, e.Kind, e.Actor, r.Ticket, r.ClientKey, r.Category, r.State, r.District,
			r.Commune, r.Location.Lat, r.Location.Lon, r.Received.UTC(), orNone(r.Units), photos, string(doc)}, nil
	})
}

// ErrNoReport is a client key or ticket no report has.
var ErrNoReport = errors.New("no such report")

// ReportByClientKey is the report an app's device sent under its client id, as it is now.
func (s *CitizenStore) ReportByClientKey(ctx context.Context, key string) (citizen.Report, error) {
	return s.latest(ctx, "client_key", key)
}

// ReportByTicket is the report of a ticket, as it is now.
func (s *CitizenStore) ReportByTicket(ctx context.Context, ticket string) (citizen.Report, error) {
	return s.latest(ctx, "ticket", ticket)
}

// latest reads the last state of the report whose column equals v.
func (s *CitizenStore) latest(ctx context.Context, column, v string) (citizen.Report, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	// column is one of three names above, never the caller's text
	list, err := s.queryReports(ctx, "citizen report by "+column, `SELECT `+reportDocs+` FROM citizen_report_events FINAL WHERE report_id IN (
  SELECT report_id FROM citizen_report_events WHERE `+column+` = ? LIMIT 1) GROUP BY report_id`, v)
	if err != nil {
		return citizen.Report{}, err
	}
	if len(list) == 0 {
		return citizen.Report{}, ErrNoReport
	}
	return list[0], nil
}

// reportDocs selects, per report, what the app sent (the first event's document, doc) and what
// the agencies did since (the latest event's, cur: the whole report, or its triage).
const reportDocs = `anyIf(report, seq = 0) AS doc, argMax(report, seq) AS cur`

// queryReports runs a query whose rows are a report's two documents (doc, cur: reportDocs) and
// decodes them; what names the query in errors.
func (s *CitizenStore) queryReports(ctx context.Context, what, query string, args ...any) ([]citizen.Report, error) {
	rows, err := s.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []citizen.Report
	for rows.Next() {
		var doc, cur string
		if err := rows.Scan(&doc, &cur); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		r, err := decodeReport(doc, cur)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// decodeReport is a report from its two stored documents (reportDocs).
func decodeReport(doc, cur string) (citizen.Report, error) {
	var r citizen.Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return r, fmt.Errorf("stored JSON: %w", err)
	}
	r.Triage = citizen.Triage{}
	if err := json.Unmarshal([]byte(cur), &r.Triage); err != nil {
		return r, fmt.Errorf("stored JSON: %w", err)
	}
	return r, nil
}

// RefusedSubmission is a submission refused, for the dead letters: the reason, the detail and
// a bounded copy of what the app sent (the report's JSON, never the photos).
type RefusedSubmission struct {
	Time           time.Time
	App, Device    string
	Reason, Detail string
	Payload        []byte
	Size           int
}

// maxDeadPayload bounds the copy of a refused submission kept.
const maxDeadPayload = 16 << 10

// DeadLetter keeps a refused submission in dead_letters (source citizen, topic app/device).
func (s *CitizenStore) DeadLetter(ctx context.Context, r RefusedSubmission) error {
	payload := r.Payload
	if len(payload) > maxDeadPayload {
		payload = payload[:maxDeadPayload]
	}
	return InsertRows(ctx, s.Conn, s.Timeout, "citizen dead letters", insertDeadLetters, 1, func(int) ([]any, error) {
		return []any{r.Time.UTC(), "citizen", r.App + "/" + r.Device, r.Reason, r.Detail, string(payload), uint32(r.Size)}, nil
	})
}

// ReportFilter narrows a list of citizen reports: received in [From, To), and the other
// fields when set. Units keeps the reports routed to one of them (nil: every report).
type ReportFilter struct {
	From, To           time.Time
	Category, District string
	State              string
	Units              []string
	Limit, Offset      int
}

// Reports lists the reports as they are now, newest first, with how many match in all.
func (s *CitizenStore) Reports(ctx context.Context, f ReportFilter) ([]citizen.Report, int, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	// received holds whole seconds: a report of to's own second is before to when to is later in it
	where, args := "received >= ? AND received < ?", []any{f.From.UTC().Truncate(time.Second), ceilSecond(f.To)}
	for _, c := range []struct{ col, v string }{{"category", f.Category}, {"district", f.District}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	having, hargs := "1", []any{}
	if f.State != "" {
		having, hargs = "argMax(state, seq) = ?", []any{f.State}
	}
	if f.Units != nil {
		having += " AND hasAny(argMax(units, seq), ?)"
		hargs = append(hargs, orNone(f.Units))
	}
	// the app's fields are the first event's; recv orders by it, to the millisecond
	inner := `SELECT report_id, ` + reportDocs + `, min(toUInt64(ts) * 1000 + ms) AS recv FROM citizen_report_events FINAL
WHERE report_id IN (SELECT report_id FROM citizen_report_events WHERE seq = 0 AND ` + where + `)
GROUP BY report_id HAVING ` + having
	all := append(append([]any{}, args...), hargs...)
	var total uint64
	if err := s.Conn.QueryRow(ctx, `SELECT count() FROM (`+inner+`)`, all...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("citizen reports: count: %w", err)
	}
	out, err := s.queryReports(ctx, "citizen reports", `SELECT doc, cur FROM (`+inner+`) ORDER BY recv DESC, report_id LIMIT ? OFFSET ?`,
		append(all, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}

// Report is one report as it is now, by its id.
func (s *CitizenStore) Report(ctx context.Context, id string) (citizen.Report, error) {
	return s.latest(ctx, "report_id", id)
}

// maxOpen bounds the reports one poll hands the alert engine.
const maxOpen = 1000

// OpenReports lists the reports received since since that are still open (received or in
// progress), those no alert ever routed first, then the oldest; at most 1,000. The alert engine
// routes those it does not hold: new ones, and any whose alert it lost (a process that died
// between storing a report's routing and its alert's event).
func (s *CitizenStore) OpenReports(ctx context.Context, since time.Time) ([]citizen.Report, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	return s.queryReports(ctx, "open citizen reports", `SELECT `+reportDocs+` FROM citizen_report_events FINAL
WHERE report_id IN (SELECT report_id FROM citizen_report_events WHERE seq = 0 AND received >= ?)
GROUP BY report_id HAVING argMax(state, seq) IN ('received', 'in_progress')
ORDER BY max(seq) = 0 DESC, anyIf(received, seq = 0), report_id LIMIT ?`, since.UTC().Truncate(time.Second), maxOpen)
}

// changeEpoch is where ChangeSeq counts from.
var changeEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// ChangeSeq numbers a report's change made at t: seconds since 2020, so that a report's changes
// grow whichever alert makes them (a report routed again after its alert was lost), and the
// same change written twice is one row. Of two changes in one second the later written stays
// (ReplacingMergeTree): it carries the report's whole triage as it is after both.
func ChangeSeq(t time.Time) uint32 {
	return uint32(max(1, t.Sub(changeEpoch)/time.Second))
}

// ReportStat is how the reports of one category, district or unit went: how many, in which
// state now, how many passed their deadline, and the median times to the first action (taken,
// answered or rejected) and to the answer, in seconds (nil when none was).
type ReportStat struct {
	Key                   string   `json:"key"`
	Reports               int      `json:"reports"`
	Open                  int      `json:"open"`
	InProgress            int      `json:"in_progress"`
	Resolved              int      `json:"resolved"`
	Rejected              int      `json:"rejected"`
	Overdue               int      `json:"overdue"`
	MedianResponseSeconds *float64 `json:"median_response_seconds"`
	MedianAnswerSeconds   *float64 `json:"median_answer_seconds"`
}

// ReportStatKeys are what ReportStats groups by, with the column of each (unit: every unit a
// report was routed to counts it).
var ReportStatKeys = map[string]string{"category": "r_category", "district": "r_district", "unit": "unit"}

// ReportStats counts the reports received in [from, to) by category, district or unit (one of
// ReportStatKeys), the most reported first. Units, when not nil, keeps the reports routed to
// one of them (and, by unit, those units only).
func (s *CitizenStore) ReportStats(ctx context.Context, from, to time.Time, by string, units []string) ([]ReportStat, error) {
	key, ok := ReportStatKeys[by]
	if !ok {
		return nil, fmt.Errorf("citizen report statistics: cannot group by %q", by)
	}
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	unit, having, args := "", "", []any{from.UTC().Truncate(time.Second), ceilSecond(to)}
	if by == "unit" {
		unit = " ARRAY JOIN r_units AS unit"
	}
	if units != nil {
		having = " HAVING hasAny(r_units, ?)"
		args = append(args, orNone(units))
		if by == "unit" {
			unit += " WHERE has(?, unit)"
			args = append(args, orNone(units))
		}
	}
	// per report: the first event's fields, the latest state and units, and when it was first
	// acted on and answered (milliseconds; 0: not yet); the r_ names keep the aggregates apart
	// from the columns they read
	q := `SELECT ` + key + `, count(), countIf(r_state = 'received'), countIf(r_state = 'in_progress'), countIf(r_state = 'resolved'),
  countIf(r_state = 'rejected'), sum(overdue),
  quantileIf(0.5)((acted - recv) / 1000, acted > 0), quantileIf(0.5)((answered - recv) / 1000, answered > 0)
FROM (
  SELECT report_id, anyIf(category, seq = 0) AS r_category, anyIf(district, seq = 0) AS r_district, argMax(units, seq) AS r_units,
    argMax(state, seq) AS r_state, max(visitParamExtractBool(report, 'overdue')) AS overdue,
    minIf(toUInt64(ts) * 1000 + ms, seq = 0) AS recv,
    minIf(toUInt64(ts) * 1000 + ms, state IN ('in_progress', 'resolved', 'rejected')) AS acted,
    minIf(toUInt64(ts) * 1000 + ms, state IN ('resolved', 'rejected')) AS answered
  FROM citizen_report_events FINAL
  WHERE report_id IN (SELECT report_id FROM citizen_report_events WHERE seq = 0 AND received >= ? AND received < ?)
  GROUP BY report_id` + having + `
)` + unit + `
GROUP BY ` + key + ` ORDER BY count() DESC, ` + key
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("citizen report statistics: %w", err)
	}
	defer rows.Close()
	var out []ReportStat
	for rows.Next() {
		var st ReportStat
		var n, open, prog, res, rej, over uint64
		var resp, ans float64
		if err := rows.Scan(&st.Key, &n, &open, &prog, &res, &rej, &over, &resp, &ans); err != nil {
			return nil, fmt.Errorf("citizen report statistics: %w", err)
		}
		st.Reports, st.Open, st.InProgress, st.Resolved, st.Rejected, st.Overdue = int(n), int(open), int(prog), int(res), int(rej), int(over)
		st.MedianResponseSeconds, st.MedianAnswerSeconds = finite(resp), finite(ans)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("citizen report statistics: %w", err)
	}
	return out, nil
}

// finite is v, or nil when it is not a number (a median of nothing).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
