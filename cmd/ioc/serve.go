package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/duty"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/alerts/lease"
	"github.com/haidang-ioc/ioc/alerts/triage"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard"
	"github.com/haidang-ioc/ioc/dashboard/auth"
	"github.com/haidang-ioc/ioc/dashboard/hub"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/dashboard/relay"
	"github.com/haidang-ioc/ioc/dashboard/tiles"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/ingest/citizen/photos"
	"github.com/haidang-ioc/ioc/internal/chconn"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/tlsconf"
	"github.com/haidang-ioc/ioc/sim/citizensim"
	"github.com/haidang-ioc/ioc/streams"
	"github.com/haidang-ioc/ioc/streams/mediamtx"
	"github.com/haidang-ioc/ioc/streams/snapshot"
)

// serve wires the configured roles together and runs them until ctx ends. On shutdown the
// subscriber stops intake and has the writer store and acknowledge what it holds; only then
// does the writer stop. The wiring is a list of steps, each starting one part when its role
// is configured; a step that fails stops what the steps before it started.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.close()
	for _, step := range []func(context.Context) error{
		s.startWriter,     // storage: the writer, its spool, retention
		s.loadCameras,     // the camera catalog, or the simulated cameras
		s.startLiveCity,   // the live hub and city (dashboard role)
		s.startRelay,      // the live relay between processes (http.live.relay)
		s.startIngest,     // the sensor catalog, the alert engine, the subscriber
		s.startStreams,    // the camera sessions
		s.startPublisher,  // the simulated province's sensors
		s.startDashboard,  // the HTTP API, UI and metrics
		s.startTLSReload,  // the TLS files the steps above loaded, reloaded at SIGHUP
		s.startSchemaWait, // last: it mirrors the catalogs the steps above loaded
	} {
		if err := step(ctx); err != nil {
			s.cancelRun()
			return errors.Join(err, s.g.Wait())
		}
	}
	log.Info("ioc serving", "version", buildVersion(), "roles", cfg.Roles, "http", cfg.HTTP.Listen)
	err = s.g.Wait()
	log.Info("ioc stopped")
	return err
}

// server is one ioc process being wired: what serve's steps share.
type server struct {
	cfg          config.Config
	log          *slog.Logger
	instance     string // this process among the deployment's: <host>-<pid>
	reg          *prometheus.Registry
	conn         driver.Conn
	metricsToken string
	sim          *simulation
	now          func() time.Time

	// ClickHouse may be down at start: ioc takes in all the same (the writer spools), says it
	// is not ready, and applies the migrations and replays once ClickHouse answers.
	schema        *analytics.Schema
	schemaPending bool
	mirrors       []func(ctx context.Context) // catalog mirrors to write once the schema is ready
	checks        []dashboard.Check

	g         *errgroup.Group // every part's goroutine
	gctx      context.Context
	cancelRun context.CancelFunc
	// The writer outlives the producers (ingest, streams), which flush through it on their
	// way out; a producer's failure stops the whole process.
	producers  errgroup.Group
	writerCtx  context.Context
	stopWriter context.CancelFunc

	writer  *analytics.Writer
	rollups *analytics.Rollups // ingest role: the rollups of what this process stores
	cams    *streams.CameraCatalog
	engine  *alerts.Engine
	capFeed *alerts.CAPFeed
	// dispatcher delivers notifications (alerts role).
	dispatcher *alerts.Dispatcher
	// incidents gathers the alerts into incidents (alerts role).
	incidents *incident.Manager
	// triage routes the citizen reports (alerts role, citizen.enabled).
	triage *triage.Tracker
	city   *dashboard.City
	relay  *relay.Relay
	// terms, with the alerts role and a lease, is what follows the lease's terms.
	terms    *leaderTerms
	sub      *ingest.Subscriber
	pipeline *ingest.Fanout
	// tls reload the TLS files of each encrypted link (SIGHUP).
	tls []func() error
}

