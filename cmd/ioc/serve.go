package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/hub"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/streams"
)

// serve wires the configured roles together and runs them until ctx ends. On shutdown the
// subscriber stops intake and has the writer store and acknowledge what it holds; only then
// does the writer stop.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// ClickHouse may be down at start: ioc takes in all the same (the writer spools), says it is
	// not ready, and applies the migrations and replays once ClickHouse answers.
	conn, err := analytics.Connect(cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mirrors []func(ctx context.Context) // catalog mirrors to write again once the schema is ready
	schema := analytics.NewSchema(cfg.ClickHouse, cfg.Analytics.MinuteRollup, func(ctx context.Context) {
		for _, mirror := range mirrors {
			mirror(ctx)
		}
	}, log)
	checks := []dashboard.Check{{Name: "clickhouse", Checker: analytics.Health{Conn: conn}}}
	schemaPending := false
	if cfg.ClickHouse.MigrateOnStart {
		switch err := schema.Prepare(ctx); {
		case errors.Is(err, analytics.ErrUnreachable):
			log.Warn("ClickHouse does not answer: taking in all the same (into the spool), not ready; migrations and replay once it answers",
				"clickhouse", cfg.ClickHouse.Addr, "err", err)
			schemaPending = true
			checks = append(checks, dashboard.Check{Name: "schema", Checker: schema})
		case err != nil:
			return err
		}
	}
	sim, err := newSimulation(cfg.Simulator, cfg.Ingest.Profiles)
	if err != nil {
		return err
	}
	now := sim.now()
	metricsToken, err := metricsToken(cfg.HTTP.Metrics) // before anything starts
	if err != nil {
		return err
	}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	g, gctx := errgroup.WithContext(runCtx)
	var writer *analytics.Writer
	// The writer outlives the producers (ingest, streams), which flush through it on their way
	// out; a producer's failure stops the whole process.
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(gctx))
	defer stopWriter()
	var producers errgroup.Group
	produce := func(run func() error) {
		producers.Go(func() error {
			err := run()
			if err != nil {
				cancelRun()
			}
			return err
		})
	}
	abort := func(err error) error { // a start-up error: stop what started, in order
		cancelRun()
		return errors.Join(err, g.Wait())
	}
	if cfg.HasRole(config.RoleIngest) || cfg.HasRole(config.RoleStreams) {
		spool, err := openSpool(cfg.Writer.Spool, reg, log)
		if err != nil {
			return abort(err)
		}
		writer = analytics.NewWriter(conn, spool, cfg.Writer, cfg.ClickHouse.QueryTimeout, reg, log)
		if spool != nil && !cfg.Writer.Spool.Force { // a forced spool always holds something
			checks = append(checks, dashboard.Check{Name: "spool", Checker: spool})
		}
		g.Go(func() error {
			defer spool.Close()
			return writer.Run(writerCtx)
		})
		g.Go(func() error {
			defer stopWriter()
			<-gctx.Done()
			return producers.Wait()
		})
		retention := analytics.NewRetention(conn, cfg.Analytics.Retention, reg, log)
		g.Go(func() error { return retention.Run(gctx) })
	}
	var cams *streams.CameraCatalog
	if cfg.HasRole(config.RoleStreams) {
		cams, err = loadCameraCatalog(cfg.Streams)
		if err != nil {
			return abort(err)
		}
		if cams == nil && sim != nil && cfg.Simulator.Cameras {
			if cams, err = sim.startCameras(cfg, log); err != nil {
				return abort(err)
			}
			defer sim.cameras.Close()
		}
	}
	var engine *alerts.Engine
	var capFeed *alerts.CAPFeed
	var city *dashboard.City
	// The accepted data's one path: the writer first (it acknowledges once stored), then the
	// observers, none waiting for ClickHouse. Built once the alert engine and the live city are.
	var pipeline *ingest.Fanout
	buildPipeline := func() *ingest.Fanout {
		if pipeline != nil {
			return pipeline
		}
		var observers []ingest.NamedObserver
		if engine != nil {
			observers = append(observers, ingest.NamedObserver{Name: "alerts", Observer: engine})
		}
		if city != nil {
			observers = append(observers, ingest.NamedObserver{Name: "live_city", Observer: city})
		}
		if p := sim.pacer(); p != nil {
			observers = append(observers, ingest.NamedObserver{Name: "simulated_clock", Observer: p})
		}
		pipeline = ingest.NewFanout(writer, reg, observers...)
		return pipeline
	}
	if cfg.HasRole(config.RoleDashboard) {
		h := hub.New(hub.Options{Flush: cfg.HTTP.Live.Flush, Queue: cfg.HTTP.Live.ClientQueue}, reg)
		city = dashboard.NewCity(h, nil, cams, cfg.HTTP.Live.SensorEvery, log)
		city.SetClock(now)
		g.Go(func() error { return h.Run(gctx) })
		g.Go(func() error { return city.Run(gctx, 2*time.Second) })
	}
	var sub *ingest.Subscriber
	if cfg.HasRole(config.RoleIngest) {
		cat, err := loadCatalog(cfg.Ingest, sim)
		if err != nil {
			return abort(err)
		}
		log.Info("sensor catalog loaded", "sensors", cat.Len(), "file", describeCatalog(cfg.Ingest.Catalog, sim))
		if city != nil {
			city.SetCatalogs(cat, nil)
		}
		mirrorSensors := func(ctx context.Context, cat *ingest.Catalog) {
			if err := analytics.SyncSensors(ctx, conn, cat); err != nil {
				log.Error("the sensor catalog is not mirrored to ClickHouse; ingest goes on", "err", err)
			}
		}
		if !schemaPending {
			mirrorSensors(ctx, cat)
		}
		if cfg.HasRole(config.RoleAlerts) {
			engine, capFeed, err = startAlerts(gctx, g, cfg, cat, cams, conn, city, sim, reg, log)
			if err != nil {
				return abort(err)
			}
		}
		norm := ingest.NewNormalizer(cat, ingest.NewUnitConverter(cfg.Ingest.UnitAliases), cfg.Ingest.AcceptUnknownSensors)
		if schemaPending {
			mirrors = append(mirrors, func(ctx context.Context) { mirrorSensors(ctx, norm.Catalog()) })
		}
		sub, err = ingest.NewSubscriber(cfg.MQTT, cfg.Ingest, norm, buildPipeline(), reg, log)
		if err != nil {
			return abort(err)
		}
		sub.SetClock(now)
		checks = append(checks, dashboard.Check{Name: "mqtt", Checker: sub})
		produce(func() error { return sub.Run(gctx) })
		g.Go(func() error {
			return onHangup(gctx, func() {
				if cat := reloadSensors(gctx, cfg.Ingest, sim, norm, conn, log); cat != nil {
					if engine != nil {
						_ = engine.SetCatalogs(gctx, cat, nil)
						capFeed.SetCatalog(cat)
					}
					if city != nil {
						city.SetCatalogs(cat, nil)
					}
				}
				if engine != nil {
					_ = reloadRules(gctx, cfg.Alerts, engine, log)
				}
			})
		})
	}
	if cfg.HasRole(config.RoleStreams) {
		if cams == nil {
			log.Info("no camera catalog (streams.catalog): no camera is watched")
		} else {
			log.Info("camera catalog loaded", "cameras", cams.Len(), "file", cfg.Streams.Catalog)
			mirrorCameras := func(ctx context.Context) {
				if err := analytics.SyncCameras(ctx, conn, cams, cfg.Streams.Mode); err != nil {
					log.Error("the camera catalog is not mirrored to ClickHouse; cameras are watched all the same", "err", err)
				}
			}
			if schemaPending {
				mirrors = append(mirrors, mirrorCameras)
			} else {
				mirrorCameras(ctx)
			}
			sup := streams.NewSupervisor(cams, cfg.Streams, buildPipeline(), reg, log)
			produce(func() error { return sup.Run(gctx) })
			if cfg.Streams.Catalog != "" { // the demo's simulated cameras have no file to reload
				g.Go(func() error {
					return onHangup(gctx, func() { reloadCameras(gctx, cfg.Streams, sup, engine, city, conn, log) })
				})
			}
		}
	}
	if sim != nil {
		pub := sim.publisher(cfg, sub, log)
		g.Go(func() error { return pub.Run(gctx) })
	}
	if cfg.HasRole(config.RoleDashboard) {
		querier := analytics.NewQuerier(conn, cfg.Analytics.Queries)
		src := dashboard.Sources{City: city, Trends: querier, DeadLetters: querier,
			Audit: dashboard.NewAuditor(conn, cfg.ClickHouse.QueryTimeout, reg, log)}
		if engine != nil {
			src.CAP, src.Alerts = capFeed, engine
			src.AlertHistory = &alerts.ClickHouseStore{Conn: conn, Timeout: cfg.ClickHouse.QueryTimeout}
			src.ReloadRules = func(ctx context.Context) error { return reloadRules(ctx, cfg.Alerts, engine, log) }
		}
		authn := auth.New(cfg.HTTP.Auth, nil, log)
		srv := dashboard.New(dashboard.Options{HTTP: cfg.HTTP, Version: buildVersion(), Checks: checks, Gatherer: reg, Registerer: reg, Log: log,
			Clock: now, Simulation: sim.info(), MetricsToken: metricsToken}, authn, src)
		g.Go(func() error { return authn.Run(gctx) })
		g.Go(func() error { return src.Audit.Run(gctx) })
		g.Go(func() error { return srv.Run(gctx) })
		if cfg.HasRole(config.RoleIngest) {
			g.Go(func() error { warmCity(gctx, querier, city, now(), log); return nil })
		}
	}
	if schemaPending { // started last: it reads mirrors, which the set-up above fills
		g.Go(func() error { return schema.Run(gctx) })
	}
	log.Info("ioc serving", "version", buildVersion(), "roles", cfg.Roles, "http", cfg.HTTP.Listen)
	err = g.Wait()
	log.Info("ioc stopped")
	return err
}

