package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SubscriptionRow is one version of an NGSI-LD subscription in ngsild_subscriptions
// (migration 0020): Doc is the subscription as its owner made it, Scope (JSON) the owner's
// entity types and districts then.
type SubscriptionRow struct {
	ID, Owner  string
	Created    time.Time
	Deleted    bool
	Doc, Scope string
}

// DeliveryRow is one attempt to deliver an NGSI-LD notification or push, a row of
// ngsild_notifications.
type DeliveryRow struct {
	Time              time.Time
	Target, Owner     string
	Notification      string
	Entities, Attempt int
	Status            string // ok, retry or failed
	Code              int    // the answer's HTTP status; 0 when none came
	Error             string
	// Through, on a delivered row, is when every change of the target up to it had been
	// delivered.
	Through time.Time
}

// DeliveryStats sums a target's deliveries: the notifications sent (whatever came of them),
// the last attempt's time, the last delivered one's and the last failed one's (retried or
// not) with its error.
type DeliveryStats struct {
	Sent                           int
	Last, LastSuccess, LastFailure time.Time
	LastError                      string
}

// NGSILDStore reads and writes the NGSI-LD subscriptions and their delivery log.
type NGSILDStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// PutSubscription stores a new version of a subscription (made, changed or deleted).
func (s *NGSILDStore) PutSubscription(ctx context.Context, r SubscriptionRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "ngsi-ld subscriptions", "INSERT INTO ngsild_subscriptions (id, version, owner, created, deleted, doc, scope)",
		1, func(int) ([]any, error) {
			var deleted uint8
			if r.Deleted {
				deleted = 1
			}
			return []any{r.ID, uint64(time.Now().UnixNano()), r.Owner, epochIfZero(r.Created), deleted, r.Doc, r.Scope}, nil
		})
}

// Subscriptions returns the latest version of every subscription not deleted, by id.
func (s *NGSILDStore) Subscriptions(ctx context.Context) ([]SubscriptionRow, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT id, owner, created, doc, scope FROM ngsild_subscriptions FINAL WHERE deleted = 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("ngsi-ld subscriptions: %w", err)
	}
	defer rows.Close()
	var out []SubscriptionRow
	for rows.Next() {
		var r SubscriptionRow
		if err := rows.Scan(&r.ID, &r.Owner, &r.Created, &r.Doc, &r.Scope); err != nil {
			return nil, fmt.Errorf("ngsi-ld subscriptions: %w", err)
		}
		r.Created = r.Created.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// AppendDeliveries stores delivery attempts in one insert.
func (s *NGSILDStore) AppendDeliveries(ctx context.Context, ds []DeliveryRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "ngsi-ld delivery log", "INSERT INTO ngsild_notifications (ts, ms, target, owner, notification, entities, attempt, status, code, error, through)",
		len(ds), func(i int) ([]any, error) {
			d := &ds[i]
			return []any{d.Time.UTC(), Millis(d.Time), d.Target, d.Owner, d.Notification, uint32(d.Entities), uint16(d.Attempt), d.Status, uint16(d.Code), d.Error, unixMillis(d.Through)}, nil
		})
}

// DeliveryStats sums the delivery log of targets.
func (s *NGSILDStore) DeliveryStats(ctx context.Context, targets []string) (map[string]DeliveryStats, error) {
	out := map[string]DeliveryStats{}
	if len(targets) == 0 {
		return out, nil
	}
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT target, uniqExact(notification),
    max(toUInt64(ts) * 1000 + ms), maxIf(toUInt64(ts) * 1000 + ms, status = 'ok'), maxIf(toUInt64(ts) * 1000 + ms, status != 'ok'),
    argMaxIf(error, toUInt64(ts) * 1000 + ms, status != 'ok')
FROM ngsild_notifications WHERE target IN ? GROUP BY target`, StringSet(targets))
	if err != nil {
		return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target, lastError string
		var sent, last, ok, failed uint64
		if err := rows.Scan(&target, &sent, &last, &ok, &failed, &lastError); err != nil {
			return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
		}
		out[target] = DeliveryStats{Sent: int(sent), Last: fromMillis(last), LastSuccess: fromMillis(ok), LastFailure: fromMillis(failed), LastError: lastError}
	}
	return out, rows.Err()
}

// Deliveries returns a target's latest attempts, newest first, at most limit.
func (s *NGSILDStore) Deliveries(ctx context.Context, target string, limit int) ([]DeliveryRow, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT ts, ms, target, owner, notification, entities, attempt, status, code, error, through
FROM ngsild_notifications WHERE target = ? ORDER BY ts DESC, ms DESC, attempt DESC LIMIT ?`, target, limit)
	if err != nil {
		return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
	}
	defer rows.Close()
	var out []DeliveryRow
	for rows.Next() {
		var d DeliveryRow
		var ms, attempt, code uint16
		var entities uint32
		var through uint64
		if err := rows.Scan(&d.Time, &ms, &d.Target, &d.Owner, &d.Notification, &entities, &attempt, &d.Status, &code, &d.Error, &through); err != nil {
			return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
		}
		d.Time = d.Time.UTC().Add(time.Duration(ms) * time.Millisecond)
		d.Entities, d.Attempt, d.Code, d.Through = int(entities), int(attempt), int(code), fromMillis(through)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Through returns each target's latest Through: where its changes are taken up.
func (s *NGSILDStore) Through(ctx context.Context, targets []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(targets) == 0 {
		return out, nil
	}
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT target, max(through) FROM ngsild_notifications WHERE target IN ? AND status = 'ok' GROUP BY target`, StringSet(targets))
	if err != nil {
		return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var target string
		var through uint64
		if err := rows.Scan(&target, &through); err != nil {
			return nil, fmt.Errorf("ngsi-ld delivery log: %w", err)
		}
		out[target] = fromMillis(through)
	}
	return out, rows.Err()
}

// unixMillis is t in Unix milliseconds; the zero time is 0.
func unixMillis(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixMilli())
}