// newServer connects to ClickHouse (without waiting for it), prepares the schema, the
// simulation and the run's context.
func newServer(ctx context.Context, cfg config.Config, log *slog.Logger) (*server, error) {
	host, _ := os.Hostname()
	s := &server{cfg: cfg, log: log, reg: prometheus.NewRegistry(), instance: fmt.Sprintf("%s-%d", host, os.Getpid())}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), chconn.ReadRetries)
	conn, chTLS, err := analytics.Connect(cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	s.watchTLS(chTLS)
	s.schema = analytics.NewSchema(cfg.ClickHouse, func(ctx context.Context) {
		for _, mirror := range s.mirrors {
			mirror(ctx)
		}
	}, log)
	s.checks = []dashboard.Check{{Name: "clickhouse", Checker: analytics.Health{Conn: s.conn}}}
	if cfg.ClickHouse.MigrateOnStart {
		switch err := s.schema.Prepare(ctx); {
		case errors.Is(err, analytics.ErrUnreachable):
			log.Warn("ClickHouse does not answer: taking in all the same (into the spool), not ready; migrations and replay once it answers",
				"clickhouse", cfg.ClickHouse.Addr, "err", err)
			s.schemaPending = true
			s.checks = append(s.checks, dashboard.Check{Name: "schema", Checker: s.schema})
		case err != nil:
			s.conn.Close()
			return nil, err
		}
	}
	if s.sim, err = newSimulation(cfg.Simulator, cfg.Ingest.Profiles); err == nil {
		s.metricsToken, err = config.SecretFromEnv(os.Getenv, "http.metrics.token_env", cfg.HTTP.Metrics.TokenEnv)
	}
	if err != nil {
		s.conn.Close()
		return nil, err
	}
	s.now = s.sim.now()
	var runCtx context.Context
	runCtx, s.cancelRun = context.WithCancel(ctx)
	s.g, s.gctx = errgroup.WithContext(runCtx)
	s.writerCtx, s.stopWriter = context.WithCancel(context.WithoutCancel(s.gctx))
	return s, nil
}

// close releases what newServer and the steps opened, once every goroutine has ended.
func (s *server) close() {
	if s.sim != nil && s.sim.cameras != nil {
		s.sim.cameras.Close()
	}
	s.stopWriter()
	s.cancelRun()
	s.conn.Close()
}

// produce runs a producer (ingest's subscriber, the camera sessions): its failure stops the
// whole process, and the writer waits for it to end.
func (s *server) produce(run func() error) {
	s.producers.Go(func() error {
		err := run()
		if err != nil {
			s.cancelRun()
		}
		return err
	})
}

// startWriter starts the writer, its spool and retention (ingest and streams roles).
func (s *server) startWriter(context.Context) error {
	if !s.cfg.HasRole(config.RoleIngest) && !s.cfg.HasRole(config.RoleStreams) {
		return nil
	}
	spool, err := openSpool(s.cfg.Writer.Spool, s.reg, s.log)
	if err != nil {
		return err
	}
	s.writer = analytics.NewWriter(s.conn, spool, s.cfg.Writer, s.cfg.ClickHouse.QueryTimeout, s.reg, s.log)
	// the readings it stores carry this process's name, its spool's replayed ones too: its
	// rollups rebuild hours from them
	s.writer.SetStoredBy(s.cfg.MQTT.ClientID)
	s.checks = append(s.checks, dashboard.Check{Name: "writer", Checker: s.writer})
	if spool != nil && !s.cfg.Writer.Spool.Force { // a forced spool always holds something
		s.checks = append(s.checks, dashboard.Check{Name: "spool", Checker: spool})
	}
	s.g.Go(func() error {
		defer spool.Close()
		return s.writer.Run(s.writerCtx)
	})
	s.g.Go(func() error {
		defer s.stopWriter()
		<-s.gctx.Done()
		return s.producers.Wait()
	})
	retention := analytics.NewRetention(s.conn, analytics.ClusterOf(s.cfg.ClickHouse), s.cfg.Analytics.Retention, s.reg, s.log)
	s.g.Go(func() error { return retention.Run(s.gctx) })
	return nil
}

// loadCameras loads the camera catalog, or starts the simulated province's cameras when there
// is none (streams role).
func (s *server) loadCameras(context.Context) error {
	if !s.cfg.HasRole(config.RoleStreams) {
		return nil
	}
	var err error
	if s.cams, err = loadCameraCatalog(s.cfg.Streams); err != nil {
		return err
	}
	if s.cams == nil && s.sim != nil && s.cfg.Simulator.Cameras {
		s.cams, err = s.sim.startCameras(s.cfg, s.log)
	}
	return err
}

