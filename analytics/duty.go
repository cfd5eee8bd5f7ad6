package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DutyEntry is one line of the duty log (duty_log, migration 0017).
type DutyEntry struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	AuthorID string    `json:"author_id"`
	Author   string    `json:"author"`
	Text     string    `json:"text"`
}

// AlertRef is an alert as a handover lists it: what the incoming officer must take over.
type AlertRef struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"` // Vietnamese
	TitleEN  string    `json:"title_en,omitempty"`
	Severity string    `json:"severity"`
	District string    `json:"district"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
}

// IncidentRef is an incident as a handover lists it.
type IncidentRef struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"` // Vietnamese
	TitleEN   string    `json:"title_en,omitempty"`
	Severity  string    `json:"severity"`
	State     string    `json:"state"`
	Owner     string    `json:"owner,omitempty"`
	Districts []string  `json:"districts"`
	Opened    time.Time `json:"opened"`
	// StepsOpen and StepsOverdue count the steps of its procedure not done, and those past due.
	StepsOpen    int `json:"steps_open"`
	StepsOverdue int `json:"steps_overdue"`
}

// Handover is a shift handover (duty_handovers, migration 0017): the outgoing officer's notes
// and the alerts nobody had acknowledged then; Accepted is zero until an incoming officer
// accepts it.
type Handover struct {
	ID         string     `json:"id"`
	Created    time.Time  `json:"created"`
	OutgoingID string     `json:"outgoing_id"`
	Outgoing   string     `json:"outgoing"`
	Notes      string     `json:"notes"`
	Alerts     []AlertRef `json:"alerts"`
	// Incidents are the incidents open at the handover (migration 0018; none before it).
	Incidents    []IncidentRef `json:"incidents"`
	Accepted     time.Time     `json:"accepted,omitzero"`
	IncomingID   string        `json:"incoming_id,omitempty"`
	Incoming     string        `json:"incoming,omitempty"`
	IncomingNote string        `json:"incoming_note,omitempty"`
}

// DutyStore reads and writes the duty log and the handovers.
type DutyStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// AddEntry appends a line to the duty log.
func (s *DutyStore) AddEntry(ctx context.Context, e DutyEntry) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "duty log", "INSERT INTO duty_log (ts, ms, id, author_id, author, text)", 1,
		func(int) ([]any, error) {
			return []any{e.Time.UTC(), uint16(e.Time.Nanosecond() / 1e6), e.ID, e.AuthorID, e.Author, e.Text}, nil
		})
}

// Entries returns the duty log's lines of [from, to), newest first, at most limit.
func (s *DutyStore) Entries(ctx context.Context, from, to time.Time, limit int) ([]DutyEntry, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT ts, ms, id, author_id, author, text FROM duty_log
WHERE ts >= ? AND ts < ? ORDER BY ts DESC, ms DESC, id DESC LIMIT ?`, from.UTC().Truncate(time.Second), ceilSecond(to), uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("duty log: %w", err)
	}
	defer rows.Close()
	var out []DutyEntry
	for rows.Next() {
		var e DutyEntry
		var ms uint16
		if err := rows.Scan(&e.Time, &ms, &e.ID, &e.AuthorID, &e.Author, &e.Text); err != nil {
			return nil, fmt.Errorf("duty log: %w", err)
		}
		e.Time = e.Time.UTC().Add(time.Duration(ms) * time.Millisecond)
		if !e.Time.Before(from) && e.Time.Before(to) { // the columns are whole seconds
			out = append(out, e)
		}
	}
	return out, rows.Err()
}

// ceilSecond is t rounded up to a whole second, UTC (DateTime holds seconds).
func ceilSecond(t time.Time) time.Time {
	if c := t.UTC().Truncate(time.Second); c.Before(t) {
		return c.Add(time.Second)
	}
	return t.UTC()
}

// PutHandover stores a new version of a handover (handed over, then accepted).
func (s *DutyStore) PutHandover(ctx context.Context, h Handover) error {
	alerts, err := json.Marshal(h.Alerts)
	if err != nil {
		return fmt.Errorf("handover %s: %w", h.ID, err)
	}
	incidents, err := json.Marshal(h.Incidents)
	if err != nil {
		return fmt.Errorf("handover %s: %w", h.ID, err)
	}
	return InsertRows(ctx, s.Conn, s.Timeout, "handover", `INSERT INTO duty_handovers (id, version, created, created_ms, outgoing_id, outgoing, notes, alerts,
    incidents, accepted, accepted_ms, incoming_id, incoming, incoming_note)`, 1, func(int) ([]any, error) {
		return []any{h.ID, uint64(time.Now().UnixNano()), h.Created.UTC(), uint16(h.Created.Nanosecond() / 1e6), h.OutgoingID, h.Outgoing, h.Notes, string(alerts),
			string(incidents), epochIfZero(h.Accepted), uint16(h.Accepted.Nanosecond() / 1e6), h.IncomingID, h.Incoming, h.IncomingNote}, nil
	})
}

// Handovers returns the latest version of the newest handovers, newest first, at most limit.
func (s *DutyStore) Handovers(ctx context.Context, limit int) ([]Handover, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT id, created, created_ms, outgoing_id, outgoing, notes, alerts, incidents, accepted, accepted_ms, incoming_id, incoming, incoming_note
FROM duty_handovers FINAL ORDER BY created DESC, created_ms DESC, id DESC LIMIT ?`, uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("handovers: %w", err)
	}
	defer rows.Close()
	var out []Handover
	for rows.Next() {
		var h Handover
		var cms, ams uint16
		var alerts, incidents string
		if err := rows.Scan(&h.ID, &h.Created, &cms, &h.OutgoingID, &h.Outgoing, &h.Notes, &alerts, &incidents, &h.Accepted, &ams, &h.IncomingID, &h.Incoming, &h.IncomingNote); err != nil {
			return nil, fmt.Errorf("handovers: %w", err)
		}
		if err := json.Unmarshal([]byte(alerts), &h.Alerts); err != nil {
			return nil, fmt.Errorf("handover %s: its alerts: %w", h.ID, err)
		}
		h.Incidents = []IncidentRef{}
		if incidents != "" { // a handover stored before migration 0018 has none
			if err := json.Unmarshal([]byte(incidents), &h.Incidents); err != nil {
				return nil, fmt.Errorf("handover %s: its incidents: %w", h.ID, err)
			}
		}
		h.Created = h.Created.UTC().Add(time.Duration(cms) * time.Millisecond)
		if h.Accepted = never(h.Accepted); !h.Accepted.IsZero() {
			h.Accepted = h.Accepted.Add(time.Duration(ams) * time.Millisecond)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
