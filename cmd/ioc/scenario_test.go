package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/alerts/incident"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/sim/provincesim"
)

// Each built-in scenario, played accelerated by `ioc serve` (the simulated province publishing
// to Mosquitto, its cameras served over RTSP, readings stored in ClickHouse, the built-in
// rules), raises exactly the alerts it lists: no more, none missing, each reaching its units
// at its highest severity, and each resolved by the end unless the scenario says otherwise.
func TestScenarios(t *testing.T) {
	scenarios, err := provincesim.LoadScenarios("")
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) { playScenario(t, sc) })
	}
}

// playedAlert is one alert of a played scenario, as its events in ClickHouse tell it.
type playedAlert struct {
	rule, subject, id, state string
	units, severities        []string
}

func playScenario(t *testing.T, sc provincesim.Scenario) {
	h := newHarness(t)
	def := config.Default()
	// the usual topics under the test's prefix: a demo's persistent session subscribed to the
	// usual ones must not queue the test's traffic
	h.cfg.Ingest.Topics = nil
	for _, tp := range def.Ingest.Topics {
		tp.Pattern = h.prefix + "/" + tp.Pattern
		if tp.DeviceLevel > 0 {
			tp.DeviceLevel++ // the prefix is one level more before the device's
		}
		h.cfg.Ingest.Topics = append(h.cfg.Ingest.Topics, tp)
	}
	h.cfg.Ingest.AcceptUnknownSensors = false
	h.cfg.Ingest.Catalog = "" // the simulated province's
	h.cfg.Simulator = def.Simulator
	h.cfg.Simulator.Enabled, h.cfg.Simulator.Scenario, h.cfg.Simulator.BadShare, h.cfg.Simulator.TopicPrefix = true, sc.Name, 0, h.prefix
	p, err := provincesim.Load(sc.Province, 1, def.Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.Simulator.CameraBasePort = testenv.FreePortBlock(t, provincesim.MaxCameras+len(p.Cameras)) // RTSP, then ONVIF
	h.cfg.Streams.StartSpread, h.cfg.Streams.ReconnectMin, h.cfg.Streams.ReconnectMax = 100*time.Millisecond, 200*time.Millisecond, 2*time.Second
	runLiveFirst(t, h) // as README's tour: `make demo`, stop it, then the scenario
	// twice the demo's speed: the clock waits for the server, so the alerts are the same,
	// and make test spends two minutes less here
	h.cfg.Simulator.Speed = 2 * sc.Speed
	h.start(t)
	wall := time.Duration(float64(sc.Duration) / h.cfg.Simulator.Speed)
	t.Logf("playing %s: %s of simulated time in %s or more (the clock waits for the server)", sc.Name, sc.Duration, wall.Round(time.Second))
	began := time.Now()
	end := sc.Start.Add(sc.Duration)
	for deadline := began.Add(3*wall + time.Minute); ; time.Sleep(time.Second) {
		var last time.Time
		// the scenario's readings: a live run before it stored its own months later
		if err := h.conn.QueryRow(context.Background(), "SELECT max(ts) FROM readings WHERE ts >= ? AND ts <= ?",
			sc.Start.UTC(), end.Add(time.Hour).UTC()).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if !last.Before(end) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the readings reach %s only, not the scenario's end %s", time.Since(began).Round(time.Second), last.UTC(), end)
		}
	}
	t.Logf("%s played in %s", sc.Name, time.Since(began).Round(time.Second))

	want := map[string]provincesim.Expectation{}
	for _, x := range sc.Expect {
		want[x.Rule+" "+x.Subject] = x
	}
	// The last events reach ClickHouse through the store's outbox: wait until what must be
	// resolved is, and every expected alert is there.
	var got []playedAlert
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got = playedAlerts(t, h, sc.Start, end)
		if settled(got, want) || time.Now().After(deadline) {
			break
		}
	}
	bySubject := map[string][]playedAlert{}
	for _, a := range got {
		bySubject[a.rule+" "+a.subject] = append(bySubject[a.rule+" "+a.subject], a)
	}
	for key, x := range want {
		as := bySubject[key]
		if len(as) == 0 {
			t.Errorf("%s: expected alert never raised", key)
			continue
		}
		highest := ""
		for _, a := range as {
			for _, u := range x.Units {
				if !slices.Contains(a.units, u) {
					t.Errorf("%s (alert %s): reached units %v, not %s", key, a.id, a.units, u)
				}
			}
			for _, s := range a.severities {
				if rank(s) > rank(highest) {
					highest = s
				}
			}
			if x.MustResolve() && a.state != string(alerts.StateResolved) {
				t.Errorf("%s (alert %s): %s at the end, want resolved", key, a.id, a.state)
			}
		}
		if highest != x.Severity {
			t.Errorf("%s: highest severity %s, want %s", key, highest, x.Severity)
		}
	}
	var extra []string
	for key, as := range bySubject {
		if _, ok := want[key]; !ok {
			extra = append(extra, fmt.Sprintf("%s (%d alerts, severities %v)", key, len(as), as[0].severities))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("alerts the scenario does not list:\n  %s", strings.Join(extra, "\n  "))
	}
	t.Logf("%s: %d alerts over %d rule/subject pairs", sc.Name, len(got), len(bySubject))
	checkIncidents(t, h, sc, end)
}

