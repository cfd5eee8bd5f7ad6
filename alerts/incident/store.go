package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
)

// ClickHouseStore keeps the incidents in incident_events and reads the notifications' delivery
// attempts from the alert store.
type ClickHouseStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

func (s *ClickHouseStore) tables() *analytics.IncidentStore {
	return &analytics.IncidentStore{Conn: s.Conn, Timeout: s.Timeout}
}

// AppendIncidentEvents stores records in one insert.
func (s *ClickHouseStore) AppendIncidentEvents(ctx context.Context, recs []Record) error {
	rows := make([]analytics.IncidentEventRow, len(recs))
	for i := range recs {
		r := &recs[i]
		entry, err := json.Marshal(r.Entry)
		if err != nil {
			return fmt.Errorf("incident %s: %w", r.Incident.ID, err)
		}
		inc, err := json.Marshal(r.Incident)
		if err != nil {
			return fmt.Errorf("incident %s: %w", r.Incident.ID, err)
		}
		in := &r.Incident
		rows[i] = analytics.IncidentEventRow{Time: r.Entry.Time, IncidentID: in.ID, Seq: r.Entry.Seq, Term: r.Term, Kind: r.Entry.Kind,
			Actor: r.Entry.Actor, Type: in.Type, State: string(in.State), Severity: string(in.Severity), Category: in.Category,
			Opened: in.Opened, Districts: in.Districts, Units: in.Units, Entry: string(entry), Incident: string(inc)}
	}
	return s.tables().AppendIncidentEvents(ctx, rows)
}

// OpenIncidents implements Store.
func (s *ClickHouseStore) OpenIncidents(ctx context.Context, until, closedSince time.Time) ([]Incident, error) {
	docs, err := s.tables().LatestIncidents(ctx, until, closedSince)
	if err != nil {
		return nil, err
	}
	return decode(docs)
}

// Incident implements Store.
func (s *ClickHouseStore) Incident(ctx context.Context, id string) (Incident, bool, error) {
	doc, err := s.tables().IncidentDoc(ctx, id)
	if err != nil || doc == "" {
		return Incident{}, false, err
	}
	var inc Incident
	if err := json.Unmarshal([]byte(doc), &inc); err != nil {
		return Incident{}, false, fmt.Errorf("incident %s: %w", id, err)
	}
	return inc, true, nil
}

// Timelines implements Store.
func (s *ClickHouseStore) Timelines(ctx context.Context, ids []string) (map[string][]Entry, error) {
	docs, err := s.tables().IncidentEntries(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Entry, len(docs))
	for id, es := range docs {
		for _, d := range es {
			var e Entry
			if err := json.Unmarshal([]byte(d), &e); err != nil {
				return nil, fmt.Errorf("incident %s: timeline: %w", id, err)
			}
			out[id] = append(out[id], e)
		}
	}
	return out, nil
}

// Search implements Store.
func (s *ClickHouseStore) Search(ctx context.Context, q Search) ([]Incident, int, error) {
	docs, total, err := s.tables().SearchIncidents(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	incs, err := decode(docs)
	return incs, total, err
}

// Deliveries implements Store.
func (s *ClickHouseStore) Deliveries(ctx context.Context, ids []string) ([]alerts.Attempt, error) {
	return (&alerts.ClickHouseStore{Conn: s.Conn, Timeout: s.Timeout}).Deliveries(ctx, ids...)
}

func decode(docs []string) ([]Incident, error) {
	out := make([]Incident, 0, len(docs))
	for _, d := range docs {
		var inc Incident
		if err := json.Unmarshal([]byte(d), &inc); err != nil {
			return nil, fmt.Errorf("incident: %w", err)
		}
		out = append(out, inc)
	}
	return out, nil
}
