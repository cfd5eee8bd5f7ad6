// Command ioc is Hải Đăng IOC in one binary:
//
//	ioc serve   [--config FILE]   run the roles named in config (ingest, streams, alerts, dashboard)
//	ioc migrate [--config FILE] [--backfill [--from YYYY-MM] [--to YYYY-MM]]
//	                              apply the ClickHouse schema and print its version; rebuild rollups
//	ioc check   [--config FILE]   validate a config file (and the catalogs and alert rules it
//	                              names) and print every error with its path
//	ioc sim province [flags]      publish a simulated province's sensors (see ioc sim --help)
//	ioc sim backfill [flags]      store a simulated province's history of the last days
//	ioc sim cameras [flags]       run simulated RTSP cameras (see ioc sim cameras --help)
//	ioc token --id ID --name NAME --role ROLE [--units a,b]
//	                              make an API key: print the token and its config entry
//	ioc version                   print the version
//
// The config file may also come from IOC_CONFIG; IOC_* variables override single settings.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: ioc <command> [--config FILE]

commands:
  serve     run the roles named in config (default: ingest, streams, alerts, dashboard)
  migrate   apply the ClickHouse schema and print its version
            (--backfill [--from YYYY-MM] [--to YYYY-MM]: rebuild the rollups from raw readings)
  check     validate the config, catalogs and alert rules; print every error with its path
  sim       run a simulated province or cameras, or store a simulated history:
            ioc sim province [--list] | ioc sim backfill [--days N] | ioc sim cameras (see --help)
  token     make an API key: ioc token --id ID --name NAME --role ROLE [--units a,b]
  certs     make a local CA and TLS certificates for the demo and tests (ioc certs --help)
  broker    keep the MQTT broker's device accounts and ACLs in step with the catalogs:
            ioc broker sync [--credentials FILE] [--rotate DEVICE] (Mosquitto dynamic security)
  version   print the version

