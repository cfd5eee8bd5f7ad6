package analytics

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/ingest"
)

// AlertStore reads and writes what the alert engine keeps in ClickHouse — alert_events,
// alert_silences, alert_notifications and cap_messages (migrations 0006, 0007, 0010) — and the
// readings and camera statuses it warms up with at start. Its rows are plain values; the alerts
// package turns its own types into them.
type AlertStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

func (s *AlertStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return bounded(ctx, s.Timeout)
}

// bounded is ctx bounded by timeout (not bounded when it is 0): the statements of the stores
// that keep a Timeout.
func bounded(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}

// AlertEventRow is one row of alert_events: a transition, the labels analysts filter and group
// by, and the whole alert as JSON.
type AlertEventRow struct {
	Time                                               time.Time
	AlertID                                            string
	Seq                                                uint32
	Term                                               uint64 // the alert leader's term that wrote it
	Kind, Actor, Reason, ReasonEN                      string
	Rule, Subject, State, Severity, Category, District string
	Units                                              []string
	Alert                                              string // JSON
}

// AppendAlertEvents stores events in one insert.
func (s *AlertStore) AppendAlertEvents(ctx context.Context, rows []AlertEventRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "alert events", "INSERT INTO alert_events (ts, ms, alert_id, seq, term, kind, actor, reason, reason_en, "+
		"rule, subject, state, severity, category, district, units, alert)", len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		units := r.Units
		if units == nil {
			units = []string{}
		}
		return []any{r.Time.UTC(), Millis(r.Time), r.AlertID, r.Seq, r.Term, r.Kind, r.Actor, r.Reason, r.ReasonEN, r.Rule,
			r.Subject, r.State, r.Severity, r.Category, r.District, units, r.Alert}, nil
	})
}

// alertEventRead is what the reads of alert_events return: the transition and the alert.
const alertEventRead = `ts, ms, kind, actor, reason, reason_en, alert`

// LatestAlertEvents returns the latest event of every alert not resolved, as it stood at until:
// events after until (a simulated scenario's clock, earlier than the live runs before it) are
// not the engine's past. The rows hold the transition (time, kind, actor, reasons) and the alert.
func (s *AlertStore) LatestAlertEvents(ctx context.Context, until time.Time) ([]AlertEventRow, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT `+alertEventRead+` FROM alert_events
		WHERE ts <= ? AND alert_id IN (SELECT alert_id FROM alert_events WHERE ts <= ? GROUP BY alert_id HAVING argMax(state, seq) != 'resolved')
		ORDER BY alert_id, seq DESC LIMIT 1 BY alert_id`, until.UTC(), until.UTC())
	if err != nil {
		return nil, fmt.Errorf("alert events: latest: %w", err)
	}
	return scanAlertEvents(rows)
}

// AlertHistory returns every event of one alert, oldest first.
func (s *AlertStore) AlertHistory(ctx context.Context, alertID string) ([]AlertEventRow, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT `+alertEventRead+` FROM alert_events FINAL WHERE alert_id = ? ORDER BY seq`, alertID)
	if err != nil {
		return nil, fmt.Errorf("alert %s: history: %w", alertID, err)
	}
	return scanAlertEvents(rows)
}

func scanAlertEvents(rows driver.Rows) ([]AlertEventRow, error) {
	defer rows.Close()
	var out []AlertEventRow
	for rows.Next() {
		var r AlertEventRow
		var ms uint16
		if err := rows.Scan(&r.Time, &ms, &r.Kind, &r.Actor, &r.Reason, &r.ReasonEN, &r.Alert); err != nil {
			return nil, fmt.Errorf("alert events: scan: %w", err)
		}
		r.Time = r.Time.Add(time.Duration(ms) * time.Millisecond)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert events: %w", err)
	}
	return out, nil
}

// SilenceRow is one version of a silence; Matchers is JSON.
type SilenceRow struct {
	ID, Matchers, Author, Reason string
	StartsAt, EndsAt, UpdatedAt  time.Time
}

// SaveSilence stores a new version of a silence.
func (s *AlertStore) SaveSilence(ctx context.Context, r SilenceRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "silence "+r.ID, "INSERT INTO alert_silences (id, matchers, starts_at, ends_at, author, reason, updated_at, updated_ms)", 1,
		func(int) ([]any, error) {
			return []any{r.ID, r.Matchers, r.StartsAt.UTC(), r.EndsAt.UTC(), r.Author, r.Reason, r.UpdatedAt.UTC(), Millis(r.UpdatedAt)}, nil
		})
}