// checkIncidents: the scenario's alerts opened exactly the incidents it lists, each at its
// highest severity and with its number of rule/subject pairs. The incidents reach ClickHouse
// through the incident manager's outbox: wait until they are all there.
func checkIncidents(t *testing.T, h *harness, sc provincesim.Scenario, end time.Time) {
	t.Helper()
	want := map[string]provincesim.IncidentExpectation{}
	for _, x := range sc.Incidents {
		want[x.Correlation+" "+x.Key] = x
	}
	var got map[string][]incident.Incident
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got = playedIncidents(t, h, sc.Start, end)
		complete := true
		for key := range want {
			complete = complete && len(got[key]) > 0
		}
		if complete || time.Now().After(deadline) {
			break
		}
	}
	for key, x := range want {
		incs := got[key]
		if len(incs) != 1 {
			t.Errorf("incident %s: %d opened, want 1", key, len(incs))
			continue
		}
		inc := incs[0]
		pairs := map[string]bool{}
		for _, a := range inc.Alerts {
			pairs[a.Rule+" "+a.Subject] = true
		}
		if string(inc.Severity) != x.Severity || len(pairs) != x.Alerts {
			t.Errorf("incident %s: severity %s with %d rule/subject pairs %v, want %s with %d", key, inc.Severity, len(pairs), slices.Sorted(maps.Keys(pairs)), x.Severity, x.Alerts)
		}
		if len(inc.Steps) == 0 {
			t.Errorf("incident %s (%s): no response procedure", key, inc.Type)
		}
	}
	for key, incs := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("an incident the scenario does not list: %s (%d, %s)", key, len(incs), incs[0].Title.VI)
		}
	}
	t.Logf("%s: %d incidents", sc.Name, len(got))
}

// playedIncidents are the incidents opened on the scenario's clock, as they last stood, by
// correlation and key.
func playedIncidents(t *testing.T, h *harness, start, end time.Time) map[string][]incident.Incident {
	t.Helper()
	rows, err := h.conn.Query(context.Background(), `SELECT argMax(incident, seq) FROM incident_events FINAL
		GROUP BY incident_id HAVING min(opened) >= ? AND min(opened) <= ?`, start.UTC(), end.UTC())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]incident.Incident{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var inc incident.Incident
		if err := json.Unmarshal([]byte(doc), &inc); err != nil {
			t.Fatal(err)
		}
		out[inc.Correlation+" "+inc.Key] = append(out[inc.Correlation+" "+inc.Key], inc)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// runLiveFirst runs the live province (the simulator on the wall clock) in h's database, as
// README's tour does before a scenario, until its readings, rain among them, and an alert are
// stored, then stops it: the scenario that follows must start from a clean simulated state
// all the same (the engine's restore and warm-up read only the scenario's past).
func runLiveFirst(t *testing.T, h *harness) {
	t.Helper()
	scenario := h.cfg.Simulator.Scenario
	h.cfg.Simulator.Scenario = ""
	stop := h.start(t)
	ctx := context.Background()
	var rain, alerted uint64
	for deadline := time.Now().Add(60 * time.Second); rain == 0 || alerted == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the live province stored %d rain readings and %d alerts in 60 s; want some of each before the scenario", rain, alerted)
		}
		if err := h.conn.QueryRow(ctx, "SELECT count() FROM readings WHERE metric = 'rainfall'").Scan(&rain); err != nil {
			t.Fatal(err)
		}
		if err := h.conn.QueryRow(ctx, "SELECT count() FROM alert_events").Scan(&alerted); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	h.cfg.Simulator.Scenario = scenario
	t.Logf("live first: %d rain readings and %d alert events stored before the scenario", rain, alerted)
}

