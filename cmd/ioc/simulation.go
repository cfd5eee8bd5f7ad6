package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/haidang-ioc/ioc/dashboard"
	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/sim/provincesim"
	"github.com/haidang-ioc/ioc/streams"
)

// simulation is the simulated province `ioc serve` runs when the simulator is on: the
// province (with the scenario it plays), its clock and its cameras.
type simulation struct {
	province *provincesim.Province
	scenario *provincesim.Scenario
	clock    *provincesim.Clock
	interval time.Duration
	cameras  *provincesim.Cameras
}

// newSimulation loads the configured province and scenario; nil when the simulator is off.
func newSimulation(sc config.Simulator, profiles map[string]config.Profile) (*simulation, error) {
	if !sc.Enabled {
		return nil, nil
	}
	var scenario *provincesim.Scenario
	province := sc.Province
	if sc.Scenario != "" { // a scenario names its province
		all, err := provincesim.LoadScenarios(sc.Scenarios)
		if err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		if scenario, err = provincesim.Find(all, sc.Scenario); err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		province = scenario.Province
	}
	p, err := provincesim.Load(province, sc.Seed, profiles)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	s := &simulation{province: p, scenario: scenario, interval: sc.Interval}
	start, speed := time.Now(), 1.0
	if scenario != nil {
		if err := p.Play(scenario); err != nil {
			return nil, fmt.Errorf("simulator: %w", err)
		}
		start, speed, s.interval = scenario.Start, scenario.Speed, scenario.Interval
	}
	if sc.Speed > 0 {
		speed = sc.Speed
	}
	s.clock = provincesim.NewClock(start, speed)
	return s, nil
}

// accelerated tells whether the server runs on the simulation's clock: it plays a scenario or
// runs faster than real time.
func (s *simulation) accelerated() bool {
	return s != nil && (s.scenario != nil || s.clock.Speed() != 1)
}

// pacer is the observer that paces a simulated clock by what ingest accepted (the clock runs at
// most one interval past the newest reading taken in, see provincesim.Clock.Pace); nil when the
// clock is not accelerated. Call it before the publisher runs.
func (s *simulation) pacer() ingest.Observer {
	if !s.accelerated() {
		return nil
	}
	s.clock.Pace(s.interval, 30*time.Second)
	return clockPacer{s.clock}
}

// clockPacer tells the clock the time of each delivery's newest reading once it is accepted.
type clockPacer struct{ clock *provincesim.Clock }

func (p clockPacer) ObserveReadings(_ context.Context, readings []ingest.Reading, _ []streams.CameraEvent) error {
	var latest time.Time
	for i := range readings {
		if readings[i].Time.After(latest) {
			latest = readings[i].Time
		}
	}
	p.clock.Delivered(latest)
	return nil
}

func (clockPacer) ObserveCameras(context.Context, []streams.CameraStatus, []streams.CameraEvent) error {
	return nil
}

// now is the server's clock: the simulation's when it plays a scenario or runs faster than
// real time (every part then judges time alike), else the wall clock.
func (s *simulation) now() func() time.Time {
	if !s.accelerated() {
		return time.Now
	}
	return s.clock.Now
}

// info tells the UI what is simulated and how fast its clock runs; nil when nothing is.
func (s *simulation) info() *dashboard.Simulation {
	if s == nil {
		return nil
	}
	info := &dashboard.Simulation{TitleVI: s.province.Title.VI, TitleEN: s.province.Title.EN, Speed: s.clock.Speed()}
	if s.scenario != nil {
		info.TitleVI = s.scenario.Title.VI + " — " + info.TitleVI
		info.TitleEN = s.scenario.Title.EN + " — " + info.TitleEN
	}
	return info
}

// tick is the alert engine's tick: the configured one in simulated time.
func (s *simulation) tick(tick time.Duration) time.Duration {
	if s == nil {
		return tick
	}
	return max(10*time.Millisecond, time.Duration(float64(tick)/s.clock.Speed()))
}

// catalog is the sensor catalog ioc uses when ingest.catalog names no file: the simulated
// province's, with its sensors' intervals. Without a simulation there is none (config
// validation says ingest.catalog is missing before this is asked).
func (s *simulation) catalog() ([]byte, error) {
	if s == nil {
		return nil, errors.New("ingest.catalog: missing, and no simulated province to take a catalog from")
	}
	return s.province.CatalogYAML(s.interval), nil
}

// describe names the built-in catalog for the log.
func (s *simulation) describe() string {
	return "built-in (simulated " + s.province.Title.EN + ")"
}

// publisher is the simulated province's MQTT publisher; it begins the clock once sub is
// subscribed (sub nil: at once).
func (s *simulation) publisher(cfg config.Config, sub *ingest.Subscriber, log *slog.Logger) (*provincesim.Simulator, error) {
	opts := provincesim.Options{Interval: s.interval, BadShare: cfg.Simulator.BadShare, Profiles: cfg.Ingest.Profiles,
		TopicPrefix: cfg.Simulator.TopicPrefix}
	if sub != nil {
		opts.Ready = func(ctx context.Context) error {
			for sub.Check(ctx) != nil {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
			return nil
		}
	}
	if s.cameras != nil {
		opts.SetCameraFault = s.cameras.SetFault
	}
	if s.scenario != nil {
		log.Info("playing a scenario: the server runs on simulated time", "scenario", s.scenario.Name,
			"title", s.scenario.Title.VI, "start", s.scenario.Start.Format(time.RFC3339), "speed", s.clock.Speed(),
			"lasts", s.scenario.Duration.String(), "wall", time.Duration(float64(s.scenario.Duration)/s.clock.Speed()).Round(time.Second).String())
	}
	return provincesim.New(s.province, s.clock, cfg.MQTT, opts, log)
}

// startCameras starts the province's cameras (with their standing faults when no scenario
// plays) and returns their catalog.
func (s *simulation) startCameras(cfg config.Config, log *slog.Logger) (*streams.CameraCatalog, error) {
	cams, err := s.province.StartCameras("127.0.0.1", cfg.Simulator.CameraBasePort, s.scenario == nil, log.With("component", "camsim"))
	if err != nil {
		return nil, err
	}
	cat, err := streams.ParseCameraCatalog(cams.CatalogYAML(cfg.Streams.Mode), config.Units, os.Getenv)
	if err != nil {
		cams.Close()
		return nil, fmt.Errorf("simulated cameras' catalog: %w", err)
	}
	s.cameras = cams
	log.Info("simulated cameras running", "cameras", cat.Len(), "first_port", cfg.Simulator.CameraBasePort)
	return cat, nil
}
