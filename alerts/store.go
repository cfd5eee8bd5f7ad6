package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
)

// ClickHouseStore keeps alert events, silences and the notification log in ClickHouse (the
// tables of migrations 0006 and 0007) and reads the recent readings the engine warms its windows with.
type ClickHouseStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// eventColumns are alert_events' columns (migration 0007): the transition, the labels analysts
// filter and group by, and the whole alert as JSON.
const eventColumns = `ts, ms, alert_id, seq, kind, actor, reason, reason_en, rule, subject, state, severity, category, district, units, alert`

// eventReadColumns are what scanEvents reads back: the transition and the alert.
const eventReadColumns = `ts, ms, kind, actor, reason, reason_en, alert`

func (s *ClickHouseStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.Timeout)
}

// AppendEvents stores events in one insert.
func (s *ClickHouseStore) AppendEvents(ctx context.Context, events []Event) error {
	return s.insert(ctx, "alert events", "INSERT INTO alert_events ("+eventColumns+")", len(events), func(i int) ([]any, error) {
		e, a := &events[i], &events[i].Alert
		doc, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("alert %s: %w", a.ID, err)
		}
		return []any{e.Time.UTC(), analytics.Millis(e.Time), a.ID, a.Seq, string(e.Kind), e.Actor, e.Reason, e.ReasonEN, a.Rule,
			a.Subject, string(a.State), string(a.Severity), a.Category, a.District, nonNil(a.Units), string(doc)}, nil
	})
}

// insert stores n rows in one INSERT (stmt) within the store's timeout.
func (s *ClickHouseStore) insert(ctx context.Context, what, stmt string, n int, row func(i int) ([]any, error)) error {
	return analytics.InsertRows(ctx, s.Conn, s.Timeout, what, stmt, n, row)
}

// LatestEvents returns the latest event of every alert not resolved, as it stood at until:
// events after until (a simulated scenario's clock, earlier than the live runs before it) are
// not the engine's past.
func (s *ClickHouseStore) LatestEvents(ctx context.Context, until time.Time) ([]Event, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT `+eventReadColumns+` FROM alert_events
		WHERE ts <= ? AND alert_id IN (SELECT alert_id FROM alert_events WHERE ts <= ? GROUP BY alert_id HAVING argMax(state, seq) != 'resolved')
		ORDER BY alert_id, seq DESC LIMIT 1 BY alert_id`, until.UTC(), until.UTC())
	if err != nil {
		return nil, fmt.Errorf("alert events: latest: %w", err)
	}
	return scanEvents(rows)
}

// History returns every event of one alert, oldest first.
func (s *ClickHouseStore) History(ctx context.Context, alertID string) ([]Event, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT `+eventReadColumns+` FROM alert_events FINAL WHERE alert_id = ? ORDER BY seq`, alertID)
	if err != nil {
		return nil, fmt.Errorf("alert %s: history: %w", alertID, err)
	}
	return scanEvents(rows)
}

func scanEvents(rows driver.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var ms uint16
		var kind, doc string
		if err := rows.Scan(&e.Time, &ms, &kind, &e.Actor, &e.Reason, &e.ReasonEN, &doc); err != nil {
			return nil, fmt.Errorf("alert events: scan: %w", err)
		}
		if err := json.Unmarshal([]byte(doc), &e.Alert); err != nil {
			return nil, fmt.Errorf("alert events: an alert of %s: %w", e.Time.UTC().Format(time.RFC3339), err)
		}
		e.Time = e.Time.Add(time.Duration(ms) * time.Millisecond)
		e.Kind = EventKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert events: %w", err)
	}
	return out, nil
}

// SaveSilence stores a new version of a silence.
func (s *ClickHouseStore) SaveSilence(ctx context.Context, sil Silence) error {
	m, err := json.Marshal(sil.Matchers)
	if err != nil {
		return fmt.Errorf("silence %s: %w", sil.ID, err)
	}
	return s.insert(ctx, "silence "+sil.ID, "INSERT INTO alert_silences (id, matchers, starts_at, ends_at, author, reason, updated_at, updated_ms)", 1,
		func(int) ([]any, error) {
			return []any{sil.ID, string(m), sil.StartsAt.UTC(), sil.EndsAt.UTC(), sil.Author, sil.Reason, sil.UpdatedAt.UTC(), analytics.Millis(sil.UpdatedAt)}, nil
		})
}

