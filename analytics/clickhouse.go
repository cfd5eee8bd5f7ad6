package analytics

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/internal/chconn"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
)

// howToStart is appended to connection errors: the one thing a person can do about them.
const howToStart = "is ClickHouse running there? Locally: deploy/local/services.sh start; or set clickhouse.addr (IOC_CLICKHOUSE_ADDR)"

// Open connects to the configured database and checks that the server answers.
func Open(ctx context.Context, cfg config.ClickHouse) (driver.Conn, error) {
	return open(ctx, cfg, cfg.Database)
}

// Connect opens a connection pool to ClickHouse without waiting for it to answer: a server
// that is down now is dialled again by each query. ioc serve starts this way, so that it takes
// in (into the spool) while ClickHouse is away.
// With clickhouse.secure the TLS files come back too, for reloading at SIGHUP (nil otherwise).
func Connect(cfg config.ClickHouse) (driver.Conn, *tlsconf.Files, error) {
	opts, files, err := options(cfg, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse at %s: %w", cfg.Addr, err)
	}
	return chconn.Retrying(conn), files, nil
}

func options(cfg config.ClickHouse, database string) (*clickhouse.Options, *tlsconf.Files, error) {
	opts := &clickhouse.Options{
		Addr: splitAddrs(cfg.Addr),
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.Username,
			Password: cfg.Password.Value(),
		},
		DialTimeout: cfg.DialTimeout,
		ReadTimeout: cfg.QueryTimeout,
	}
	if cfg.Cluster != "" {
		// An insert into a table split across shards returns once every shard has its rows
		// (not once the server queued them for later): a batch is stored when the writer
		// commits it, and a retried batch is the same blocks, deduplicated by each shard.
		opts.Settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	switch cfg.Compression {
	case "lz4":
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	case "zstd":
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionZSTD}
	}
	if !cfg.Secure {
		return opts, nil, nil
	}
	files, err := tlsconf.Load("clickhouse.tls", cfg.TLS)
	if err != nil {
		return nil, nil, err
	}
	opts.TLS = files.Client()
	return opts, files, nil
}

func open(ctx context.Context, cfg config.ClickHouse, database string) (driver.Conn, error) {
	opts, _, err := options(cfg, database)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", cfg.Addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s, database %s: %w (%s)", cfg.Addr, database, err, howToStart)
	}
	return chconn.Retrying(conn), nil
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Health checks that ClickHouse answers a query, for /healthz.
type Health struct{ Conn driver.Conn }

// Check implements the dashboard's health check.
func (h Health) Check(ctx context.Context) error {
	if err := h.Conn.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}