// startLiveCity starts the live hub and the city it shows (dashboard role).
func (s *server) startLiveCity(context.Context) error {
	if !s.cfg.HasRole(config.RoleDashboard) {
		return nil
	}
	h := hub.New(hub.Options{Flush: s.cfg.HTTP.Live.Flush, Queue: s.cfg.HTTP.Live.ClientQueue}, s.reg)
	s.city = dashboard.NewCity(h, nil, s.cams, s.cfg.HTTP.Live.SensorEvery, s.log)
	s.city.SetClock(s.now)
	s.g.Go(func() error { return h.Run(s.gctx) })
	s.g.Go(func() error { return s.city.Run(s.gctx, 2*time.Second) })
	if !s.cfg.HasRole(config.RoleIngest) { // a dashboard of its own: the catalogs it shows
		load := func() error {
			var sensors *ingest.Catalog // none named: the map shows what the relay brings
			var err error
			if s.cfg.Ingest.Catalog != "" || s.sim != nil {
				if sensors, err = loadCatalog(s.cfg.Ingest, s.sim); err != nil {
					return err
				}
			}
			cams := s.cams
			if !s.cfg.HasRole(config.RoleStreams) {
				if cams, err = loadCameraCatalog(s.cfg.Streams); err != nil {
					return err
				}
			}
			s.city.SetCatalogs(sensors, cams)
			return nil
		}
		if err := load(); err != nil {
			return err
		}
		s.g.Go(func() error {
			return onHangup(s.gctx, func() {
				if err := load(); err != nil {
					s.log.Error("catalog reload refused; the catalogs in use stay", "err", err)
				}
			})
		})
	}
	return nil
}

// startRelay connects the process to the live relay (http.live.relay): it publishes what this
// process accepts and, on a dashboard, shows in the live hub what the other processes accept.
func (s *server) startRelay(context.Context) error {
	lc := s.cfg.HTTP.Live
	if lc.Relay == "" {
		return nil
	}
	opts := relay.Options{Topic: lc.Relay, Instance: s.instance, Flush: lc.RelayFlush}
	if s.city != nil {
		opts.Sink = s.city
	}
	r, err := relay.New(s.cfg.MQTT, opts, s.reg, s.log)
	if err != nil {
		return err
	}
	s.relay = r
	s.g.Go(func() error { return r.Run(s.gctx) })
	return nil
}

// live is where the alert engine's events go: this process's live city and the relay to the
// others' (nil when neither runs).
func (s *server) live() alerts.Live {
	var ls alerts.Lives
	if s.city != nil {
		ls = append(ls, s.city)
	}
	if s.relay != nil {
		ls = append(ls, s.relay)
	}
	if len(ls) == 0 {
		return nil
	}
	return ls
}

// buildPipeline is the accepted data's one path: the writer first (it acknowledges once
// stored), then the observers, none waiting for ClickHouse. It is built once, after the alert
// engine and the live city.
func (s *server) buildPipeline() *ingest.Fanout {
	if s.pipeline != nil {
		return s.pipeline
	}
	var observers []ingest.NamedObserver
	if s.rollups != nil {
		observers = append(observers, ingest.NamedObserver{Name: "rollups", Observer: s.rollups})
	}
	if s.engine != nil {
		observers = append(observers, ingest.NamedObserver{Name: "alerts", Observer: s.engine})
	}
	if s.city != nil {
		observers = append(observers, ingest.NamedObserver{Name: "live_city", Observer: s.city})
	}
	if s.relay != nil {
		observers = append(observers, ingest.NamedObserver{Name: "live_relay", Observer: s.relay})
	}
	if p := s.sim.pacer(); p != nil {
		observers = append(observers, ingest.NamedObserver{Name: "simulated_clock", Observer: p})
	}
	s.pipeline = ingest.NewFanout(s.writer, s.reg, observers...)
	return s.pipeline
}