// Silences returns the newest version of each silence.
func (s *AlertStore) Silences(ctx context.Context) ([]SilenceRow, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT id, matchers, starts_at, ends_at, author, reason, updated_at, updated_ms
		FROM alert_silences ORDER BY id, updated_at DESC, updated_ms DESC LIMIT 1 BY id`)
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	defer rows.Close()
	var out []SilenceRow
	for rows.Next() {
		var r SilenceRow
		var ms uint16
		if err := rows.Scan(&r.ID, &r.Matchers, &r.StartsAt, &r.EndsAt, &r.Author, &r.Reason, &r.UpdatedAt, &ms); err != nil {
			return nil, fmt.Errorf("silences: scan: %w", err)
		}
		r.UpdatedAt = r.UpdatedAt.Add(time.Duration(ms) * time.Millisecond)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	return out, nil
}

// AttemptRow is one attempt to deliver a notification, a row of alert_notifications.
type AttemptRow struct {
	Time                       time.Time
	AlertID                    string
	Seq                        uint32
	Kind, Receiver, Type, Unit string
	Number                     int
	Status, Error              string
	Duration                   time.Duration
}

// AppendAttempts stores notification attempts in one insert.
func (s *AlertStore) AppendAttempts(ctx context.Context, rows []AttemptRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "notification log", "INSERT INTO alert_notifications (ts, ms, alert_id, seq, kind, receiver, "+
		"receiver_type, unit, attempt, status, error, duration_ms)", len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		return []any{r.Time.UTC(), Millis(r.Time), r.AlertID, r.Seq, r.Kind, r.Receiver, r.Type, r.Unit,
			uint8(min(r.Number, 255)), r.Status, r.Error, float32(r.Duration.Seconds() * 1000)}, nil
	})
}

// CAPMessage is one published CAP message, a row of cap_messages.
type CAPMessage struct {
	Sent       time.Time
	Identifier string
	AlertID    string
	Seq        uint32
	MsgType    string
	XML        []byte
}

// AppendCAP stores published CAP messages in one insert.
func (s *AlertStore) AppendCAP(ctx context.Context, msgs []CAPMessage) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "cap messages", "INSERT INTO cap_messages (sent, identifier, alert_id, seq, msg_type, xml)", len(msgs),
		func(i int) ([]any, error) {
			m := &msgs[i]
			return []any{m.Sent.UTC(), m.Identifier, m.AlertID, m.Seq, m.MsgType, string(m.XML)}, nil
		})
}

// CAPMessages returns the messages sent since, and every message of alerts not yet cancelled,
// oldest first within each alert.
func (s *AlertStore) CAPMessages(ctx context.Context, since time.Time) ([]CAPMessage, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT sent, identifier, alert_id, seq, msg_type, xml FROM cap_messages FINAL
		WHERE sent >= ? OR alert_id IN (SELECT alert_id FROM cap_messages GROUP BY alert_id HAVING argMax(msg_type, seq) != 'Cancel')
		ORDER BY alert_id, seq`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cap messages: %w", err)
	}
	defer rows.Close()
	var out []CAPMessage
	for rows.Next() {
		var m CAPMessage
		var doc string
		if err := rows.Scan(&m.Sent, &m.Identifier, &m.AlertID, &m.Seq, &m.MsgType, &doc); err != nil {
			return nil, fmt.Errorf("cap messages: scan: %w", err)
		}
		m.XML = []byte(doc)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cap messages: %w", err)
	}
	return out, nil
}

// ErrNoCAPMessage is CAPDocument's answer for an identifier never published.
var ErrNoCAPMessage = errors.New("no such CAP message")

// CAPDocument returns the stored document of one message; ErrNoCAPMessage when there is none.
func (s *AlertStore) CAPDocument(ctx context.Context, identifier string) ([]byte, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var doc string
	err := s.Conn.QueryRow(ctx, `SELECT xml FROM cap_messages WHERE identifier = ? LIMIT 1`, identifier).Scan(&doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNoCAPMessage
	case err != nil:
		return nil, fmt.Errorf("cap message: %w", err)
	}
	return []byte(doc), nil
}

