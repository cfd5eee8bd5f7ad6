package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
)

// ClickHouseStore keeps alert events, silences, the notification log and the published CAP
// messages in ClickHouse, and reads the recent readings the engine warms its windows with. The
// SQL is analytics' (analytics.AlertStore); this turns the engine's values into its rows.
type ClickHouseStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

func (s *ClickHouseStore) tables() *analytics.AlertStore {
	return &analytics.AlertStore{Conn: s.Conn, Timeout: s.Timeout}
}

// AppendEvents stores events in one insert.
func (s *ClickHouseStore) AppendEvents(ctx context.Context, events []Event) error {
	rows := make([]analytics.AlertEventRow, len(events))
	for i := range events {
		e, a := &events[i], &events[i].Alert
		doc, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("alert %s: %w", a.ID, err)
		}
		rows[i] = analytics.AlertEventRow{Time: e.Time, AlertID: a.ID, Seq: a.Seq, Term: e.Term, Kind: string(e.Kind), Actor: e.Actor, Reason: e.Reason,
			ReasonEN: e.ReasonEN, Rule: a.Rule, Subject: a.Subject, State: string(a.State), Severity: string(a.Severity), Category: a.Category,
			District: a.District, Units: a.Units, Alert: string(doc)}
	}
	return s.tables().AppendAlertEvents(ctx, rows)
}

// LatestEvents returns the latest event of every alert not resolved, as it stood at until
// (analytics.AlertStore.LatestAlertEvents).
func (s *ClickHouseStore) LatestEvents(ctx context.Context, until time.Time) ([]Event, error) {
	rows, err := s.tables().LatestAlertEvents(ctx, until)
	if err != nil {
		return nil, err
	}
	return events(rows)
}

// History returns every event of one alert, oldest first.
func (s *ClickHouseStore) History(ctx context.Context, alertID string) ([]Event, error) {
	rows, err := s.tables().AlertHistory(ctx, alertID)
	if err != nil {
		return nil, err
	}
	return events(rows)
}

// events turns stored rows back into events.
func events(rows []analytics.AlertEventRow) ([]Event, error) {
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{Time: r.Time, Kind: EventKind(r.Kind), Actor: r.Actor, Reason: r.Reason, ReasonEN: r.ReasonEN}
		if err := json.Unmarshal([]byte(r.Alert), &out[i].Alert); err != nil {
			return nil, fmt.Errorf("alert events: an alert of %s: %w", r.Time.UTC().Format(time.RFC3339), err)
		}
	}
	return out, nil
}

// SaveSilence stores a new version of a silence.
func (s *ClickHouseStore) SaveSilence(ctx context.Context, sil Silence) error {
	m, err := json.Marshal(sil.Matchers)
	if err != nil {
		return fmt.Errorf("silence %s: %w", sil.ID, err)
	}
	return s.tables().SaveSilence(ctx, analytics.SilenceRow{ID: sil.ID, Matchers: string(m), Author: sil.Author, Reason: sil.Reason,
		StartsAt: sil.StartsAt, EndsAt: sil.EndsAt, UpdatedAt: sil.UpdatedAt})
}

