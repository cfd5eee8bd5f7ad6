package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// AuditEntry is one change made through the API: who, what, on what, when, from where, and
// the answer's status (a row of audit_log, migration 0008).
type AuditEntry struct {
	Time   time.Time `json:"time"`
	ID     string    `json:"id"`
	Actor  string    `json:"actor"`
	Name   string    `json:"name"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Status int       `json:"status"`
	Remote string    `json:"remote"`
}

// AuditLog reads and writes audit_log.
type AuditLog struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// Append stores entries in one insert.
func (l *AuditLog) Append(ctx context.Context, entries []AuditEntry) error {
	return InsertRows(ctx, l.Conn, l.Timeout, "audit log", "INSERT INTO audit_log (ts, ms, id, actor, name, role, action, target, detail, status, remote)",
		len(entries), func(i int) ([]any, error) {
			e := &entries[i]
			return []any{e.Time.Truncate(time.Second), Millis(e.Time), e.ID, e.Actor, e.Name, e.Role, e.Action, e.Target, e.Detail, uint16(e.Status), e.Remote}, nil
		})
}

// List returns the entries of [from, to), newest first, at most limit after offset, and how
// many there are; actor and action narrow it when set.
func (l *AuditLog) List(ctx context.Context, from, to time.Time, actor, action string, limit, offset int) ([]AuditEntry, int, error) {
	ctx, cancel := bounded(ctx, l.Timeout)
	defer cancel()
	where := `FROM audit_log FINAL WHERE ts >= ? AND ts < ? AND (? = '' OR actor = ?) AND (? = '' OR action = ?)`
	args := []any{from.UTC(), to.UTC(), actor, actor, action, action}
	var total uint64
	if err := l.Conn.QueryRow(ctx, "SELECT count() "+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	rows, err := l.Conn.Query(ctx, `SELECT ts, ms, id, actor, name, role, action, target, detail, status, remote `+where+`
ORDER BY ts DESC, ms DESC, id LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var ms, status uint16
		if err := rows.Scan(&e.Time, &ms, &e.ID, &e.Actor, &e.Name, &e.Role, &e.Action, &e.Target, &e.Detail, &status, &e.Remote); err != nil {
			return nil, 0, fmt.Errorf("audit log: %w", err)
		}
		e.Time, e.Status = e.Time.UTC().Add(time.Duration(ms)*time.Millisecond), int(status)
		out = append(out, e)
	}
	return out, int(total), rows.Err()
}