// startIngest loads the sensor catalog, starts the alert engine (alerts role) and the
// subscriber, and reloads the catalog and rules on SIGHUP (ingest role).
func (s *server) startIngest(ctx context.Context) error {
	if !s.cfg.HasRole(config.RoleIngest) {
		return nil
	}
	cfg, log := s.cfg, s.log
	cat, err := loadCatalog(cfg.Ingest, s.sim)
	if err != nil {
		return err
	}
	log.Info("sensor catalog loaded", "sensors", cat.Len(), "file", describeCatalog(cfg.Ingest.Catalog, s.sim))
	if s.city != nil {
		s.city.SetCatalogs(cat, nil)
	}
	mirrorSensors := func(ctx context.Context, cat *ingest.Catalog) {
		if err := analytics.SyncSensors(ctx, s.conn, cat); err != nil {
			log.Error("the sensor catalog is not mirrored to ClickHouse; ingest goes on", "err", err)
		}
	}
	if !s.schemaPending {
		mirrorSensors(ctx, cat)
	}
	if cfg.HasRole(config.RoleAlerts) {
		a, err := startAlerts(s.gctx, s.g, cfg, cat, s.cams, s.conn, s.live(), s.instance, s.leaseWrap, s.sim, s.reg, log)
		if err != nil {
			return err
		}
		s.engine, s.capFeed, s.dispatcher, s.incidents, s.triage = a.engine, a.feed, a.dispatcher, a.incidents, a.triage
		if s.terms != nil {
			s.terms.reloadFeed = s.capFeed.Reload
		}
	}
	if cfg.MQTT.Access.SyncOnReload { // the broker's accounts before ioc's own connects
		logSync(ctx, cfg, cat, log)
	}
	norm := ingest.NewNormalizer(cat, ingest.NewUnitConverter(cfg.Ingest.UnitAliases), cfg.Ingest.AcceptUnknownSensors)
	district := func(sensor string) string {
		if s := norm.Catalog().Lookup(sensor); s != nil {
			return s.District
		}
		return ""
	}
	if cfg.Analytics.Rollups.Enabled {
		if s.rollups, err = analytics.NewRollups(s.conn, s.writer, cfg.MQTT.ClientID, cfg.Analytics, cfg.Ingest.MaxAge, district, s.reg, log); err != nil {
			return err
		}
		// flushed once more after the writer stored the last readings (writerCtx ends then)
		s.g.Go(func() error { return s.rollups.Run(s.writerCtx, cfg.Writer.ShutdownTimeout) })
	}
	if s.schemaPending {
		s.mirrors = append(s.mirrors, func(ctx context.Context) { mirrorSensors(ctx, norm.Catalog()) })
	}
	if s.sub, err = ingest.NewSubscriber(cfg.MQTT, cfg.Ingest, norm, s.buildPipeline(), s.reg, log); err != nil {
		return err
	}
	s.sub.SetClock(s.now)
	s.tls = append(s.tls, s.sub.ReloadTLS)
	s.checks = append(s.checks, dashboard.Check{Name: "mqtt", Checker: s.sub})
	s.produce(func() error { return s.sub.Run(s.gctx) })
	s.g.Go(func() error {
		return onHangup(s.gctx, func() {
			if cat := reloadSensors(s.gctx, cfg.Ingest, s.sim, norm, s.conn, log); cat != nil {
				if s.rollups != nil {
					s.rollups.Relocate()
				}
				if cfg.MQTT.Access.SyncOnReload {
					logSync(s.gctx, cfg, cat, log)
				}
				if s.engine != nil {
					_ = s.engine.SetCatalogs(s.gctx, cat, nil)
					s.capFeed.SetCatalog(cat)
				}
				if s.city != nil {
					s.city.SetCatalogs(cat, nil)
				}
			}
			if s.engine != nil {
				_ = reloadRules(s.gctx, cfg.Alerts, s.engine, s.incidents, log)
			}
		})
	})
	return nil
}

// leaseWrap gives the alert engine its lease with what follows its terms (see leaderTerms).
func (s *server) leaseWrap(l alerts.Leader) alerts.Leader {
	s.terms = newLeaderTerms(l)
	return s.terms
}