// metricsToken reads the token /metrics requires from the variable http.metrics.token_env
// names ("" when none is named); a named variable that is unset or empty is an error.
func metricsToken(m config.Metrics) (string, error) {
	if m.TokenEnv == "" {
		return "", nil
	}
	tok := os.Getenv(m.TokenEnv)
	if tok == "" {
		return "", fmt.Errorf("http.metrics.token_env: the variable %s is unset or empty", m.TokenEnv)
	}
	return tok, nil
}

// loadCatalog reads the sensor catalog named in config, or else the simulated province's.
func loadCatalog(ic config.Ingest, sim *simulation) (*ingest.Catalog, error) {
	if ic.Catalog != "" {
		return ingest.LoadCatalog(ic.Catalog, ic.Profiles)
	}
	builtin, err := sim.catalog()
	if err != nil {
		return nil, err
	}
	cat, err := ingest.ParseCatalog(builtin, ic.Profiles)
	if err != nil {
		return nil, fmt.Errorf("built-in sensor catalog:\n%w", err)
	}
	return cat, nil
}

func describeCatalog(path string, sim *simulation) string {
	if path == "" {
		return sim.describe()
	}
	return path
}

// onHangup calls reload at every SIGHUP until ctx ends.
func onHangup(ctx context.Context, reload func()) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			reload()
		}
	}
}

