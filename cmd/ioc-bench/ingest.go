package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/internal/config"
)

type ingestOptions struct {
	N, SenMLN, Rounds  int
	Cases              string
	ClickHouse, Broker string
	IOC                string // the ioc binary
}

// ingestCase is one way readings reach ioc.
type ingestCase struct {
	name    string
	format  string // the topic's decoder
	perMsg  int    // readings per message
	spooled bool   // writer.spool.force
	// rollups measures ioc with its rollups (analytics.rollups.enabled) against ioc without
	// them, in the same round; the other cases run with them, as ioc does by default.
	rollups bool
	// history: readings of 20 days ago, a minute apart (each a minute bucket of its own, in
	// hours the process must load from the raw table), instead of the last minutes' readings,
	// a second apart, as a live province sends them.
	history bool
}

var ingestCases = []ingestCase{
	{name: "ingest-json", format: "json", perMsg: 1},
	{name: "ingest-senml", format: "senml", perMsg: 100},
	{name: "ingest-json-spool", format: "json", perMsg: 1, spooled: true},
	{name: "ingest-senml-rollups", format: "senml", perMsg: 100, rollups: true},
	{name: "ingest-senml-rollups-history", format: "senml", perMsg: 100, rollups: true, history: true},
}

// benchIngest measures readings/s from MQTT publish to rows in ClickHouse through an `ioc serve`
// process of its own, for each case, against references measured in the same run: the rate at
// which a plain paho subscriber (QoS 1, acknowledging on receipt, storing nothing) receives the
// same messages from the same publishers on the same broker, and, for SenML packs, the rate of
// clickhouse-go's own columnar insert of the same rows.
func benchIngest(ctx context.Context, o ingestOptions) error {
	id := randomID()
	cfg, conn, drop, err := scratchDatabase(ctx, o.ClickHouse, "bench_ingest_"+id)
	if err != nil {
		return err
	}
	defer drop()
	dir, err := os.MkdirTemp("", "ioc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	catalog := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(catalog, benchCatalog(), 0o600); err != nil {
		return err
	}

	var results []string
	for _, c := range ingestCases {
		if o.Cases != "all" && !slices.Contains(strings.Split(o.Cases, ","), strings.TrimPrefix(c.name, "ingest-")) {
			continue
		}
		n := o.N
		if c.perMsg > 1 {
			n = o.SenMLN
		}
		run := runIngestCase
		if c.rollups {
			run = runRollupsCase
		}
		line, err := run(ctx, o, c, n, cfg, conn, dir, catalog)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, line)
	}
	fmt.Println()
	for _, l := range results {
		fmt.Println(l)
	}
	return nil
}