// startStreams starts one session per camera of the catalog, and reloads the catalog on SIGHUP
// (streams role).
func (s *server) startStreams(ctx context.Context) error {
	if !s.cfg.HasRole(config.RoleStreams) || s.cams == nil {
		if s.terms != nil {
			s.terms.watch(nil)
		}
		if s.cfg.HasRole(config.RoleStreams) {
			s.log.Info("no camera catalog (streams.catalog): no camera is watched")
		}
		return nil
	}
	s.log.Info("camera catalog loaded", "cameras", s.cams.Len(), "file", s.cfg.Streams.Catalog)
	mirrorCameras := func(ctx context.Context) {
		if err := analytics.SyncCameras(ctx, s.conn, s.cams, s.cfg.Streams.Mode); err != nil {
			s.log.Error("the camera catalog is not mirrored to ClickHouse; cameras are watched all the same", "err", err)
		}
	}
	if s.schemaPending {
		s.mirrors = append(s.mirrors, mirrorCameras)
	} else {
		mirrorCameras(ctx)
	}
	sup := streams.NewSupervisor(s.cams, s.cfg.Streams, s.buildPipeline(), s.reg, s.log)
	if s.cfg.Streams.TLS != (config.TLS{}) { // rtsps:// cameras of a CA of their own
		files, err := tlsconf.Load("streams.tls", s.cfg.Streams.TLS)
		if err != nil {
			return err
		}
		sup.SetTLS(files.Client())
		s.watchTLS(files)
	}
	if s.terms != nil {
		s.log.Info("the cameras are watched by the process whose alert engine leads")
		s.terms.watch(sup)
	} else {
		s.produce(func() error { return sup.Run(s.gctx) })
	}
	var toMediaMTX chan []streams.Camera
	if mc := s.cfg.Streams.MediaMTX; mc.API != "" { // MediaMTX re-streams the catalog's cameras
		client := &mediamtx.Client{Base: mc.API, User: mc.User, HTTP: &http.Client{Timeout: 10 * time.Second}}
		if mc.PasswordEnv != "" {
			client.Password = os.Getenv(mc.PasswordEnv)
		}
		syncer := mediamtx.NewSyncer(client, s.reg, s.log.With("component", "mediamtx"))
		toMediaMTX = make(chan []streams.Camera, 1)
		cams := s.cams.Cameras
		s.g.Go(func() error { return syncer.Run(s.gctx, cams, toMediaMTX, mc.SyncInterval) })
	}
	if s.cfg.Streams.Catalog != "" { // the demo's simulated cameras have no file to reload
		s.g.Go(func() error {
			return onHangup(s.gctx, func() {
				cams := reloadCameras(s.gctx, s.cfg.Streams, sup, s.engine, s.city, s.conn, s.log)
				if cams != nil && toMediaMTX != nil {
					select { // the newest catalog replaces one not yet taken
					case <-toMediaMTX:
					default:
					}
					toMediaMTX <- cams.Cameras
				}
			})
		})
	}
	return nil
}

// startPublisher starts the simulated province's publisher (simulator on).
func (s *server) startPublisher(context.Context) error {
	if s.sim != nil {
		pub, err := s.sim.publisher(s.cfg, s.sub, s.log)
		if err != nil {
			return err
		}
		s.g.Go(func() error { return pub.Run(s.gctx) })
	}
	return nil
}