// Silences returns the newest version of each silence that has not ended by now.
func (s *ClickHouseStore) Silences(ctx context.Context, now time.Time) ([]Silence, error) {
	rows, err := s.tables().Silences(ctx)
	if err != nil {
		return nil, err
	}
	var out []Silence
	for _, r := range rows {
		if !r.EndsAt.After(now) {
			continue
		}
		sil := Silence{ID: r.ID, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Author: r.Author, Reason: r.Reason, UpdatedAt: r.UpdatedAt}
		if err := json.Unmarshal([]byte(r.Matchers), &sil.Matchers); err != nil {
			return nil, fmt.Errorf("silence %s: matchers: %w", sil.ID, err)
		}
		out = append(out, sil)
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

// AlertSearch and AlertSearchRow are the alert history's search and its answers.
type (
	AlertSearch    = analytics.AlertSearch
	AlertSearchRow = analytics.AlertSearchRow
)

// SearchAlerts searches the alerts stored in alert_events.
func (s *ClickHouseStore) SearchAlerts(ctx context.Context, q AlertSearch) ([]AlertSearchRow, int, error) {
	return s.tables().SearchAlerts(ctx, q)
}

// Deliveries returns every attempt to deliver the notifications of the alerts with these ids,
// oldest first.
func (s *ClickHouseStore) Deliveries(ctx context.Context, alertIDs ...string) ([]Attempt, error) {
	rows, err := s.tables().Attempts(ctx, alertIDs...)
	if err != nil {
		return nil, err
	}
	out := make([]Attempt, len(rows))
	for i, r := range rows {
		out[i] = Attempt{Time: r.Time, AlertID: r.AlertID, Seq: r.Seq, Kind: EventKind(r.Kind), Receiver: r.Receiver, Type: r.Type,
			Unit: r.Unit, Number: r.Number, Status: r.Status, Error: r.Error, Duration: r.Duration}
	}
	return out, nil
}

// AppendAttempts stores notification attempts in one insert.
func (s *ClickHouseStore) AppendAttempts(ctx context.Context, as []Attempt) error {
	rows := make([]analytics.AttemptRow, len(as))
	for i, a := range as {
		rows[i] = analytics.AttemptRow{Time: a.Time, AlertID: a.AlertID, Seq: a.Seq, Kind: string(a.Kind), Receiver: a.Receiver, Type: a.Type,
			Unit: a.Unit, Number: a.Number, Status: a.Status, Error: a.Error, Duration: a.Duration}
	}
	return s.tables().AppendAttempts(ctx, rows)
}

// RecentReadings returns the stored readings of metrics in [since, until], oldest first: the
// engine warms its rate and window rules with them at start.
func (s *ClickHouseStore) RecentReadings(ctx context.Context, metrics []string, since, until time.Time) ([]ingest.Reading, error) {
	return s.tables().RecentReadings(ctx, metrics, since, until)
}

// LastSeen returns when each sensor last reported a reading and each camera a status in
// [since, until]: the absence rules judge silence from there after a restart.
func (s *ClickHouseStore) LastSeen(ctx context.Context, since, until time.Time) (sensors, cameras map[string]time.Time, err error) {
	return s.tables().LastSeen(ctx, since, until)
}

// AppendCAP stores published CAP messages in one insert.
func (s *ClickHouseStore) AppendCAP(ctx context.Context, recs []CAPRecord) error {
	return s.tables().AppendCAP(ctx, recs)
}

// CAPMessages returns the messages sent since, and every message of alerts not yet cancelled,
// oldest first within each alert.
func (s *ClickHouseStore) CAPMessages(ctx context.Context, since time.Time) ([]CAPRecord, error) {
	return s.tables().CAPMessages(ctx, since)
}

// PutCAPDrafts stores new versions of public warnings waiting for approval.
func (s *ClickHouseStore) PutCAPDrafts(ctx context.Context, drafts []CAPDraftRecord) error {
	return s.tables().PutCAPDrafts(ctx, drafts)
}

// PendingCAPDrafts returns the drafts still waiting for approval.
func (s *ClickHouseStore) PendingCAPDrafts(ctx context.Context) ([]CAPDraftRecord, error) {
	return s.tables().PendingCAPDrafts(ctx)
}

// CAPDocument returns the stored document of one message; ErrNotFound when there is none.
func (s *ClickHouseStore) CAPDocument(ctx context.Context, identifier string) ([]byte, error) {
	doc, err := s.tables().CAPDocument(ctx, identifier)
	if errors.Is(err, analytics.ErrNoCAPMessage) {
		return nil, ErrNotFound
	}
	return doc, err
}
