package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/ingest/sensorsim"
	"github.com/haidang-ioc/ioc/internal/config"
)

// serve wires the configured roles together and runs them until ctx ends. On shutdown the
// subscriber stops intake and has the writer store and acknowledge what it holds; only then
// does the writer stop.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if cfg.ClickHouse.MigrateOnStart {
		v, err := analytics.Migrate(ctx, cfg.ClickHouse)
		if err != nil {
			return err
		}
		log.Info("schema ready", "version", v, "database", cfg.ClickHouse.Database, "clickhouse", cfg.ClickHouse.Addr)
	}
	conn, err := analytics.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	checks := []dashboard.Check{{Name: "clickhouse", Checker: analytics.Health{Conn: conn}}}

	g, gctx := errgroup.WithContext(ctx)
	if cfg.HasRole(config.RoleIngest) {
		writer := analytics.NewWriter(conn, cfg.Writer, cfg.ClickHouse.QueryTimeout, reg, log)
		sub, err := ingest.NewSubscriber(cfg.MQTT, cfg.Ingest, writer, reg, log)
		if err != nil {
			return err
		}
		checks = append(checks, dashboard.Check{Name: "mqtt", Checker: sub})
		writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(gctx))
		g.Go(func() error {
			defer stopWriter() // the writer outlives the subscriber, which flushes through it
			return sub.Run(gctx)
		})
		g.Go(func() error { return writer.Run(writerCtx) })
	}
	if cfg.Simulator.Enabled {
		sim := sensorsim.New(cfg.MQTT, cfg.Simulator, log)
		g.Go(func() error { return sim.Run(gctx) })
	}
	if cfg.HasRole(config.RoleDashboard) {
		srv := dashboard.New(cfg.HTTP.Listen, buildVersion(), checks, reg, log)
		g.Go(func() error { return srv.Run(gctx) })
	}
	log.Info("ioc serving", "version", buildVersion(), "roles", cfg.Roles, "http", cfg.HTTP.Listen)
	err = g.Wait()
	log.Info("ioc stopped")
	return err
}