// startDashboard starts the HTTP server: API, live hub, UI, health and metrics (dashboard
// role); without the role, health and metrics only (the probes and scrapes of every process).
func (s *server) startDashboard(context.Context) error {
	cfg, log := s.cfg, s.log
	var httpTLS *tlsconf.Files
	if cfg.HTTP.TLS.CertFile != "" {
		var err error
		if httpTLS, err = tlsconf.Load("http.tls", cfg.HTTP.TLS); err != nil {
			return err
		}
		s.watchTLS(httpTLS)
	}
	opts := dashboard.Options{HTTP: cfg.HTTP, Version: buildVersion(), Checks: s.checks, Gatherer: s.reg, Log: log,
		Clock: s.now, Simulation: s.sim.info(), MetricsToken: s.metricsToken, TLS: httpTLS}
	if cfg.HTTP.TilesFile != "" {
		archive, err := tiles.Open(cfg.HTTP.TilesFile)
		if err != nil {
			return fmt.Errorf("http.tiles_file: %w", err)
		}
		opts.Tiles = archive // read until the process ends
		log.Info("map tiles served from the archive", "file", cfg.HTTP.TilesFile, "zooms", fmt.Sprintf("%d-%d", archive.MinZoom, archive.MaxZoom))
	}
	switch { // what checks the leader's certificate when alert requests are sent on to it
	case cfg.HTTP.ForwardCAFile != "":
		files, err := tlsconf.Load("http.forward_ca_file", config.TLS{CAFile: cfg.HTTP.ForwardCAFile})
		if err != nil {
			return err
		}
		s.watchTLS(files)
		opts.ForwardTLS = files.Client()
	case httpTLS != nil && cfg.HTTP.TLS.CAFile != "":
		opts.ForwardTLS = httpTLS.Client()
	}
	if !cfg.HasRole(config.RoleDashboard) {
		opts.HealthOnly = true
		srv := dashboard.New(opts, nil, dashboard.Sources{})
		s.g.Go(func() error { return srv.Run(s.gctx) })
		return nil
	}
	querier := analytics.NewQuerier(s.conn, cfg.Analytics)
	src := dashboard.Sources{City: s.city, Trends: querier, DeadLetters: querier, CameraEvents: querier,
		Audit: dashboard.NewAuditor(s.conn, cfg.ClickHouse.QueryTimeout, s.reg, log),
		Keys:  &analytics.KeyStore{Conn: s.conn, Timeout: cfg.ClickHouse.QueryTimeout},
		Duty:  duty.New(&analytics.DutyStore{Conn: s.conn, Timeout: cfg.ClickHouse.QueryTimeout}, nil)}
	store := &alerts.ClickHouseStore{Conn: s.conn, Timeout: cfg.ClickHouse.QueryTimeout}
	src.AlertHistory, src.Searcher = store, store // stored: any process answers
	if s.engine != nil {
		src.CAP, src.Alerts, src.Warnings, src.Channels = s.capFeed, s.engine, s.capFeed, s.dispatcher
		src.ReloadRules = func(ctx context.Context) error { return reloadRules(ctx, cfg.Alerts, s.engine, s.incidents, log) }
		src.Incidents = s.incidents
	}
	if lo, ok := leaseOptions(cfg, s.instance); ok { // the alert routes go where the engine leads
		w, err := lease.NewWatcher(lo, log.With("component", "alerts_leader"))
		if err != nil {
			return err
		}
		src.Leader = leader{w: w, instance: s.instance}
		s.g.Go(func() error { return w.Run(s.gctx) })
	}
	authn := auth.New(cfg.HTTP.Auth, nil, log)
	opts.Registerer = s.reg
	if mc := cfg.Streams.MediaMTX; mc.API != "" { // browsers watch the cameras through MediaMTX, which asks ioc
		var key []byte
		if mc.TokenSecretEnv != "" {
			key = []byte(os.Getenv(mc.TokenSecretEnv))
		}
		tokens := mediamtx.NewTokens(key, nil)
		opts.Video = &dashboard.Video{Tokens: tokens, TTL: mc.TokenTTL, WebRTCURL: mc.WebRTCURL, HLSURL: mc.HLSURL, DownloadUnits: mc.ClipDownloadUnits}
		if mc.PlaybackURL != "" {
			opts.Video.Playback = &mediamtx.Playback{Base: mc.PlaybackURL, Tokens: tokens, HTTP: &http.Client{Timeout: 5 * time.Minute}}
		}
	}
	opts.Stills = snapshot.New(snapshot.Options{}) // for the catalog's cameras with an ONVIF device service
	if cc := cfg.Citizen; cc.Enabled {             // citizen apps' reports, their photos on disk or in S3
		var store photos.Store = &photos.Disk{Dir: cc.PhotoDir}
		if cc.S3.Endpoint != "" {
			s3, err := photos.NewS3(photos.S3Config{Endpoint: cc.S3.Endpoint, Bucket: cc.S3.Bucket, Prefix: cc.S3.Prefix, Region: cc.S3.Region,
				AccessKey: cc.S3.AccessKey, SecretKey: os.Getenv(cc.S3.SecretKeyEnv)})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(s.gctx, 30*time.Second)
			err = s3.EnsureBucket(ctx)
			cancel()
			if err != nil {
				return err
			}
			store = s3
		}
		reports := &analytics.CitizenStore{Conn: s.conn, Timeout: cfg.ClickHouse.QueryTimeout}
		opts.Citizen = &dashboard.Citizen{Photos: store, Store: reports, Reports: reports, Stats: reports, Limits: cc}
		if s.triage != nil { // this process routes: a report it takes is routed at once
			opts.Citizen.Stored = s.triage.Nudge
		}
	}
	host, _ := os.Hostname()
	opts.Sharing = &dashboard.Sharing{Store: &analytics.NGSILDStore{Conn: s.conn, Timeout: cfg.ClickHouse.QueryTimeout}, Config: cfg.NGSILD,
		ContextURL: cfg.HTTP.Advertised(host) + ngsild.ContextPath, Getenv: os.Getenv}
	srv := dashboard.New(opts, authn, src)
	s.g.Go(func() error { return srv.RunSharing(s.gctx) })
	s.g.Go(func() error { return authn.Run(s.gctx) })
	s.g.Go(func() error { return src.Audit.Run(s.gctx) })
	s.g.Go(func() error { return srv.Run(s.gctx) })
	s.g.Go(func() error { return srv.RunKeys(s.gctx) })
	if s.sim != nil && cfg.Citizen.Enabled && cfg.Simulator.CitizenEvery > 0 && cfg.HTTP.TLS.CertFile == "" { // the province's citizens report
		_, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
		app := citizensim.New(citizensim.Config{Base: "http://127.0.0.1:" + port, Token: cfg.Simulator.CitizenAppToken.Value(),
			Every: cfg.Simulator.CitizenEvery, Places: s.sim.province.Places(), Now: s.sim.now(), Seed: uint64(cfg.Simulator.Seed)},
			log.With("component", "citizensim"))
		s.g.Go(func() error { return app.Run(s.gctx) })
	}
	s.g.Go(func() error { warmCity(s.gctx, querier, s.city, s.now(), log); return nil })
	return nil
}