// Silences returns the newest version of each silence that has not ended by now.
func (s *ClickHouseStore) Silences(ctx context.Context, now time.Time) ([]Silence, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT id, matchers, starts_at, ends_at, author, reason, updated_at, updated_ms
		FROM alert_silences ORDER BY id, updated_at DESC, updated_ms DESC LIMIT 1 BY id`)
	if err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var sil Silence
		var m string
		var ms uint16
		if err := rows.Scan(&sil.ID, &m, &sil.StartsAt, &sil.EndsAt, &sil.Author, &sil.Reason, &sil.UpdatedAt, &ms); err != nil {
			return nil, fmt.Errorf("silences: scan: %w", err)
		}
		sil.UpdatedAt = sil.UpdatedAt.Add(time.Duration(ms) * time.Millisecond)
		if err := json.Unmarshal([]byte(m), &sil.Matchers); err != nil {
			return nil, fmt.Errorf("silence %s: matchers: %w", sil.ID, err)
		}
		if sil.EndsAt.After(now) {
			out = append(out, sil)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("silences: %w", err)
	}
	return out, nil
}

// Attempt is one attempt to deliver a notification to a receiver.
type Attempt struct {
	Time     time.Time
	AlertID  string
	Seq      uint32
	Kind     EventKind
	Receiver string
	Type     string
	Unit     string
	Number   int // 1 for the first try
	// Status is ok, retry (failed, will try again), failed (gave up) or dropped (queue full).
	Status   string
	Error    string
	Duration time.Duration
}

// AppendAttempts stores notification attempts in one insert.
func (s *ClickHouseStore) AppendAttempts(ctx context.Context, ds []Attempt) error {
	return s.insert(ctx, "notification log", "INSERT INTO alert_notifications (ts, ms, alert_id, seq, kind, receiver, receiver_type, unit, attempt, status, error, duration_ms)", len(ds),
		func(i int) ([]any, error) {
			d := &ds[i]
			return []any{d.Time.UTC(), analytics.Millis(d.Time), d.AlertID, d.Seq, string(d.Kind), d.Receiver, d.Type, d.Unit,
				uint8(min(d.Number, 255)), d.Status, d.Error, float32(d.Duration.Seconds() * 1000)}, nil
		})
}

// RecentReadings returns the stored readings of metrics in [since, until], oldest first: the
// engine warms its rate and window rules with them at start.
func (s *ClickHouseStore) RecentReadings(ctx context.Context, metrics []string, since, until time.Time) ([]ingest.Reading, error) {
	if len(metrics) == 0 {
		return nil, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT ts, sensor_id, metric, value FROM readings
		WHERE metric IN ? AND ts >= ? AND ts <= ? AND quality = 'good' ORDER BY ts`, analytics.StringSet(metrics), since.UTC(), until.UTC())
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
func (s *ClickHouseStore) LastSeen(ctx context.Context, since, until time.Time) (sensors, cameras map[string]time.Time, err error) {
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AppendCAP stores published CAP messages in one insert.
func (s *ClickHouseStore) AppendCAP(ctx context.Context, recs []CAPRecord) error {
	return s.insert(ctx, "cap messages", "INSERT INTO cap_messages (sent, identifier, alert_id, seq, msg_type, xml)", len(recs),
		func(i int) ([]any, error) {
			r := &recs[i]
			return []any{r.Sent.UTC(), r.Identifier, r.AlertID, r.Seq, r.MsgType, string(r.XML)}, nil
		})
}

// CAPMessages returns the messages sent since, and every message of alerts not yet cancelled,
// oldest first within each alert.
func (s *ClickHouseStore) CAPMessages(ctx context.Context, since time.Time) ([]CAPRecord, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT sent, identifier, alert_id, seq, msg_type, xml FROM cap_messages FINAL
		WHERE sent >= ? OR alert_id IN (SELECT alert_id FROM cap_messages GROUP BY alert_id HAVING argMax(msg_type, seq) != 'Cancel')
		ORDER BY alert_id, seq`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cap messages: %w", err)
	}
	defer rows.Close()
	var out []CAPRecord
	for rows.Next() {
		var r CAPRecord
		var doc string
		if err := rows.Scan(&r.Sent, &r.Identifier, &r.AlertID, &r.Seq, &r.MsgType, &doc); err != nil {
			return nil, fmt.Errorf("cap messages: scan: %w", err)
		}
		r.XML = []byte(doc)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cap messages: %w", err)
	}
	return out, nil
}

// CAPDocument returns the stored document of one message; ErrNotFound when there is none.
func (s *ClickHouseStore) CAPDocument(ctx context.Context, identifier string) ([]byte, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var doc string
	err := s.Conn.QueryRow(ctx, `SELECT xml FROM cap_messages WHERE identifier = ? LIMIT 1`, identifier).Scan(&doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("cap message: %w", err)
	}
	return []byte(doc), nil
}