func runIngestCase(ctx context.Context, o ingestOptions, c ingestCase, n int, ch config.ClickHouse, conn driver.Conn, dir, catalog string) (string, error) {
	msgs := n / c.perMsg
	payloads := makePayloads(c, msgs)
	var bytes int
	for _, p := range payloads {
		bytes += len(p)
	}
	fmt.Printf("%s: %d readings in %d messages (%.1f MiB) per round, %d rounds, broker %s, ClickHouse %s\n",
		c.name, n, msgs, float64(bytes)/(1<<20), o.Rounds, o.Broker, o.ClickHouse)
	var refRates, insertRates, ourRates, rss []float64
	for round := 1; round <= o.Rounds; round++ {
		prefix := fmt.Sprintf("bench-%s-%d", randomID(), round)
		ref, err := referenceRound(ctx, o.Broker, prefix+"/ref", payloads)
		if err != nil {
			return "", fmt.Errorf("reference round %d: %w", round, err)
		}
		ref *= float64(c.perMsg) // readings/s the broker delivers to a subscriber that does nothing
		refRates = append(refRates, ref)
		if c.perMsg > 1 {
			ins, err := insertReference(ctx, conn, c, payloads)
			if err != nil {
				return "", fmt.Errorf("insert reference round %d: %w", round, err)
			}
			insertRates = append(insertRates, ins)
		}
		if err := conn.Exec(ctx, "TRUNCATE TABLE readings"); err != nil {
			return "", err
		}
		r, err := iocRound(ctx, o, c, ch, conn, dir, catalog, prefix+"/ioc", payloads, n, true)
		if err != nil {
			return "", fmt.Errorf("ioc round %d: %w", round, err)
		}
		ours := r.rate
		ourRates, rss = append(ourRates, ours), append(rss, r.peakMiB)
		insertNote := ""
		if c.perMsg > 1 {
			insertNote = fmt.Sprintf(", clickhouse-go insert %.0f rows/s", insertRates[len(insertRates)-1])
		}
		fmt.Printf("  round %d: plain subscriber %.0f readings/s%s, ioc %.0f readings/s stored (%.2f), ioc peak RSS %.0f MiB\n",
			round, ref, insertNote, ours, ours/ref, r.peakMiB)
	}
	ref, ours := median(refRates), median(ourRates)
	if c.perMsg > 1 {
		// The reference is whichever ceiling is lower: the broker's delivery or ClickHouse's insert.
		ins := median(insertRates)
		fmt.Printf("  references: broker %.0f readings/s, clickhouse-go columnar insert %.0f rows/s\n", ref, ins)
		ref = min(ref, ins)
	}
	return fmt.Sprintf("RESULT bench=%s value=%.0f unit=readings/s ratio=%.3f reference=%.0f peak_rss_mib=%.0f",
		c.name, ours, ours/ref, ref, slices.Max(rss)), nil
}

// makePayloads renders msgs messages of 2,000 sensors: one generic JSON reading each, or a
// SenML pack of 100 minutes of one gauge (100 seconds for a live rollups case).
func makePayloads(c ingestCase, msgs int) [][]byte {
	base := time.Now().UTC().Add(-20 * 24 * time.Hour).Unix()
	gap := 60 // seconds between a pack's readings
	if c.rollups && !c.history {
		gap = 1
		base = time.Now().Unix() - int64(msgs/2000*c.perMsg) - 60
	}
	out := make([][]byte, msgs)
	for i := range out {
		sensor, step := i%2000, i/2000
		if c.format == "json" {
			out[i] = fmt.Appendf(nil, `{"sensor":"s-%04d","ts":%d,"metric":"water_level","value":%.2f,"unit":"m"}`,
				sensor, (base+int64(step))*1000, 80+float64(i%1000)/100)
			continue
		}
		bt := base + int64(step*c.perMsg*gap)
		p := fmt.Appendf(make([]byte, 0, 40*c.perMsg), `[{"bn":"urn:dev:ops:s-%04d:","bt":%d,"bu":"m","n":"water_level","v":%.2f}`, sensor, bt, 80.0)
		for k := 1; k < c.perMsg; k++ {
			p = fmt.Appendf(p, `,{"n":"water_level","t":%d,"v":%.2f}`, k*gap, 80+float64((i+k)%1000)/100)
		}
		out[i] = append(p, ']')
	}
	return out
}

// publishers is how many connections publish at once: one paho client alone cannot fill
// the broker.
var publishers = 4

// publishAll publishes every payload with QoS 1 as fast as the broker takes them, spread over
// several connections. Topics are prefix/<n>, the subscriber's filter prefix/#.
func publishAll(broker, prefix string, payloads [][]byte) error {
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		go func() { errs <- publishShare(broker, prefix, payloads, p) }()
	}
	var first error
	for p := 0; p < publishers; p++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// publishShare publishes every publishers-th payload, starting at share.
func publishShare(broker, prefix string, payloads [][]byte, share int) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-pub-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("publisher: connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(250)
	var toks []mqtt.Token
	for i := share; i < len(payloads); i += publishers {
		toks = append(toks, c.Publish(fmt.Sprintf("%s/%d", prefix, i%2000), 1, false, payloads[i]))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(120*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publish: %v", tok.Error())
		}
	}
	return nil
}

