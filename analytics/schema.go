package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
)

// errSchemaPending is the schema check's answer until the migrations are applied.
var errSchemaPending = errors.New("schema: migrations not applied yet (ClickHouse has not answered since the start)")

// Schema brings the database to this build's schema: the migrations. When ClickHouse does not answer at start, Run tries again with backoff until it does,
// and its Check reports not ready meanwhile: ioc takes in all the same (the writer spools) and
// replays once the tables are there.
type Schema struct {
	cfg config.ClickHouse
	// ready runs once the schema is in place (mirroring the catalogs, for instance).
	ready func(ctx context.Context)
	log   *slog.Logger

	mu  sync.Mutex
	err error // why the schema is not ready; nil once it is
}

// NewSchema prepares cfg's database; ready (may be nil) runs once it is in place after a start
// without ClickHouse.
func NewSchema(cfg config.ClickHouse, ready func(ctx context.Context), log *slog.Logger) *Schema {
	return &Schema{cfg: cfg, ready: ready, log: log, err: errSchemaPending}
}

// Prepare applies the migrations once. It returns nil when the schema is ready; an error
// wrapping ErrUnreachable when ClickHouse did not answer (Run will try again); any other error
// when a migration failed on a server that answers (a broken schema or a wrong setting, which
// trying again does not mend).
func (s *Schema) Prepare(ctx context.Context) error {
	v, err := Migrate(ctx, s.cfg)
	if err != nil {
		if pingErr := s.ping(ctx); pingErr != nil {
			err = fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		s.set(err)
		return err
	}
	s.log.Info("schema ready", "version", v, "database", s.cfg.Database, "clickhouse", s.cfg.Addr)
	s.set(nil)
	return nil
}

// ErrUnreachable marks an error of a ClickHouse that did not answer.
var ErrUnreachable = errors.New("clickhouse unreachable")

func (s *Schema) ping(ctx context.Context) error {
	conn, err := open(ctx, s.cfg, "default")
	if err != nil {
		return err
	}
	return conn.Close()
}

// Run tries Prepare again with backoff until it succeeds (then runs ready) or ctx ends. A
// failure on a server that answers is logged and tried again too: the process keeps taking in
// meanwhile, and the log and the readiness check say why.
func (s *Schema) Run(ctx context.Context) error {
	retry := backoff.Backoff{Initial: time.Second, Max: 30 * time.Second}
	for attempt := 1; ; attempt++ {
		if !retry.Wait(ctx) {
			return nil
		}
		err := s.Prepare(ctx)
		if err == nil {
			if s.ready != nil {
				s.ready(ctx)
			}
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt == 1 || attempt%10 == 0 {
			s.log.Warn("schema not ready: ClickHouse is taken in again once it answers; readings wait in the spool meanwhile", "attempt", attempt, "err", err)
		}
	}
}

func (s *Schema) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Check reports whether the schema is ready, for the readiness check.
func (s *Schema) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