--config defaults to $IOC_CONFIG; without a file the built-in defaults apply
(ClickHouse 127.0.0.1:9000, MQTT tcp://127.0.0.1:1883, HTTP :8080).
IOC_* environment variables override single settings, e.g. IOC_CLICKHOUSE_ADDR.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exit codes
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "ioc %s (schema %d, %s)\n", buildVersion(), analytics.LatestVersion(), goVersion())
		return exitOK
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "sim":
		return sim(rest, stdout, stderr)
	case "token":
		return token(rest, stdout, stderr)
	case "certs":
		return certs(rest, stdout, stderr)
	case "broker":
		return broker(rest, stdout, stderr)
	case "serve", "migrate", "check":
	default:
		fmt.Fprintf(stderr, "ioc: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}

	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("IOC_CONFIG"), "config file (YAML)")
	var backfill bool
	var from, to string
	if cmd == "migrate" {
		fs.BoolVar(&backfill, "backfill", false, "then rebuild the rollups from the raw readings, month by month")
		fs.StringVar(&from, "from", "", "with --backfill: first month, YYYY-MM (default: the oldest stored)")
		fs.StringVar(&to, "to", "", "with --backfill: last month, YYYY-MM (default: the newest stored)")
	}
	if err := fs.Parse(rest); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ioc %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}
	cfg, err := loadConfig(*path)
	if cmd == "check" {
		return check(*path, err, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ioc: invalid configuration (%s):\n%v\n", describe(*path), err)
		return exitUsage
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "migrate":
		v, err := analytics.Migrate(ctx, cfg.ClickHouse)
		if err != nil {
			fmt.Fprintf(stderr, "ioc migrate: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "schema version %d (database %s on %s)\n", v, cfg.ClickHouse.Database, cfg.ClickHouse.Addr)
		if err := afterMigrate(ctx, cfg, backfill, from, to, stdout); err != nil {
			fmt.Fprintf(stderr, "ioc migrate: %v\n", err)
			return exitFailed
		}
	case "serve":
		// IOC_BENCH_CPUPROFILE names a file for a CPU profile of the whole run (benchmarks).
		if path := os.Getenv("IOC_BENCH_CPUPROFILE"); path != "" {
			stopProfile, err := startCPUProfile(path)
			if err != nil {
				fmt.Fprintf(stderr, "ioc serve: %v\n", err)
				return exitFailed
			}
			defer stopProfile()
		}
		if err := serve(ctx, cfg, log); err != nil {
			log.Error("ioc serve stopped", "err", err)
			return exitFailed
		}
	}
	return exitOK
}

// loadConfig reads the file (if any) and the environment, then validates it, the ingest
// settings that need ingest's knowledge, and the sensor and camera catalogs it names.
func loadConfig(path string) (config.Config, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, err
	}
	var probs config.Problems
	if err := cfg.Validate(); err != nil && !errors.As(err, &probs) {
		return cfg, err
	}
	probs = append(probs, ingest.CheckConfig(cfg.Ingest)...)
	if len(probs) > 0 {
		return cfg, probs
	}
	sim, err := newSimulation(cfg.Simulator, cfg.Ingest.Profiles)
	if err != nil {
		return cfg, err
	}
	if cfg.HasRole(config.RoleIngest) {
		if _, err := loadCatalog(cfg.Ingest, sim); err != nil {
			return cfg, err
		}
	}
	if cfg.HasRole(config.RoleStreams) {
		if _, err := loadCameraCatalog(cfg.Streams); err != nil {
			return cfg, err
		}
	}
	if cfg.HasRole(config.RoleAlerts) {
		rf, err := alerts.LoadRules(cfg.Alerts.Rules)
		if err != nil {
			return cfg, err
		}
		if _, err := incident.Load(cfg.Alerts.Incidents, rf); err != nil {
			return cfg, err
		}
		if probs := alerts.CheckReceivers(cfg.Alerts, os.Getenv); len(probs) > 0 {
			return cfg, probs
		}
	}
	return cfg, nil
}

// afterMigrate, with backfill, rebuilds the rollups of the months between from and to
// (YYYY-MM, either may be empty), printing each month done.
func afterMigrate(ctx context.Context, cfg config.Config, backfill bool, from, to string, stdout io.Writer) error {
	var lo, hi time.Time
	var err error
	if from != "" {
		if lo, err = time.Parse("2006-01", from); err != nil {
			return fmt.Errorf("--from %q: want YYYY-MM", from)
		}
	}
	if to != "" {
		if hi, err = time.Parse("2006-01", to); err != nil {
			return fmt.Errorf("--to %q: want YYYY-MM", to)
		}
	}
	if !backfill {
		return nil
	}
	conn, err := analytics.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	var fast []string
	if cfg.Analytics.MinuteRollup {
		fast = cfg.Analytics.Rollups.FastMetrics
	}
	months := 0
	err = analytics.Backfill(ctx, conn, analytics.ClusterOf(cfg.ClickHouse), fast, lo, hi, func(month string, took time.Duration) {
		months++
		fmt.Fprintf(stdout, "rollups of %s-%s rebuilt in %s\n", month[:4], month[4:], took.Round(time.Millisecond))
	})
	fmt.Fprintf(stdout, "%d month(s) rebuilt\n", months)
	if err != nil {
		return fmt.Errorf("--backfill: %w", err)
	}
	return nil
}

func check(path string, err error, stdout, stderr io.Writer) int {
	var probs config.Problems
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s: ok\n", describe(path))
		return exitOK
	case errors.As(err, &probs):
		fmt.Fprintf(stderr, "%s: %d problem(s)\n%v\n", describe(path), len(probs), probs)
	default:
		fmt.Fprintf(stderr, "%v\n", err)
	}
	return exitUsage
}

func describe(path string) string {
	if path == "" {
		return "built-in defaults and IOC_* environment"
	}
	return path
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "go"
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
