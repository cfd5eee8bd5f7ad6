package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// InsertRows stores n rows in one INSERT (stmt) on conn, within timeout (none when 0); row
// gives the values of the i-th. what names the rows in errors. The small stores beside the
// writer (alert events, silences, delivery log, CAP messages, the audit log) insert this way.
func InsertRows(ctx context.Context, conn driver.Conn, timeout time.Duration, what, stmt string, n int, row func(i int) ([]any, error)) error {
	ctx, cancel := bounded(ctx, timeout)
	defer cancel()
	batch, err := conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("%s: prepare: %w", what, err)
	}
	defer batch.Abort() //nolint:errcheck // after Send it is a no-op
	for i := 0; i < n; i++ {
		vals, err := row(i)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := batch.Append(vals...); err != nil {
			return fmt.Errorf("%s: append: %w", what, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("%s: insert %d: %w", what, n, err)
	}
	return nil
}

// Millis is the millisecond part of t, for the ms column beside a DateTime (ClickHouse 18.16
// has no DateTime64).
func Millis(t time.Time) uint16 { return uint16(t.Nanosecond() / int(time.Millisecond)) }