// watchTLS has files reloaded at SIGHUP (nil: nothing to reload).
func (s *server) watchTLS(files *tlsconf.Files) {
	if files != nil {
		s.tls = append(s.tls, files.Reload)
	}
}

// startTLSReload reads every link's TLS files again at each SIGHUP: a renewed certificate is
// used from the next connection on, without a restart; a file with a problem is refused, said
// in the log, and the one in use stays.
func (s *server) startTLSReload(context.Context) error {
	if len(s.tls) == 0 {
		return nil
	}
	s.g.Go(func() error {
		return onHangup(s.gctx, func() {
			reloaded := 0
			for _, reload := range s.tls {
				if err := reload(); err != nil {
					s.log.Error("TLS files not reloaded; the ones in use stay", "err", err)
				} else {
					reloaded++
				}
			}
			s.log.Info("TLS files reloaded", "links", reloaded, "refused", len(s.tls)-reloaded)
		})
	})
	return nil
}

// startSchemaWait, when ClickHouse was down at start, tries the migrations again until it
// answers, then mirrors the catalogs the other steps loaded.
func (s *server) startSchemaWait(context.Context) error {
	if s.schemaPending {
		s.g.Go(func() error { return s.schema.Run(s.gctx) })
	}
	return nil
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
// cameras that changed. A catalog with problems is refused (nil) and the one in use stays.
func reloadCameras(ctx context.Context, sc config.Streams, sup *streams.Supervisor, engine *alerts.Engine, city *dashboard.City, conn driver.Conn, log *slog.Logger) *streams.CameraCatalog {
	cams, err := loadCameraCatalog(sc)
	if err != nil {
		log.Error("camera catalog reload refused; the previous catalog stays in use", "err", err)
		return nil
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
	return cams
}

// leaseOptions are the alert engine's lease in ZooKeeper (alerts.lease), and whether one is
// configured: the same for the processes that campaign and those that follow who leads.
func leaseOptions(cfg config.Config, instance string) (lease.Options, bool) {
	lc := cfg.Alerts.Lease
	if len(lc.ZooKeeper) == 0 {
		return lease.Options{}, false
	}
	path := lc.Path
	if path == "" {
		path = "/ioc/" + cfg.ClickHouse.Database + "/alerts"
	}
	host, _ := os.Hostname()
	return lease.Options{Servers: lc.ZooKeeper, Path: path, SessionTimeout: lc.SessionTimeout,
		Identity: lease.Identity{Instance: instance, URL: cfg.HTTP.Advertised(host)}}, true
}

// leader tells the dashboard where the leading alert engine answers (dashboard.Leader).
type leader struct {
	w        *lease.Watcher
	instance string
}

// Leader implements dashboard.Leader.
func (l leader) Leader() (url string, local, known bool) {
	id, ok := l.w.Leader()
	return id.URL, ok && id.Instance == l.instance, ok
}

// alertParts are what the alerts role runs.
type alertParts struct {
	engine     *alerts.Engine
	feed       *alerts.CAPFeed
	dispatcher *alerts.Dispatcher
	incidents  *incident.Manager
	// triage routes the citizen reports (nil when citizen.enabled is off).
	triage *triage.Tracker
}

// startAlerts builds the alert engine, its notifiers, the public warning feed and the incident
// manager, and runs them in g.
func startAlerts(ctx context.Context, g *errgroup.Group, cfg config.Config, sensors *ingest.Catalog, cams *streams.CameraCatalog, conn driver.Conn, live alerts.Live, instance string, wrap func(alerts.Leader) alerts.Leader, sim *simulation, reg prometheus.Registerer, log *slog.Logger) (alertParts, error) {
	rf, err := alerts.LoadRules(cfg.Alerts.Rules)
	if err != nil {
		return alertParts{}, err
	}
	inf, err := incident.Load(cfg.Alerts.Incidents, rf)
	if err != nil {
		return alertParts{}, err
	}
	store := &alerts.ClickHouseStore{Conn: conn, Timeout: cfg.ClickHouse.QueryTimeout}
	alog := log.With("component", "alerts")
	opts := alerts.Options{Tick: sim.tick(cfg.Alerts.Tick), Now: sim.now()}
	var lz *lease.Lease
	if lo, ok := leaseOptions(cfg, instance); ok {
		if lz, err = lease.New(lo, reg, alog); err != nil {
			return alertParts{}, err
		}
		opts.Lease = wrap(lz)
	}
	engine := alerts.NewEngine(rf, sensors, cams, store, nil, nil, opts, reg, alog)
	disp, err := alerts.NewDispatcher(cfg.Alerts, engine, store, os.Getenv, alog)
	if err != nil {
		return alertParts{}, err
	}
	feed := alerts.NewCAPFeed(cfg.Alerts.CAP, engine, store, sensors, alog.With("feed", "cap"))
	iopts := incident.Options{}
	if lz != nil {
		disp.SetFence(lz.Fence)
		feed.SetFence(lz.Fence)
		iopts.Fence = lz.Fence
	}
	incs := incident.New(inf, rf, &incident.ClickHouseStore{Conn: conn, Timeout: cfg.ClickHouse.QueryTimeout}, iopts, reg, log.With("component", "incidents"))
	incs.Bind(engine)
	engine.AddCorrelator(incs)
	var tracker *triage.Tracker
	if cfg.Citizen.Enabled { // citizen reports raise alerts; their states follow them
		topts := triage.Options{Now: sim.now()}
		if lz != nil {
			topts.Fence = lz.Fence
		}
		tracker = triage.New(&analytics.CitizenStore{Conn: conn, Timeout: cfg.ClickHouse.QueryTimeout}, engine, topts, reg, log.With("component", "triage"))
		engine.AddCorrelator(tracker)
		g.Go(func() error { return tracker.Run(ctx) })
	}
	engine.SetNotifier(alerts.Notifiers{disp, feed})
	if live != nil {
		engine.SetLive(live)
	}
	g.Go(func() error { return disp.Run(ctx) })
	g.Go(func() error { return feed.Run(ctx) })
	g.Go(func() error { return incs.Run(ctx) })
	g.Go(func() error { return engine.Run(ctx) })
	log.Info("alert rules loaded", "rules", len(rf.Rules), "file", describeRules(cfg.Alerts.Rules), "receivers", len(cfg.Alerts.Receivers),
		"correlations", len(inf.Correlations), "procedures", len(inf.Procedures), "incident_file", describeFile(cfg.Alerts.Incidents, "deploy/rules/incidents.example.yaml"))
	return alertParts{engine: engine, feed: feed, dispatcher: disp, incidents: incs, triage: tracker}, nil
}

func describeRules(path string) string { return describeFile(path, "deploy/rules/rules.example.yaml") }

// describeFile names a file for the log: its path, or the built-in one and its copy.
func describeFile(path, copyOf string) string {
	if path == "" {
		return "built-in (" + copyOf + ")"
	}
	return path
}

// reloadRules reloads the alert rules and the incident file; a file with problems is refused
// whole and the files in force stay.
func reloadRules(ctx context.Context, ac config.Alerts, engine *alerts.Engine, incs *incident.Manager, log *slog.Logger) error {
	rf, err := alerts.LoadRules(ac.Rules)
	if err != nil {
		log.Error("alert rules reload refused; the rules in force stay", "err", err)
		return err
	}
	inf, err := incident.Load(ac.Incidents, rf)
	if err != nil {
		log.Error("incident file reload refused; the rules and the incident file in force stay", "err", err)
		return err
	}
	if err := engine.Reload(ctx, rf); err != nil {
		return err
	}
	incs.SetFile(inf, rf)
	log.Info("alert rules reloaded", "rules", len(rf.Rules), "file", describeRules(ac.Rules))
	return nil
}

// warmCity shows the sensors' last values and the cameras' last statuses of the past six
// hours at start, so that the map is full before they report again (a dashboard started after
// the others learns the rest from the relay).
func warmCity(ctx context.Context, q *analytics.Querier, city *dashboard.City, now time.Time, log *slog.Logger) {
	latest, err := q.LatestValues(ctx, now, 6*time.Hour, "")
	if err != nil {
		log.Warn("the live map starts empty: last values not read", "err", err)
	}
	rs := make([]ingest.Reading, len(latest))
	for i, l := range latest {
		rs[i] = ingest.Reading{Time: l.At, Sensor: l.Sensor, Metric: l.Metric, Value: l.Value, Unit: ingest.Metrics[l.Metric].Unit}
	}
	cams, err := q.LatestCameraStates(ctx, now, 6*time.Hour)
	if err != nil {
		log.Warn("the cameras start unknown: last statuses not read", "err", err)
	}
	city.Warm(rs, cams)
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
