package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haidang-ioc/ioc/sim/camsim"
)

type cameraOptions struct {
	IOC          string
	Cases        string
	MetadataN    int
	HealthN      int
	BasePort     int
	Spread       time.Duration
	Measure      time.Duration
	ClickHouse   string
	WidthHealth  int
	HeightHealth int
}

// cameraCase is one scale run: n simulated cameras watched in one mode.
type cameraCase struct {
	name, mode string
	n          int
	cam        camsim.Config
}

// benchCameras runs each case: the simulated fleet in this process, `ioc serve` with the
// streams role in its own, and reports how many cameras ioc holds healthy against how many
// the simulator serves (the reference), with ioc's CPU and RSS.
func benchCameras(ctx context.Context, o cameraOptions) error {
	cases := []cameraCase{
		{name: "cameras-metadata", mode: "metadata", n: o.MetadataN, cam: camsim.Config{Width: 1280, Height: 720, FPS: 25,
			Metadata: true, MetadataInterval: time.Second, Script: camsim.DefaultScript}},
		{name: "cameras-health", mode: "health", n: o.HealthN, cam: camsim.Config{Width: o.WidthHealth, Height: o.HeightHealth, FPS: 15,
			BitrateKbps: 384, Keyint: 30}},
	}
	dir, err := os.MkdirTemp("", "ioc-bench-cameras-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, c := range cases {
		if o.Cases != "all" && !slices.Contains(strings.Split(o.Cases, ","), strings.TrimPrefix(c.name, "cameras-")) {
			continue
		}
		line, err := runCameraCase(ctx, o, c, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Println(line)
	}
	return nil
}

func runCameraCase(ctx context.Context, o cameraOptions, c cameraCase, dir string) (string, error) {
	fleet, err := camsim.StartFleet(camsim.FleetConfig{Count: c.n, Host: "127.0.0.1", BasePort: o.BasePort, IDPrefix: "bench-cam", Camera: c.cam},
		slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	defer fleet.Close()
	catalog := filepath.Join(dir, c.name+".yaml")
	if err := os.WriteFile(catalog, fleet.CatalogYAML(c.mode), 0o600); err != nil {
		return "", err
	}
	listen, err := freeAddr()
	if err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, c.name+"-ioc.yaml")
	body := fmt.Sprintf(`roles: [streams, dashboard]
log: {level: warn}
clickhouse: {addr: %q, database: bench_cameras}
writer:
  spool: {dir: %q}
streams: {catalog: %q, mode: %s, start_spread: %s}
http: {listen: %q}
`, o.ClickHouse, filepath.Join(dir, c.name+"-spool"), catalog, c.mode, o.Spread, listen)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, o.IOC, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s (make build): %w", o.IOC, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	if err := waitHealthy(ctx, listen); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "%s: %d cameras, sessions starting over %s\n", c.name, c.n, o.Spread)
	start := time.Now()
	var online float64
	for deadline := start.Add(o.Spread + 60*time.Second); ; time.Sleep(500 * time.Millisecond) {
		m, err := scrape(listen)
		if err != nil {
			return "", err
		}
		online = m[`ioc_cameras{state="online"}`]
		if online >= float64(c.n) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
	}
	allOnline := time.Since(start)
	fmt.Fprintf(os.Stderr, "%s: %.0f of %d online after %s; measuring for %s\n", c.name, online, c.n, allOnline.Round(time.Second), o.Measure)

	before, err := scrape(listen)
	if err != nil {
		return "", err
	}
	cpu0, t0 := cpuSeconds(cmd.Process.Pid), time.Now()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(o.Measure):
	}
	cpu1, t1 := cpuSeconds(cmd.Process.Pid), time.Now()
	after, err := scrape(listen)
	if err != nil {
		return "", err
	}
	cores := (cpu1 - cpu0) / t1.Sub(t0).Seconds()
	rss, peak := rssMiB(cmd.Process.Pid), peakRSSMiB(cmd.Process.Pid)
	healthy := after[`ioc_cameras{state="online"}`]
	falseOffline := after[`ioc_camera_state_changes_total{state="offline"}`]
	degraded := after[`ioc_camera_state_changes_total{state="degraded"}`]
	events := 0.0
	for k, v := range after {
		if strings.HasPrefix(k, "ioc_camera_events_total{") {
			events += v - before[k]
		}
	}
	return fmt.Sprintf("RESULT bench=%s value=%.0f unit=cameras_healthy ratio=%.3f reference=%d cpu_cores=%.3f rss_mib=%.0f peak_rss_mib=%.0f "+
		"cpu_ms_per_camera_s=%.3f rss_kib_per_camera=%.0f offline_changes=%.0f degraded_changes=%.0f events_per_s=%.0f all_online_s=%.1f measured_s=%.0f",
		c.name, healthy, healthy/float64(c.n), c.n, cores, rss, peak, 1000*cores/float64(c.n), rss*1024/float64(c.n),
		falseOffline, degraded, events/t1.Sub(t0).Seconds(), allOnline.Seconds(), t1.Sub(t0).Seconds()), nil
}

// scrape reads ioc's /metrics into a map from series (name and labels) to value.
func scrape(listen string) (map[string]float64, error) {
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// cpuSeconds is the user and system CPU time a process has used, from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// rssMiB reads VmRSS, a process's resident set now, from /proc.
func rssMiB(pid int) float64 {
	return procStatusMiB(pid, "VmRSS:")
}
