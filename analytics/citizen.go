package analytics

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
type CitizenEvent struct {
	Time   time.Time
	Seq    uint32
	Kind   string
	Actor  string
	Report citizen.Report
}

// AppendCitizenEvents stores events in one insert.
func (s *CitizenStore) AppendCitizenEvents(ctx context.Context, evs []CitizenEvent) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "citizen report events", "INSERT INTO citizen_report_events (ts, ms, report_id, seq, kind, actor, "+
		"ticket, client_key, category, state, district, commune, lat, lon, received, units, photos, report)", len(evs), func(i int) ([]any, error) {
		e := &evs[i]
		r := &e.Report
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
	var doc string
	// column is one of two names above, never the caller's text
	err := s.Conn.QueryRow(ctx, `SELECT argMax(report, seq) FROM citizen_report_events FINAL WHERE report_id IN (
  SELECT report_id FROM citizen_report_events WHERE `+column+` = ? LIMIT 1) GROUP BY report_id`, v).Scan(&doc)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return citizen.Report{}, ErrNoReport
		}
		return citizen.Report{}, fmt.Errorf("citizen report by %s: %w", column, err)
	}
	var r citizen.Report
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return citizen.Report{}, fmt.Errorf("citizen report by %s: stored JSON: %w", column, err)
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
	to := f.To.UTC().Truncate(time.Second)
	if to.Before(f.To) {
		to = to.Add(time.Second)
	}
	where, args := "received >= ? AND received < ?", []any{f.From.UTC().Truncate(time.Second), to}
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
	// recv orders by the first event, to the millisecond: when the report was received
	inner := `SELECT report_id, argMax(report, seq) AS doc, min(toUInt64(ts) * 1000 + ms) AS recv FROM citizen_report_events FINAL WHERE ` + where +
		` GROUP BY report_id HAVING ` + having
	all := append(append([]any{}, args...), hargs...)
	var total uint64
	if err := s.Conn.QueryRow(ctx, `SELECT count() FROM (`+inner+`)`, all...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("citizen reports: count: %w", err)
	}
	rows, err := s.Conn.Query(ctx, `SELECT doc FROM (`+inner+`) ORDER BY recv DESC, report_id LIMIT ? OFFSET ?`,
		append(all, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("citizen reports: %w", err)
	}
	defer rows.Close()
	var out []citizen.Report
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, 0, fmt.Errorf("citizen reports: %w", err)
		}
		var r citizen.Report
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return nil, 0, fmt.Errorf("citizen reports: stored JSON: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("citizen reports: %w", err)
	}
	return out, int(total), nil
}

// Report is one report as it is now, by its id.
func (s *CitizenStore) Report(ctx context.Context, id string) (citizen.Report, error) {
	return s.latest(ctx, "report_id", id)
}
