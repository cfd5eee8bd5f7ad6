package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/internal/config"
)

type clusterOptions struct {
	IOC, Broker         string
	ClickHouse          string // the single node of the reference
	Replicas, ZooKeeper string // the local cluster's
	Case                string // ingest case: json or senml
	N, Rounds           int
	Kills               int
	SessionTimeout      time.Duration
	Rate                int // background readings/s during the failovers
}

// benchCluster runs the two cluster benchmarks: cluster-ingest (two ioc processes sharing the
// readings into two ClickHouse replicas, against one process into one node in the same run)
// and alerts-failover (the alert leader killed again and again: the time from each kill to the
// standby's first notification of a new alert).
func benchCluster(ctx context.Context, o clusterOptions) error {
	ingest, err := benchClusterIngest(ctx, o)
	if err != nil {
		return fmt.Errorf("cluster-ingest: %w", err)
	}
	failover, err := benchFailover(ctx, o)
	if err != nil {
		return fmt.Errorf("alerts-failover: %w", err)
	}
	fmt.Println()
	fmt.Println(ingest)
	fmt.Println(failover)
	return nil
}

func benchClusterIngest(ctx context.Context, o clusterOptions) (string, error) {
	i := slices.IndexFunc(ingestCases, func(c ingestCase) bool { return c.name == "ingest-"+o.Case })
	if i < 0 || ingestCases[i].spooled {
		return "", fmt.Errorf("case %q: want json or senml", o.Case)
	}
	c := ingestCases[i]
	id := randomID()
	single, singleConn, dropSingle, err := scratchDatabase(ctx, o.ClickHouse, "bench_cluster_"+id)
	if err != nil {
		return "", err
	}
	defer dropSingle()
	replicas := strings.Split(o.Replicas, ",")
	if len(replicas) != 2 {
		return "", fmt.Errorf("-replicas %q: want the two replicas' addresses", o.Replicas)
	}
	clustered := config.Default().ClickHouse
	clustered.Addr, clustered.Cluster, clustered.Database = o.Replicas, "ioc", "bench_cluster_"+id
	if _, err := analytics.Migrate(ctx, clustered); err != nil {
		return "", fmt.Errorf("migrate on the cluster (make cluster): %w", err)
	}
	clusterConn, err := analytics.Open(ctx, clustered)
	if err != nil {
		return "", err
	}
	defer func() {
		_ = clusterConn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+clustered.Database+" ON CLUSTER ioc")
		clusterConn.Close()
	}()
	// Each process writes to its own replica first (the other is its failover).
	first, second := clustered, clustered
	second.Addr = replicas[1] + "," + replicas[0]

	dir, err := os.MkdirTemp("", "ioc-bench-cluster-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	catalog := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(catalog, benchCatalog(), 0o600); err != nil {
		return "", err
	}
	n := o.N
	payloads := makePayloads(c, n/c.perMsg)
	fmt.Printf("cluster-ingest: %s, %d readings per round, %d rounds; reference: one ioc into %s; cluster: two ioc (shared subscription) into replicas %s; broker %s\n",
		c.name, n, o.Rounds, o.ClickHouse, o.Replicas, o.Broker)
	var oneRates, twoRates []float64
	for round := 1; round <= o.Rounds; round++ {
		prefix := fmt.Sprintf("bench-cluster-%s-%d", randomID(), round)
		if err := singleConn.Exec(ctx, "TRUNCATE TABLE readings"); err != nil {
			return "", err
		}
		if err := clusterConn.Exec(ctx, "TRUNCATE TABLE readings ON CLUSTER ioc"); err != nil {
			return "", err
		}
		r1, err := storeRound(ctx, o.IOC, o.Broker, c, []config.ClickHouse{single}, singleConn, dir, catalog, prefix+"/one", payloads, n, true)
		if err != nil {
			return "", fmt.Errorf("one process, round %d: %w", round, err)
		}
		r2, err := storeRound(ctx, o.IOC, o.Broker, c, []config.ClickHouse{first, second}, clusterConn, dir, catalog, prefix+"/two", payloads, n, true)
		if err != nil {
			return "", fmt.Errorf("two processes, round %d: %w", round, err)
		}
		one, two := r1.rate, r2.rate
		oneRates, twoRates = append(oneRates, one), append(twoRates, two)
		fmt.Printf("  round %d: one process into one node %.0f readings/s; two processes into two replicas %.0f readings/s (%.2f)\n", round, one, two, two/one)
	}
	one, two := median(oneRates), median(twoRates)
	return fmt.Sprintf("RESULT bench=cluster-ingest value=%.0f unit=readings/s ratio=%.3f reference=%.0f case=%s processes=2 replicas=2",
		two, two/one, one, o.Case), nil
}

