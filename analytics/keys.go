package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// KeyRow is one version of an API key in api_keys (migration 0011): made through the API
// (source api) or a config file key's revocation (source config). Zero times mean never.
type KeyRow struct {
	ID, Source, Name, Role string
	Units                  []string
	Hash                   string
	Created                time.Time
	CreatedBy              string
	Expires                time.Time
	Revoked                time.Time
	RevokedBy              string
}

// KeyStore reads and writes api_keys.
type KeyStore struct {
	Conn driver.Conn
	// Timeout bounds each statement.
	Timeout time.Duration
}

// Put stores a new version of a key (made, rotated or revoked).
func (s *KeyStore) Put(ctx context.Context, k KeyRow) error {
	return InsertRows(ctx, s.Conn, s.Timeout, "api keys", "INSERT INTO api_keys (id, version, source, name, role, units, hash, created, created_by, expires, revoked, revoked_by)",
		1, func(int) ([]any, error) {
			return []any{k.ID, uint64(time.Now().UnixNano()), k.Source, k.Name, k.Role, k.Units, k.Hash,
				epochIfZero(k.Created), k.CreatedBy, epochIfZero(k.Expires), epochIfZero(k.Revoked), k.RevokedBy}, nil
		})
}

// All returns the latest version of every key.
func (s *KeyStore) All(ctx context.Context) ([]KeyRow, error) {
	ctx, cancel := bounded(ctx, s.Timeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT id, source, name, role, units, hash, created, created_by, expires, revoked, revoked_by
FROM api_keys FINAL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	defer rows.Close()
	var out []KeyRow
	for rows.Next() {
		var k KeyRow
		if err := rows.Scan(&k.ID, &k.Source, &k.Name, &k.Role, &k.Units, &k.Hash, &k.Created, &k.CreatedBy, &k.Expires, &k.Revoked, &k.RevokedBy); err != nil {
			return nil, fmt.Errorf("api keys: %w", err)
		}
		k.Created, k.Expires, k.Revoked = never(k.Created), never(k.Expires), never(k.Revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

// epochIfZero stores Go's zero time as DateTime's zero, 1970-01-01.
func epochIfZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// never turns the zero DateTime (1970-01-01) into Go's zero time.
func never(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