// reloadSensors reloads the sensor catalog. A catalog with problems is refused, with each
// problem logged, and the one in use stays.
func reloadSensors(ctx context.Context, ic config.Ingest, sim *simulation, norm *ingest.Normalizer, conn driver.Conn, log *slog.Logger) *ingest.Catalog {
	cat, err := loadCatalog(ic, sim)
	if err != nil {
		log.Error("sensor catalog reload refused; the previous catalog stays in use", "err", err)
		return nil
	}
	norm.SetCatalog(cat)
	log.Info("sensor catalog reloaded", "sensors", cat.Len(), "file", describeCatalog(ic.Catalog, sim))
	if err := analytics.SyncSensors(ctx, conn, cat); err != nil {
		log.Error("sensor catalog reloaded but not mirrored to ClickHouse", "err", err)
	}
	return cat
}

// reloadCameras reloads the camera catalog: the supervisor starts, stops and restarts only the
// cameras that changed. A catalog with problems is refused and the one in use stays.
func reloadCameras(ctx context.Context, sc config.Streams, sup *streams.Supervisor, engine *alerts.Engine, city *dashboard.City, conn driver.Conn, log *slog.Logger) {
	cams, err := loadCameraCatalog(sc)
	if err != nil {
		log.Error("camera catalog reload refused; the previous catalog stays in use", "err", err)
		return
	}
	sup.Reload(cams)
	if engine != nil {
		_ = engine.SetCatalogs(ctx, nil, cams)
	}
	if city != nil {
		city.SetCatalogs(nil, cams)
	}
	if err := analytics.SyncCameras(ctx, conn, cams, sc.Mode); err != nil {
		log.Error("camera catalog reloaded but not mirrored to ClickHouse", "err", err)
	}
}