// RecentReadings returns the stored readings of metrics in [since, until], oldest first: the
// engine warms its rate and window rules with them at start.
func (s *AlertStore) RecentReadings(ctx context.Context, metrics []string, since, until time.Time) ([]ingest.Reading, error) {
	if len(metrics) == 0 {
		return nil, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT ts, sensor_id, metric, value FROM readings
		WHERE metric IN ? AND ts >= ? AND ts <= ? AND quality = 'good' ORDER BY ts`, StringSet(metrics), since.UTC(), until.UTC())
	if err != nil {
		return nil, fmt.Errorf("recent readings: %w", err)
	}
	defer rows.Close()
	var out []ingest.Reading
	for rows.Next() {
		var r ingest.Reading
		if err := rows.Scan(&r.Time, &r.Sensor, &r.Metric, &r.Value); err != nil {
			return nil, fmt.Errorf("recent readings: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent readings: %w", err)
	}
	return out, nil
}

// LastSeen returns when each sensor last reported a reading and each camera a status in
// [since, until]: the absence rules judge silence from there after a restart.
func (s *AlertStore) LastSeen(ctx context.Context, since, until time.Time) (sensors, cameras map[string]time.Time, err error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	read := func(what, query string) (map[string]time.Time, error) {
		rows, err := s.Conn.Query(ctx, query, since.UTC(), until.UTC())
		if err != nil {
			return nil, fmt.Errorf("last seen %s: %w", what, err)
		}
		defer rows.Close()
		out := map[string]time.Time{}
		for rows.Next() {
			var id string
			var t time.Time
			if err := rows.Scan(&id, &t); err != nil {
				return nil, fmt.Errorf("last seen %s: scan: %w", what, err)
			}
			out[id] = t.UTC()
		}
		return out, rows.Err()
	}
	if sensors, err = read("sensors", `SELECT toString(sensor_id), max(ts) FROM readings WHERE ts >= ? AND ts <= ? GROUP BY sensor_id`); err != nil {
		return nil, nil, err
	}
	if cameras, err = read("cameras", `SELECT toString(camera_id), max(ts) FROM camera_status WHERE ts >= ? AND ts <= ? GROUP BY camera_id`); err != nil {
		return nil, nil, err
	}
	return sensors, cameras, nil
}

// CAPDraftRow is one version of a public warning waiting for approval (cap_drafts, migration
// 0012).
type CAPDraftRow struct {
	// Version orders the versions of a draft: the latest is the one with the highest. It is
	// given when the version is made, not when it is stored (an outbox may store an older
	// version after a newer one).
	Version             uint64
	Identifier, AlertID string
	Seq                 uint32
	MsgType, State      string
	Created             time.Time
	RiskLevel           uint8
	Suspect             bool
	Needed              uint8
	// Approvals are "<actor>\t<name>\t<RFC 3339 time>".
	Approvals         []string
	DecidedBy, Reason string
	XML               []byte
}

// PutCAPDrafts stores new versions of drafts in one insert.
func (s *AlertStore) PutCAPDrafts(ctx context.Context, drafts []CAPDraftRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "cap drafts", "INSERT INTO cap_drafts (identifier, version, alert_id, seq, msg_type, state, created, risk_level, suspect, needed, approvals, decided_by, reason, xml)",
		len(drafts), func(i int) ([]any, error) {
			d := &drafts[i]
			var suspect uint8
			if d.Suspect {
				suspect = 1
			}
			return []any{d.Identifier, d.Version, d.AlertID, d.Seq, d.MsgType, d.State, d.Created.UTC(), d.RiskLevel, suspect, d.Needed,
				d.Approvals, d.DecidedBy, d.Reason, string(d.XML)}, nil
		})
}

// PendingCAPDrafts returns the drafts still waiting, oldest first.
func (s *AlertStore) PendingCAPDrafts(ctx context.Context) ([]CAPDraftRow, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT identifier, alert_id, seq, msg_type, state, created, risk_level, suspect, needed, approvals, decided_by, reason, xml
FROM cap_drafts FINAL WHERE state = 'pending' ORDER BY created, identifier`)
	if err != nil {
		return nil, fmt.Errorf("cap drafts: %w", err)
	}
	defer rows.Close()
	var out []CAPDraftRow
	for rows.Next() {
		var d CAPDraftRow
		var suspect uint8
		var doc string
		if err := rows.Scan(&d.Identifier, &d.AlertID, &d.Seq, &d.MsgType, &d.State, &d.Created, &d.RiskLevel, &suspect, &d.Needed,
			&d.Approvals, &d.DecidedBy, &d.Reason, &doc); err != nil {
			return nil, fmt.Errorf("cap drafts: scan: %w", err)
		}
		d.Suspect, d.XML, d.Created = suspect == 1, []byte(doc), d.Created.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// Attempts returns every delivery attempt of the notifications of the alerts with these ids
// (an incident's overdue steps are notified under the incident's id), oldest first.
func (s *AlertStore) Attempts(ctx context.Context, alertIDs ...string) ([]AttemptRow, error) {
	if len(alertIDs) == 0 {
		return []AttemptRow{}, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT ts, ms, alert_id, seq, kind, receiver, receiver_type, unit, attempt, status, error, duration_ms
FROM alert_notifications WHERE alert_id IN ? ORDER BY ts, ms, receiver, attempt`, StringSet(alertIDs))
	if err != nil {
		return nil, fmt.Errorf("notification log: %w", err)
	}
	defer rows.Close()
	out := []AttemptRow{}
	for rows.Next() {
		var r AttemptRow
		var ms uint16
		var number uint8
		var durMS float32
		if err := rows.Scan(&r.Time, &ms, &r.AlertID, &r.Seq, &r.Kind, &r.Receiver, &r.Type, &r.Unit, &number, &r.Status, &r.Error, &durMS); err != nil {
			return nil, fmt.Errorf("notification log: %w", err)
		}
		r.Time = r.Time.UTC().Add(time.Duration(ms) * time.Millisecond)
		r.Number, r.Duration = int(number), time.Duration(float64(durMS)*float64(time.Millisecond))
		out = append(out, r)
	}
	return out, rows.Err()
}

// AlertSearch narrows the alerts of a time range; empty fields do not narrow.
type AlertSearch struct {
	From, To                        time.Time
	District, Category, State, Text string
	// Units keeps the alerts routed to any of them (a unit caller's own, or one asked for).
	Units         []string
	Limit, Offset int
}

// AlertSearchRow is one alert as its events in the range left it.
type AlertSearchRow struct {
	AlertID, Rule, Subject, State, Severity, Category, District string
	Units                                                       []string
	// Fired, Acked and Resolved are the first such transition in the range; zero when none.
	Fired, Acked, Resolved time.Time
	// Alert is the whole alert after its last transition in the range, as JSON.
	Alert []byte
}

// fromMillis is a time of Unix milliseconds; 0 is none (the zero time).
func fromMillis(ms uint64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

const alertSearchFrom = `FROM (
  SELECT alert_id, argMax(state, seq) AS state, argMax(severity, seq) AS severity, any(rule) AS rule, any(subject) AS subject,
    any(category) AS category, any(district) AS district, argMax(units, seq) AS units,
    minIf(toUInt64(ts) * 1000 + ms, kind = 'firing') AS fired, minIf(toUInt64(ts) * 1000 + ms, kind = 'acknowledged') AS acked,
    minIf(toUInt64(ts) * 1000 + ms, kind = 'resolved') AS resolved,
    argMax(alert, seq) AS doc
  FROM alert_events FINAL WHERE ts >= ? AND ts < ? GROUP BY alert_id)
WHERE (? = '' OR district = ?) AND (? = '' OR category = ?) AND (? = '' OR state = ?)
  AND (? = '' OR hasAny(units, splitByChar(',', ?))) AND (? = '' OR positionCaseInsensitiveUTF8(doc, ?) > 0)`

// SearchAlerts returns the alerts with events in [From, To) that q keeps, newest first (by
// when they fired), at most Limit after Offset, and how many there are.
func (s *AlertStore) SearchAlerts(ctx context.Context, q AlertSearch) ([]AlertSearchRow, int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	units := strings.Join(q.Units, ",")
	args := []any{q.From.UTC(), q.To.UTC(), q.District, q.District, q.Category, q.Category, q.State, q.State, units, units, q.Text, q.Text}
	var total uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() "+alertSearchFrom, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("alert search: %w", err)
	}
	rows, err := s.Conn.Query(ctx, `SELECT alert_id, rule, subject, state, severity, category, district, units, fired, acked, resolved, doc `+
		alertSearchFrom+` ORDER BY fired DESC, alert_id LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("alert search: %w", err)
	}
	defer rows.Close()
	out := []AlertSearchRow{}
	for rows.Next() {
		var r AlertSearchRow
		var doc string
		var fired, acked, resolved uint64 // Unix milliseconds, 0 when none
		if err := rows.Scan(&r.AlertID, &r.Rule, &r.Subject, &r.State, &r.Severity, &r.Category, &r.District, &r.Units,
			&fired, &acked, &resolved, &doc); err != nil {
			return nil, 0, fmt.Errorf("alert search: %w", err)
		}
		r.Fired, r.Acked, r.Resolved, r.Alert = fromMillis(fired), fromMillis(acked), fromMillis(resolved), []byte(doc)
		out = append(out, r)
	}
	return out, int(total), rows.Err()
}
