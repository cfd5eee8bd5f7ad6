package chconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// deadOnce is a pool whose first connection handed out was closed: what clickhouse-go answers
// then, an error wrapping net.ErrClosed (this stands in for the pool only; the real driver and
// server are exercised by every other package's tests through Retrying).
type deadOnce struct {
	driver.Conn
	calls int
	err   error
}

func (d *deadOnce) next() error {
	d.calls++
	if d.calls == 1 {
		return d.err
	}
	return nil
}

func (d *deadOnce) Query(context.Context, string, ...any) (driver.Rows, error) { return nil, d.next() }

func (d *deadOnce) QueryRow(context.Context, string, ...any) driver.Row { return errRow{d.next()} }

type errRow struct{ err error }

func (r errRow) Err() error           { return r.err }
func (r errRow) Scan(...any) error    { return r.err }
func (r errRow) ScanStruct(any) error { return r.err }

func TestRetryingReads(t *testing.T) {
	closed := fmt.Errorf("failed to read first block packet: read tcp: %w", net.ErrClosed)
	for _, c := range []struct {
		name  string
		err   error
		calls int
	}{
		{"closed here", closed, 2},
		{"reset by the server", fmt.Errorf("read: %w", syscall.ECONNRESET), 2},
		{"ended by the server", io.EOF, 2},
		{"a query's own error", errors.New("code: 60, message: Table x doesn't exist"), 1},
		{"cancelled", fmt.Errorf("%w (%w)", context.Canceled, net.ErrClosed), 1},
	} {
		d := &deadOnce{err: c.err}
		_, err := Retrying(d).Query(context.Background(), "SELECT 1")
		if d.calls != c.calls || (c.calls == 2) != (err == nil) {
			t.Errorf("Query, %s: %d calls, %v", c.name, d.calls, err)
		}
		d = &deadOnce{err: c.err}
		var v int
		err = Retrying(d).QueryRow(context.Background(), "SELECT 1").Scan(&v)
		if d.calls != c.calls || (c.calls == 2) != (err == nil) {
			t.Errorf("QueryRow, %s: %d calls, %v", c.name, d.calls, err)
		}
	}
}
