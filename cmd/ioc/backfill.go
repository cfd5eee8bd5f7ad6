package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
)

// simBackfill runs ioc sim backfill: the simulated province's history of the last days, made
// by the same model, rendered in the devices' formats, decoded and checked by ingest's
// pipeline and stored by the writer, as if the province had been live all along.
func simBackfill(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "config file (ClickHouse, ingest profiles, simulator settings); default: built-in defaults")
	province := fs.String("province", "", "province to simulate (default: simulator.province)")
	days := fs.Int("days", 30, "days of history, ending now")
	interval := fs.Duration("interval", 10*time.Minute, "every sensor reports this often")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fail := func(code int, err error) int { fmt.Fprintf(stderr, "ioc sim backfill: %v\n", err); return code }
	if *days < 1 || *days > 3660 || *interval < time.Minute {
		return fail(exitUsage, fmt.Errorf("want --days from 1 to 3660 and --interval of a minute or more"))
	}
	cfg, sim, err := liveSimulation(*path, *province, *interval)
	if err != nil {
		return fail(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(cfg.Log, stderr)
	if _, err := analytics.Migrate(ctx, cfg.ClickHouse); err != nil {
		return fail(exitFailed, err)
	}
	conn, err := analytics.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return fail(exitFailed, err)
	}
	defer conn.Close()
	raw, _ := sim.catalog() // a loaded province always renders its catalog
	cat, err := ingest.ParseCatalog(raw, cfg.Ingest.Profiles)
	if err != nil {
		return fail(exitFailed, err)
	}
	if err := analytics.SyncSensors(ctx, conn, cat); err != nil {
		return fail(exitFailed, err)
	}
	norm := ingest.NewNormalizer(cat, ingest.NewUnitConverter(cfg.Ingest.UnitAliases), false)
	decoders := map[string]ingest.Decoder{}
	for _, f := range []string{"senml", "ttn", "json"} { // the formats of Province.Messages
		if decoders[f], err = ingest.NewDecoder(config.Topic{Format: f}, cfg.Ingest.Profiles, norm.ProfileOf); err != nil {
			return fail(exitFailed, err)
		}
	}
	end := time.Now().UTC().Truncate(*interval)
	start := end.Add(-time.Duration(*days) * 24 * time.Hour)
	ic := cfg.Ingest
	ic.MaxAge = end.Sub(start) + 24*time.Hour // history older than the live horizon is wanted here
	pipe := ingest.NewPipeline(ic, norm)
	writer := analytics.NewWriter(conn, nil, cfg.Writer, cfg.ClickHouse.QueryTimeout, prometheus.NewRegistry(), log)
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- writer.Run(wctx) }()
	began := time.Now()
	var readings, rejected int
	var derr error
slots:
	for at := start; !at.After(end); at = at.Add(*interval) {
		if derr = ctx.Err(); derr != nil { // interrupted
			break
		}
		for _, m := range sim.province.Messages(at, *interval, cfg.Simulator.BadShare, cfg.Ingest.Profiles) {
			d := pipe.Process(m.Topic, m.Payload, decoders[m.Format], at)
			if derr = writer.Deliver(ctx, d); derr != nil {
				break slots
			}
			readings, rejected = readings+len(d.Readings), rejected+len(d.DeadLetters)
		}
	}
	if derr == nil {
		derr = writer.Flush(ctx)
	}
	stopWriter()
	if err := errors.Join(derr, <-done); err != nil {
		return fail(exitFailed, fmt.Errorf("history not all stored (%d readings were handed to the writer): %w", readings, err))
	}
	took := time.Since(began)
	fmt.Fprintf(stdout, "%s: %d days of history (%s to %s, every %s): %d readings stored, %d malformed payloads dead-lettered, in %s (%.0f readings/s)\n",
		sim.province.Title.EN, *days, start.Format(time.DateOnly), end.Format(time.DateOnly), *interval, readings, rejected,
		took.Round(time.Millisecond), float64(readings)/took.Seconds())
	// their rollups, rebuilt from them as `ioc migrate --backfill` does
	var fast []string
	if cfg.Analytics.MinuteRollup {
		fast = cfg.Analytics.Rollups.FastMetrics
	}
	began = time.Now()
	if err := analytics.Backfill(ctx, conn, analytics.ClusterOf(cfg.ClickHouse), fast, start, end, func(string, time.Duration) {}); err != nil {
		return fail(exitFailed, fmt.Errorf("the history's rollups: %w", err))
	}
	fmt.Fprintf(stdout, "rollups of the history rebuilt in %s\n", time.Since(began).Round(time.Millisecond))
	return exitOK
}