// referenceRound: a plain paho subscriber that only counts messages.
func referenceRound(ctx context.Context, broker, prefix string, payloads [][]byte) (float64, error) {
	var got atomic.Int64
	done := make(chan struct{})
	n := int64(len(payloads))
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("bench-ref-" + randomID()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, fmt.Errorf("connect to %s: %v", broker, tok.Error())
	}
	defer c.Disconnect(250)
	tok := c.Subscribe(prefix+"/#", 1, func(mqtt.Client, mqtt.Message) {
		if got.Add(1) == n {
			close(done)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, fmt.Errorf("subscribe: %v", tok.Error())
	}
	start := time.Now()
	if err := publishAll(broker, prefix, payloads); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("received %d of %d", got.Load(), n)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// insertReference times clickhouse-go's own columnar insert of the rows the payloads hold
// into a copy of the readings table, in batches of 100,000 rows, one after the other.
func insertReference(ctx context.Context, conn driver.Conn, c ingestCase, payloads [][]byte) (float64, error) {
	if err := conn.Exec(ctx, "DROP TABLE IF EXISTS readings_insert_ref"); err != nil {
		return 0, err
	}
	ddl := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	if err := conn.Exec(ddl, "CREATE TABLE readings_insert_ref AS readings"); err != nil {
		return 0, err
	}
	defer func() { _ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS readings_insert_ref") }()
	n := len(payloads) * c.perMsg
	base := time.Now().UTC().Add(-20 * 24 * time.Hour)
	ts, ingest := make([]time.Time, n), make([]time.Time, n)
	sensor, metric, text, unit, quality, topic := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	value := make([]float64, n)
	for i := range n {
		msg := i / c.perMsg
		ts[i] = base.Add(time.Duration(msg/2000*c.perMsg+i%c.perMsg) * time.Minute)
		ingest[i] = base
		sensor[i] = fmt.Sprintf("s-%04d", msg%2000)
		metric[i], unit[i], quality[i], topic[i] = "water_level", "m", "good", "bench/senml"
		value[i] = 80 + float64(i%1000)/100
	}
	const batch = 100_000
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		b, err := conn.PrepareBatch(ctx, "INSERT INTO readings_insert_ref (ts, sensor_id, metric, value, text, unit, quality, ingest_time, topic)")
		if err != nil {
			return 0, err
		}
		for k, col := range []any{ts[lo:hi], sensor[lo:hi], metric[lo:hi], value[lo:hi], text[lo:hi], unit[lo:hi], quality[lo:hi], ingest[lo:hi], topic[lo:hi]} {
			if err := b.Column(k).Append(col); err != nil {
				return 0, err
			}
		}
		if err := b.Send(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// iocRound runs `ioc serve` on the case's topics, timed from the first publish until
// ClickHouse holds every reading; it returns readings/s and the process's peak RSS in MiB.
func iocRound(ctx context.Context, o ingestOptions, c ingestCase, ch config.ClickHouse, conn driver.Conn, dir, catalog, prefix string, payloads [][]byte, n int, rollups bool) (roundResult, error) {
	return storeRound(ctx, o.IOC, o.Broker, c, []config.ClickHouse{ch}, conn, dir, catalog, prefix, payloads, n, rollups)
}

// runRollupsCase measures, round by round, ioc storing the same SenML packs without its
// rollups (the reference) and with them, and ioc's CPU time per million readings with them.
func runRollupsCase(ctx context.Context, o ingestOptions, c ingestCase, n int, ch config.ClickHouse, conn driver.Conn, dir, catalog string) (string, error) {
	payloads := makePayloads(c, n/c.perMsg)
	layout := "the last minutes' readings, a second apart"
	if c.history {
		layout = "readings of 20 days ago, a minute apart"
	}
	fmt.Printf("%s: %d readings of 2,000 gauges in SenML packs (%s) per round, %d rounds, ioc without rollups and with them (written every 5 s, and at the stop), in turns\n", c.name, n, layout, o.Rounds)
	var with, without, ratios, cpu []float64
	for round := 1; round <= o.Rounds; round++ {
		var rs [2]roundResult // without, with
		order := []bool{false, true}
		if round%2 == 0 { // every other round the other way round: neither side always runs on the server the other just loaded
			order = []bool{true, false}
		}
		for _, on := range order {
			for _, t := range []string{"readings", "readings_1m", "readings_1h", "district_1h"} {
				if err := conn.Exec(ctx, "TRUNCATE TABLE "+t); err != nil {
					return "", err
				}
			}
			r, err := iocRound(ctx, o, c, ch, conn, dir, catalog, fmt.Sprintf("bench-%s-%d", randomID(), round), payloads, n, on)
			if err != nil {
				return "", fmt.Errorf("round %d (rollups %t): %w", round, on, err)
			}
			if on {
				rs[1] = r
			} else {
				rs[0] = r
			}
		}
		without, with, cpu = append(without, rs[0].rate), append(with, rs[1].rate), append(cpu, rs[1].cpuSeconds/float64(n)*1e6)
		ratios = append(ratios, rs[1].rate/rs[0].rate)
		fmt.Printf("  round %d: without rollups %.0f readings/s (%.2f CPU s per million), with them %.0f readings/s (%.2f; %.3f)\n",
			round, rs[0].rate, rs[0].cpuSeconds/float64(n)*1e6, rs[1].rate, cpu[len(cpu)-1], rs[1].rate/rs[0].rate)
	}
	// ratio: the median of the rounds' ratios, each of two runs in the same minutes (the
	// machine's pace drifts between rounds by as much as the two sides differ)
	w, wo := median(with), median(without)
	return fmt.Sprintf("RESULT bench=%s value=%.0f unit=readings/s ratio=%.3f reference=%.0f cpu_s_per_million=%.2f ratio_of_medians=%.3f",
		c.name, w, median(ratios), wo, median(cpu), w/wo), nil
}

// roundResult is one round of storeRound: readings/s, the largest peak RSS of the processes
// in MiB, and their CPU time in seconds (user and system, from start to stop: the rollups'
// last write included).
type roundResult struct {
	rate, peakMiB, cpuSeconds float64
}

// storeRound runs one `ioc serve` per entry of chs (its ClickHouse; several share the readings
// through the broker's shared subscription), timed from the first publish until the processes
// have stored every reading; conn then checks that ClickHouse holds them all, once. It returns
// readings/s and the largest peak RSS of the processes, in MiB.
func storeRound(ctx context.Context, bin, broker string, c ingestCase, chs []config.ClickHouse, conn driver.Conn, dir, catalog, prefix string, payloads [][]byte, n int, rollups bool) (roundResult, error) {
	group := ""
	if len(chs) > 1 {
		group = "bench"
	}
	var listens []string
	var pids []int
	var cmds []*exec.Cmd
	for _, ch := range chs {
		clientID := "bench-ioc-" + randomID()
		defer forgetSession(broker, clientID)
		listen, err := freeAddr()
		if err != nil {
			return roundResult{}, err
		}
		cfgPath := filepath.Join(dir, clientID+".yaml")
		body := fmt.Sprintf(`roles: [ingest, dashboard]
log: {level: warn}
clickhouse: {addr: %q, database: %s, cluster: %q, migrate_on_start: false}
mqtt: {broker: %q, client_id: %s}
ingest:
  topics: [{pattern: "%s/#", format: %s, qos: 1}]
  catalog: %q
  shared_group: %q
writer:
  spool: {dir: %q, force: %t}
analytics: {rollups: {enabled: %t, interval: 5s}}
http: {listen: %q}
`, ch.Addr, ch.Database, ch.Cluster, broker, clientID, prefix, c.format, catalog, group, filepath.Join(dir, "spool-"+clientID), c.spooled, rollups, listen)
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			return roundResult{}, err
		}
		cmd, err := startServe(ctx, bin, cfgPath, listen)
		if err != nil {
			return roundResult{}, err
		}
		defer stopServe(cmd)
		listens, pids, cmds = append(listens, listen), append(pids, cmd.Process.Pid), append(cmds, cmd)
	}

	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- publishAll(broker, prefix, payloads) }()
	// ioc's own count of rows stored (it moves only after an INSERT succeeds) is polled, not
	// ClickHouse: on 18.16 count() reads a whole column, and polling it every 20 ms would load
	// the server the benchmark measures. ClickHouse's count is checked once at the end.
	for deadline := start.Add(5 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var written float64
		for _, l := range listens {
			w, err := rowsWritten(l)
			if err != nil {
				return roundResult{}, err
			}
			written += w
		}
		if written >= float64(n) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return roundResult{}, fmt.Errorf("stored %.0f of %d readings", written, n)
		}
	}
	elapsed := time.Since(start)

	if err := <-published; err != nil {
		return roundResult{}, err
	}
	if chs[0].Cluster != "" { // the replica asked holds what the others took in too
		if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA readings"); err != nil {
			return roundResult{}, err
		}
	}
	var stored uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM readings").Scan(&stored); err != nil {
		return roundResult{}, err
	}
	if stored != uint64(n) {
		return roundResult{}, fmt.Errorf("ClickHouse holds %d readings, published %d", stored, n)
	}
	var peak float64
	for _, pid := range pids {
		peak = max(peak, peakRSSMiB(pid))
	}
	// CPU time once the processes have stopped: their rollups, written every interval, trail
	// the raw readings, and the last are written at the stop
	var cpu float64
	for _, cmd := range cmds {
		stopServe(cmd)
		cpu += (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	return roundResult{rate: float64(n) / elapsed.Seconds(), peakMiB: peak, cpuSeconds: cpu}, nil
}

// startServe starts `ioc serve` with the config file and waits until it is healthy on listen.
func startServe(ctx context.Context, bin, cfgPath, listen string, env ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (make build): %w", bin, err)
	}
	if err := waitHealthy(ctx, listen); err != nil {
		stopServe(cmd)
		return nil, err
	}
	return cmd, nil
}

// stopServe stops ioc with SIGTERM and waits for it.
func stopServe(cmd *exec.Cmd) {
	if cmd.ProcessState != nil { // stopped already
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

// rowsWritten reads ioc_writer_rows_written_total{table="readings"} from ioc's /metrics.
func rowsWritten(listen string) (float64, error) {
	m, err := scrape(listen)
	if err != nil {
		return 0, err
	}
	v, ok := m[`ioc_writer_rows_written_total{table="readings"}`]
	if !ok {
		return 0, fmt.Errorf("no ioc_writer_rows_written_total in /metrics")
	}
	return v, nil
}

func waitHealthy(ctx context.Context, listen string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("ioc not healthy on %s after 30s", listen)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// peakRSSMiB reads VmHWM, a process's peak resident set, from /proc.
func peakRSSMiB(pid int) float64 {
	return procStatusMiB(pid, "VmHWM:")
}

// procStatusMiB reads a size field (in kB) of /proc/PID/status, in MiB.
func procStatusMiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb)
			return kb / 1024
		}
	}
	return 0
}

func forgetSession(broker, clientID string) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true))
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		c.Disconnect(0)
	}
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// benchCatalog is a catalog of the 2,000 river gauges s-0000 … s-1999 that the payloads name.
func benchCatalog() []byte {
	var b strings.Builder
	b.WriteString("sensors:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "  - {id: s-%04d, name: Gauge %d, kind: river_gauge, metrics: [{name: water_level}], location: {lat: 21.5, lon: 105.5}, district: d%d, owner_unit: flood_control, alarm_levels: {i: 85, ii: 87, iii: 89}}\n", i, i, i%10)
	}
	return []byte(b.String())
}

// scratchDatabase creates and migrates a database of its own for one benchmark run on the
// ClickHouse at addr; drop removes it.
func scratchDatabase(ctx context.Context, addr, name string) (config.ClickHouse, driver.Conn, func(), error) {
	cfg := config.Default().ClickHouse
	cfg.Addr, cfg.Database = addr, name
	if _, err := analytics.Migrate(ctx, cfg); err != nil {
		return cfg, nil, nil, err
	}
	conn, err := analytics.Open(ctx, cfg)
	if err != nil {
		return cfg, nil, nil, err
	}
	drop := func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		conn.Close()
	}
	return cfg, conn, drop, nil
}
