// Package chconn wraps a ClickHouse connection pool so that a read handed a pooled connection
// that was already closed (clickhouse-go may pool a connection a cancelled query closed, and
// every pooled connection dies when the server restarts) is tried once more on a fresh one, as
// database/sql does on driver.ErrBadConn. Writes are not retried here: the writers retry whole
// batches, which ClickHouse deduplicates.
package chconn

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
)

// ReadRetries counts the reads tried again on a fresh connection; cmd/ioc registers it.
var ReadRetries = prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_clickhouse_read_retries_total",
	Help: "ClickHouse reads tried again because the pooled connection they were given was closed."})

// Retrying wraps conn: its Query, QueryRow and Select are tried once more when the connection
// they were given was dead (Stale).
func Retrying(conn driver.Conn) driver.Conn { return retrying{conn} }

// Stale tells whether err says the connection was dead before an answer came: closed on this
// side, reset or ended by the server. A cancelled or timed-out query is not stale.
func Stale(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
}

type retrying struct{ driver.Conn }

func (c retrying) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	rows, err := c.Conn.Query(ctx, query, args...)
	if Stale(err) && ctx.Err() == nil {
		ReadRetries.Inc()
		return c.Conn.Query(ctx, query, args...)
	}
	return rows, err
}

func (c retrying) Select(ctx context.Context, dest any, query string, args ...any) error {
	err := c.Conn.Select(ctx, dest, query, args...)
	if Stale(err) && ctx.Err() == nil {
		ReadRetries.Inc()
		return c.Conn.Select(ctx, dest, query, args...)
	}
	return err
}

func (c retrying) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	return &row{Row: c.Conn.QueryRow(ctx, query, args...), again: func() driver.Row {
		ReadRetries.Inc()
		return c.Conn.QueryRow(ctx, query, args...)
	}, ctx: ctx}
}

// row is a QueryRow's answer, asked again once when its connection was dead.
type row struct {
	driver.Row
	ctx   context.Context
	again func() driver.Row
}

func (r *row) retry(err error) bool {
	if Stale(err) && r.ctx.Err() == nil && r.again != nil {
		r.Row, r.again = r.again(), nil
		return true
	}
	return false
}

func (r *row) Err() error {
	if err := r.Row.Err(); !r.retry(err) {
		return err
	}
	return r.Row.Err()
}

func (r *row) Scan(dest ...any) error {
	if err := r.Row.Scan(dest...); !r.retry(err) {
		return err
	}
	return r.Row.Scan(dest...)
}

func (r *row) ScanStruct(dest any) error {
	if err := r.Row.ScanStruct(dest); !r.retry(err) {
		return err
	}
	return r.Row.ScanStruct(dest)
}