// benchFailover runs two ioc processes with the alert engine's lease under a background load,
// and kills the leader o.Kills times with SIGKILL; after each kill a probe gauge crosses its
// alarm level every 100 ms until the webhook hears of a new alert; the killed process is then
// started again (the new standby).
func benchFailover(ctx context.Context, o clusterOptions) (string, error) {
	const every = 100 * time.Millisecond
	perKill := int(4*o.SessionTimeout/every) + 50
	rig, err := newProbeRig(ctx, "failover", o.ClickHouse, o.Kills*perKill)
	if err != nil {
		return "", err
	}
	defer rig.close()

	var mu sync.Mutex
	fired := map[string]time.Time{} // probe subject → when its first notification arrived
	hookAddr, err := freeAddr()
	if err != nil {
		return "", err
	}
	hook := &http.Server{Addr: hookAddr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var m alerts.WebhookMessage
		if json.Unmarshal(body, &m) == nil {
			mu.Lock()
			for _, n := range m.Notifications {
				if _, seen := fired[n.Alert.Subject]; n.Kind == alerts.EventFiring && !seen {
					fired[n.Alert.Subject] = now
				}
			}
			mu.Unlock()
		}
	})}
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		return "", err
	}
	go func() { _ = hook.Serve(ln) }() // stopped below
	defer hook.Close()

	// Two processes of the same deployment: each its client id, address and spool.
	type proc struct {
		cfg, listen string
		cmd         interface{ Signal(os.Signal) error }
		stop        func()
	}
	procs := make([]*proc, 2)
	start := func(p *proc) error {
		cmd, err := startServe(ctx, o.IOC, p.cfg, p.listen)
		if err != nil {
			return err
		}
		p.cmd, p.stop = cmd.Process, func() { stopServe(cmd) }
		return nil
	}
	for i := range procs {
		listen, err := freeAddr()
		if err != nil {
			return "", err
		}
		clientID := fmt.Sprintf("bench-ioc-%s-%d", rig.id, i)
		defer forgetSession(o.Broker, clientID)
		cfg, err := rig.config("ingest, alerts, dashboard", o.Broker, clientID, fmt.Sprintf(`alerts:
  lease: {zookeeper: [%q], path: /ioc-bench/%s, session_timeout: %s}
  receivers: [{name: bench-hook, type: webhook, units: [flood_control], url: "http://%s/hook"}]
http: {listen: %q}
`, o.ZooKeeper, rig.id, o.SessionTimeout, hookAddr, listen))
		if err != nil {
			return "", err
		}
		procs[i] = &proc{cfg: cfg, listen: listen}
		if err := start(procs[i]); err != nil {
			return "", err
		}
	}
	defer func() {
		for _, p := range procs {
			if p.stop != nil {
				p.stop()
			}
		}
	}()
	fmt.Printf("alerts-failover: two ioc processes with the lease (session timeout %s, ZooKeeper %s), background %d readings/s; %d kills of the leader; a probe every %s after each\n",
		o.SessionTimeout, o.ZooKeeper, o.Rate, o.Kills, every)
	stopBackground := rig.background(ctx, o.Broker, o.Rate, 10)
	defer func() { _ = stopBackground() }()
	pub, err := rig.publisher(o.Broker)
	if err != nil {
		return "", err
	}
	defer pub.Disconnect(250)

	leader := func() (int, error) {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			for i, p := range procs {
				if m, err := scrape(p.listen); err == nil && m["ioc_alerts_leader"] == 1 {
					return i, nil
				}
			}
		}
		return 0, fmt.Errorf("no process leads after 60 s")
	}
	var takeovers []float64
	probe := 0
	for k := 1; k <= o.Kills; k++ {
		l, err := leader()
		if err != nil {
			return "", err
		}
		killed := procs[l]
		_ = killed.cmd.Signal(syscall.SIGKILL)
		killed.stop() // reaps it
		killedAt := time.Now()
		var first time.Time
		for first.IsZero() {
			if probe == o.Kills*perKill || time.Since(killedAt) > 4*o.SessionTimeout+5*time.Second {
				return "", fmt.Errorf("kill %d: no new alert notified %s after the kill", k, time.Since(killedAt).Round(time.Millisecond))
			}
			if err := rig.probe(pub, probe, 86.1, func(time.Time) {}); err != nil {
				return "", err
			}
			probe++
			time.Sleep(every)
			mu.Lock()
			for _, at := range fired {
				if at.After(killedAt) && (first.IsZero() || at.Before(first)) {
					first = at
				}
			}
			mu.Unlock()
		}
		takeovers = append(takeovers, ms(first.Sub(killedAt)))
		fmt.Printf("  kill %d: process %d killed; the standby notified a new alert %.0f ms later\n", k, l, takeovers[len(takeovers)-1])
		if err := start(killed); err != nil {
			return "", fmt.Errorf("restart the killed process: %w", err)
		}
	}
	if err := stopBackground(); err != nil {
		return "", err
	}
	return fmt.Sprintf("RESULT bench=alerts-failover value=%.0f unit=ms p50=%.0f max=%.0f kills=%d session_timeout_ms=%.0f",
		slices.Max(takeovers), percentile(takeovers, 50), slices.Max(takeovers), len(takeovers), ms(o.SessionTimeout)), nil
}