// startAlerts builds the alert engine, its notifiers and the public warning feed, and runs
// them in g.
func startAlerts(ctx context.Context, g *errgroup.Group, cfg config.Config, sensors *ingest.Catalog, cams *streams.CameraCatalog, conn driver.Conn, city *dashboard.City, sim *simulation, reg prometheus.Registerer, log *slog.Logger) (*alerts.Engine, *alerts.CAPFeed, error) {
	rf, err := alerts.LoadRules(cfg.Alerts.Rules)
	if err != nil {
		return nil, nil, err
	}
	store := &alerts.ClickHouseStore{Conn: conn, Timeout: cfg.ClickHouse.QueryTimeout}
	alog := log.With("component", "alerts")
	engine := alerts.NewEngine(rf, sensors, cams, store, nil, nil, alerts.Options{Tick: sim.tick(cfg.Alerts.Tick), Now: sim.now()}, reg, alog)
	disp, err := alerts.NewDispatcher(cfg.Alerts, engine, store, os.Getenv, alog)
	if err != nil {
		return nil, nil, err
	}
	feed := alerts.NewCAPFeed(cfg.Alerts.CAP, engine, store, sensors, alog.With("feed", "cap"))
	engine.SetNotifier(alerts.Notifiers{disp, feed})
	if city != nil {
		engine.SetLive(city)
	}
	g.Go(func() error { return disp.Run(ctx) })
	g.Go(func() error { return feed.Run(ctx) })
	g.Go(func() error { return engine.Run(ctx) })
	log.Info("alert rules loaded", "rules", len(rf.Rules), "file", describeRules(cfg.Alerts.Rules), "receivers", len(cfg.Alerts.Receivers))
	return engine, feed, nil
}

func describeRules(path string) string {
	if path == "" {
		return "built-in (deploy/rules/rules.example.yaml)"
	}
	return path
}

// reloadRules reloads the alert rules; a file with problems is refused whole and the rules in
// force stay.
func reloadRules(ctx context.Context, ac config.Alerts, engine *alerts.Engine, log *slog.Logger) error {
	rf, err := alerts.LoadRules(ac.Rules)
	if err != nil {
		log.Error("alert rules reload refused; the rules in force stay", "err", err)
		return err
	}
	if err := engine.Reload(ctx, rf); err != nil {
		return err
	}
	log.Info("alert rules reloaded", "rules", len(rf.Rules), "file", describeRules(ac.Rules))
	return nil
}

// warmCity shows the sensors' last values of the past six hours at start, so that the map is
// full before the sensors report again.
func warmCity(ctx context.Context, q *analytics.Querier, city *dashboard.City, now time.Time, log *slog.Logger) {
	latest, err := q.LatestValues(ctx, now, 6*time.Hour, "")
	if err != nil {
		log.Warn("the live map starts empty: last values not read", "err", err)
		return
	}
	rs := make([]ingest.Reading, len(latest))
	for i, l := range latest {
		rs[i] = ingest.Reading{Time: l.At, Sensor: l.Sensor, Metric: l.Metric, Value: l.Value, Unit: ingest.Metrics[l.Metric].Unit}
	}
	city.Warm(rs)
}

// loadCameraCatalog reads the camera catalog named in config; nil when none is named.
func loadCameraCatalog(sc config.Streams) (*streams.CameraCatalog, error) {
	if sc.Catalog == "" {
		return nil, nil
	}
	return streams.LoadCameraCatalog(sc.Catalog, config.Units, os.Getenv)
}

// openSpool opens the writer's disk spool, or returns nil when config turns it off.
func openSpool(sp config.Spool, reg prometheus.Registerer, log *slog.Logger) (*analytics.Spool, error) {
	if sp.Dir == "" {
		log.Warn("no disk spool (writer.spool.dir is empty): while ClickHouse is down, the broker holds the backlog")
		return nil, nil
	}
	return analytics.OpenSpool(sp.Dir, sp.MaxBytes, sp.SegmentBytes, sp.Fsync, sp.FsyncInterval, reg, log)
}