// settled tells whether every expected alert is there and those that must be resolved are.
func settled(got []playedAlert, want map[string]provincesim.Expectation) bool {
	seen := map[string]bool{}
	for _, a := range got {
		key := a.rule + " " + a.subject
		seen[key] = true
		if x, ok := want[key]; ok && x.MustResolve() && a.state != string(alerts.StateResolved) {
			return false
		}
	}
	for key := range want {
		if !seen[key] {
			return false
		}
	}
	return true
}

// playedAlerts are the alerts raised on the scenario's clock, between its start and end (a live
// run before it raised its own on the wall clock, after the scenario's days).
func playedAlerts(t *testing.T, h *harness, start, end time.Time) []playedAlert {
	t.Helper()
	rows, err := h.conn.Query(context.Background(), `
		SELECT rule, subject, alert_id, argMax(state, (ts, ms, seq)), groupUniqArrayArray(units), groupUniqArray(severity)
		FROM alert_events GROUP BY rule, subject, alert_id HAVING min(ts) >= ? AND min(ts) <= ?
		ORDER BY rule, subject, alert_id`, start.UTC(), end.UTC())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []playedAlert
	for rows.Next() {
		var a playedAlert
		if err := rows.Scan(&a.rule, &a.subject, &a.id, &a.state, &a.units, &a.severities); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// rank orders severities; an unknown one ranks lowest.
func rank(s string) int {
	return slices.Index([]string{"informational", "low", "medium", "high", "critical"}, s)
}

// ioc sim backfill stores the province's history through ingest's pipeline: every metric of
// every sensor at every interval of the days asked for, the malformed share dead-lettered
// rather than stored, the hourly rollups filled.
func TestSimBackfill(t *testing.T) {
	ch := testenv.ClickHouseConfig(t)
	path := filepath.Join(t.TempDir(), "ioc.yaml")
	body := fmt.Sprintf("clickhouse: {addr: %q, database: %s}\nlog: {level: warn}\nsimulator: {province: ben-tre, bad_share: 0.01}\n", ch.Addr, ch.Database)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run([]string{"sim", "backfill", "--config", path, "--days", "2", "--interval", "30m"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	p, err := provincesim.Load("ben-tre", 1, config.Default().Ingest.Profiles)
	if err != nil {
		t.Fatal(err)
	}
	conn := testenv.Conn(t, ch)
	var stored, sensors, hourly uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(sensor_id) FROM readings FINAL WHERE metric NOT IN ('rssi', 'snr', 'battery')").Scan(&stored, &sensors); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM readings_1h").Scan(&hourly); err != nil {
		t.Fatal(err)
	}
	slots := 2*48 + 1
	metrics := p.Metrics()
	// 1 % of the payloads are malformed and dead-lettered: most, not all, readings are stored
	if int(sensors) != p.Sensors() || stored > uint64(slots*metrics) || stored < uint64(slots*metrics*95/100) || hourly == 0 {
		t.Errorf("stored %d readings of %d sensors, %d hourly rows; want about %d readings of %d sensors", stored, sensors, hourly, slots*metrics, p.Sensors())
	}
	if !strings.Contains(out.String(), "readings stored") {
		t.Errorf("output %q", out.String())
	}
}
