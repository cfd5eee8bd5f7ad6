package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/sim/camsim"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

const simUsage = `usage: ioc sim province [--config FILE] [--province NAME] [flags]
       ioc sim province --list
       ioc sim backfill [--config FILE] [--province NAME] [--days N] [--interval D]
       ioc sim cameras --count N --base-port P [flags]

sim province publishes a simulated province's sensors (lao-cai or ben-tre) to the broker of
the config (default: the local Mosquitto) in real time, for an ioc serve running elsewhere;
--catalog-out writes its sensor catalog for ingest.catalog. Scenarios run the whole server on
their accelerated clock, so they are played by ioc serve itself (simulator.scenario, or
make demo SCENARIO=NAME); --list shows the provinces and scenarios.

sim backfill writes the province's history of the last N days (default 30) straight through
ingest's decoders and checks into ClickHouse, so that trends and comparisons have data.

sim cameras runs N simulated IP cameras, camera i on port P+i-1 (rtsp://HOST:PORT/stream, TCP), each with
H.264 video that any client decodes and, with --metadata, an ONVIF metadata track repeating a
scripted sequence of analytics events. --catalog-out writes a camera catalog of them for
streams.catalog. Ctrl-C stops them.

`

// sim runs the simulators: a province's sensors, or cameras.
func sim(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "province" {
		return simProvince(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "backfill" {
		return simBackfill(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "cameras" {
		fmt.Fprint(stderr, simUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("sim cameras", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simUsage); fs.PrintDefaults() }
	fc := camsim.FleetConfig{IDPrefix: "sim-cam"}
	fs.IntVar(&fc.Count, "count", 10, "number of cameras")
	fs.IntVar(&fc.BasePort, "base-port", 18554, "port of the first camera")
	fs.StringVar(&fc.Host, "host", "127.0.0.1", "address to listen on")
	fs.StringVar(&fc.IDPrefix, "id-prefix", "sim-cam", "camera ids are PREFIX-0001, PREFIX-0002, …")
	fs.IntVar(&fc.Camera.Width, "width", 640, "video width")
	fs.IntVar(&fc.Camera.Height, "height", 360, "video height")
	fs.IntVar(&fc.Camera.FPS, "fps", 15, "frames per second")
	fs.IntVar(&fc.Camera.BitrateKbps, "bitrate-kbps", 512, "pad the video to about this bitrate (0: no padding)")
	fs.BoolVar(&fc.Camera.Metadata, "metadata", true, "offer an ONVIF metadata track")
	fs.DurationVar(&fc.Camera.MetadataInterval, "metadata-interval", time.Second, "one metadata document (event or heartbeat) this often")
	events := fs.Bool("events", true, "send the scripted analytics events (else heartbeats only)")
	fs.StringVar(&fc.Camera.User, "user", "", "user name the cameras demand (empty: no authentication)")
	fs.StringVar(&fc.Camera.Password, "password", "", "password the cameras demand")
	faults := fs.String("faults", "", "faults by camera number, e.g. 3=refuse,5=stall:30s,7=drop:10,9=fps:5,11=password,12=hang,13=badmeta")
	catalogOut := fs.String("catalog-out", "", "write a camera catalog of the simulated cameras to this file")
	mode := fs.String("mode", "metadata", "monitoring mode written in the catalog: metadata, health or probe")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	var err error
	if fc.Faults, fc.WrongPassword, err = camsim.ParseFaults(*faults); err != nil {
		fmt.Fprintf(stderr, "ioc sim cameras: %v\n", err)
		return exitUsage
	}
	if *events {
		fc.Camera.Script = camsim.DefaultScript
	}
	log := newLogger(config.Default().Log, stderr)
	fleet, err := camsim.StartFleet(fc, log)
	if err != nil {
		fmt.Fprintf(stderr, "ioc sim cameras: %v\n", err)
		return exitFailed
	}
	defer fleet.Close()
	if *catalogOut != "" {
		if err := os.WriteFile(*catalogOut, fleet.CatalogYAML(*mode), 0o600); err != nil {
			fmt.Fprintf(stderr, "ioc sim cameras: %v\n", err)
			return exitFailed
		}
	}
	fmt.Fprintf(stdout, "%d simulated cameras: rtsp://%s:%d/stream to port %d\n", fc.Count, fc.Host, fc.BasePort, fc.BasePort+fc.Count-1)
	if *catalogOut != "" {
		fmt.Fprintf(stdout, "camera catalog: %s (IOC_STREAMS_CATALOG=%s)\n", *catalogOut, *catalogOut)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return exitOK
}

// simProvince runs ioc sim province.
func simProvince(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim province", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "config file (broker, ingest profiles, simulator settings); default: built-in defaults")
	province := fs.String("province", "", "province to simulate (default: simulator.province)")
	list := fs.Bool("list", false, "list the built-in provinces and scenarios")
	catalogOut := fs.String("catalog-out", "", "write the province's sensor catalog to this file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *list {
		return listSimulations(stdout, stderr)
	}
	cfg, s, err := liveSimulation(*path, *province, 0)
	if err != nil {
		fmt.Fprintf(stderr, "ioc sim province: %v\n", err)
		return exitUsage
	}
	if *catalogOut != "" {
		cat, _ := s.catalog() // a loaded province always renders its catalog
		if err := os.WriteFile(*catalogOut, cat, 0o600); err != nil {
			fmt.Fprintf(stderr, "ioc sim province: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "sensor catalog: %s (IOC_INGEST_CATALOG=%s)\n", *catalogOut, *catalogOut)
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "%s: %d sensors publishing to %s every %s; Ctrl-C stops\n", s.province.Title.EN, s.province.Sensors(), cfg.MQTT.Broker, s.interval)
	pub, err := s.publisher(cfg, nil, log)
	if err == nil {
		err = pub.Run(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ioc sim province: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// liveSimulation loads the config at path (built-in defaults when empty) and the simulated
// province it names, or province when given, live at real speed with no scenario; interval,
// when not zero, overrides simulator.interval.
func liveSimulation(path, province string, interval time.Duration) (config.Config, *simulation, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, nil, err
	}
	sc := cfg.Simulator
	sc.Enabled, sc.Scenario, sc.Speed = true, "", 1
	if province != "" {
		sc.Province = province
	}
	if interval != 0 {
		sc.Interval = interval
	}
	s, err := newSimulation(sc, cfg.Ingest.Profiles)
	return cfg, s, err
}

// listSimulations prints the built-in provinces and scenarios.
func listSimulations(stdout, stderr io.Writer) int {
	scs, err := provincesim.LoadScenarios("")
	if err != nil {
		fmt.Fprintf(stderr, "ioc sim province: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "provinces: %s\n\nscenarios (make demo SCENARIO=NAME):\n", strings.Join(provincesim.Provinces(), ", "))
	for _, sc := range scs {
		fmt.Fprintf(stdout, "  %-20s %-8s %s / %s (%s of simulated time in %s)\n", sc.Name, sc.Province, sc.Title.VI, sc.Title.EN,
			sc.Duration, time.Duration(float64(sc.Duration)/sc.Speed).Round(time.Second))
	}
	return exitOK
}
