package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// IncidentStore reads and writes incident_events (migration 0018).
type IncidentStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// IncidentEventRow is one row of incident_events: the change, the columns searches filter by,
// and the timeline entry and the incident after it as JSON.
type IncidentEventRow struct {
	Time                               time.Time
	IncidentID                         string
	Seq                                uint32
	Term                               uint64
	Kind, Actor, Type, State, Severity string
	Category                           string
	Opened                             time.Time
	Districts, Units                   []string
	Entry, Incident                    string // JSON
}

// AppendIncidentEvents stores events in one insert.
func (s *IncidentStore) AppendIncidentEvents(ctx context.Context, rows []IncidentEventRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "incident events", "INSERT INTO incident_events (ts, ms, incident_id, seq, term, kind, actor, type, "+
		"state, severity, category, opened, districts, units, entry, incident)", len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		return []any{r.Time.UTC(), Millis(r.Time), r.IncidentID, r.Seq, r.Term, r.Kind, r.Actor, r.Type, r.State, r.Severity, r.Category,
			r.Opened.UTC(), orNone(r.Districts), orNone(r.Units), r.Entry, r.Incident}, nil
	})
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// LatestIncidents returns the latest JSON of the incidents opened by until that were not closed
// then, or were closed after closedSince; events after until (a simulated scenario's clock,
// earlier than the live runs before it) are not the past.
func (s *IncidentStore) LatestIncidents(ctx context.Context, until, closedSince time.Time) ([]string, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT argMax(incident, seq) FROM incident_events FINAL WHERE ts <= ?
GROUP BY incident_id HAVING min(opened) <= ? AND (argMax(state, seq) != 'closed' OR max(ts) >= ?) ORDER BY incident_id`,
		until.UTC(), until.UTC(), closedSince.UTC().Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("incidents: latest: %w", err)
	}
	return scanStrings(rows, "incidents: latest")
}

// IncidentDoc returns the latest JSON of one incident; "" when none is stored.
func (s *IncidentStore) IncidentDoc(ctx context.Context, id string) (string, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT incident FROM incident_events FINAL WHERE incident_id = ? ORDER BY seq DESC LIMIT 1`, id)
	if err != nil {
		return "", fmt.Errorf("incident %s: %w", id, err)
	}
	docs, err := scanStrings(rows, "incident "+id)
	if err != nil || len(docs) == 0 {
		return "", err
	}
	return docs[0], nil
}

// IncidentEntries returns the timeline entries (JSON) of the incidents, by incident, oldest
// first.
func (s *IncidentStore) IncidentEntries(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT incident_id, entry FROM incident_events FINAL WHERE incident_id IN ? ORDER BY incident_id, seq`, StringSet(ids))
	if err != nil {
		return nil, fmt.Errorf("incident timelines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, entry string
		if err := rows.Scan(&id, &entry); err != nil {
			return nil, fmt.Errorf("incident timelines: %w", err)
		}
		out[id] = append(out[id], entry)
	}
	return out, rows.Err()
}

func scanStrings(rows driver.Rows, what string) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// IncidentSearch narrows the incidents with events in [From, To); empty fields do not narrow.
type IncidentSearch struct {
	From, To                              time.Time
	District, Category, State, Type, Text string
	// Units keeps the incidents of any of them (a unit caller's own, or one asked for).
	Units         []string
	Limit, Offset int
}

const incidentSearchFrom = `FROM (
  SELECT incident_id, argMax(state, seq) AS state, any(type) AS type, any(category) AS category, min(opened) AS opened,
    argMax(districts, seq) AS districts, argMax(units, seq) AS units, argMax(incident, seq) AS doc
  FROM incident_events FINAL WHERE ts >= ? AND ts < ? GROUP BY incident_id)
WHERE (? = '' OR has(districts, ?)) AND (? = '' OR category = ?) AND (? = '' OR state = ?) AND (? = '' OR type = ?)
  AND (? = '' OR hasAny(units, splitByChar(',', ?))) AND (? = '' OR positionCaseInsensitiveUTF8(doc, ?) > 0)`

// SearchIncidents returns the latest JSON of the incidents q keeps, newest first (by opening),
// at most Limit after Offset, and how many there are.
func (s *IncidentStore) SearchIncidents(ctx context.Context, q IncidentSearch) ([]string, int, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	units := strings.Join(q.Units, ",")
	args := []any{q.From.UTC(), q.To.UTC(), q.District, q.District, q.Category, q.Category, q.State, q.State, q.Type, q.Type, units, units, q.Text, q.Text}
	var total uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() "+incidentSearchFrom, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("incident search: %w", err)
	}
	rows, err := s.Conn.Query(ctx, `SELECT doc `+incidentSearchFrom+` ORDER BY opened DESC, incident_id LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("incident search: %w", err)
	}
	docs, err := scanStrings(rows, "incident search")
	return docs, int(total), err
}
