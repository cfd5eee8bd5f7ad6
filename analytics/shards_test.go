package analytics

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/testenv"
	"github.com/haidang-ioc/ioc/streams"
)

// On a cluster of two shards the migrations create, on every server, each split table's local
// table and its Distributed table, and the other tables replicated; the writer's rows spread
// over both shards; every query answers as it does on one node, readings delivered twice
// included; retention and backfill work on both shards; and the database refuses to be
// migrated as one shard.
func TestShardedCluster(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ctx := context.Background()
	cfg := cl.ShardsConfig(t)
	a := config.Default().Analytics
	one, oneW := historyOn(t, testenv.ClickHouseConfig(t), a)
	sharded, shardedW := historyOn(t, cfg, a)
	if v, err := Migrate(ctx, cfg); err != nil || v != LatestVersion() {
		t.Fatalf("migrate again: version %d, %v", v, err)
	}

	servers := append(append([]string{}, cl.Replicas...), cl.Shard2)
	var schemas []string
	for _, addr := range servers {
		conn := testenv.Conn(t, config.ClickHouse{Addr: addr, Database: cfg.Database, Username: "default"})
		rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name, engine string
			if err := rows.Scan(&name, &engine); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name+" "+engine)
		}
		rows.Close()
		schemas = append(schemas, strings.Join(tables, "\n"))
	}
	for _, want := range []string{"readings Distributed", "readings_local ReplicatedReplacingMergeTree", "readings_1h_local ReplicatedReplacingMergeTree",
		"camera_status Distributed", "alert_events ReplicatedReplacingMergeTree", "sensors ReplicatedReplacingMergeTree"} {
		if !strings.Contains(schemas[0]+"\n", want+"\n") {
			t.Errorf("server 1 lacks %q:\n%s", want, schemas[0])
		}
	}
	if schemas[0] != schemas[1] || schemas[0] != schemas[2] {
		t.Fatalf("the servers' tables differ:\n%s\n--\n%s\n--\n%s", schemas[0], schemas[1], schemas[2])
	}

	// An hour of every catalog sensor's readings, delivered twice (a redelivery), dead
	// letters and camera statuses, to both.
	start := q0.Add(5 * time.Hour)
	var rs []ingest.Reading
	cat := laoCai(t)
	for i, s := range cat.Sensors {
		for m := 0; m < 60; m++ {
			at := start.Add(time.Duration(m) * time.Minute)
			rs = append(rs, ingest.Reading{Time: at, Sensor: s.ID, Metric: s.Metrics[0].Name, Value: float64(i*100+m) / 7,
				Quality: ingest.QualityGood, Received: at, Topic: "t"})
		}
	}
	var statuses []streams.CameraStatus
	for c := 0; c < 8; c++ {
		for m := 0; m < 10; m++ {
			state := streams.StateOnline
			if (c+m)%4 == 0 {
				state = streams.StateOffline
			}
			statuses = append(statuses, streams.CameraStatus{Time: start.Add(time.Duration(m) * time.Minute), Camera: fmt.Sprintf("lc-cam-%d", c),
				State: state, Since: start, Mode: streams.ModeHealth, Codec: "H264", Width: 1920, Height: 1080, FPS: 25})
		}
	}
	again := slices.Clone(rs) // received later: other blocks, which the replicas do not take for the same
	for i := range again {
		again[i].Received = again[i].Received.Add(time.Minute)
	}
	for _, w := range []*store{oneW, shardedW} {
		for i, rs := range [][]ingest.Reading{rs, again} {
			dead := []ingest.DeadLetter{{Time: start.Add(time.Duration(i) * time.Second), Source: "mqtt", Topic: "a/b",
				Reason: ingest.ReasonMalformedJSON, Detail: "d", Payload: []byte("{"), PayloadSize: 1}}
			w.keep(t, ingest.Delivery{Readings: rs, DeadLetters: dead})
		}
		if err := w.DeliverCamera(ctx, statuses, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A Distributed table reads each shard from any of its replicas: wait until they all hold
	// what was written through any of them.
	syncReplicas := func() {
		t.Helper()
		for _, addr := range servers {
			conn := testenv.Conn(t, config.ClickHouse{Addr: addr, Database: cfg.Database, Username: "default"})
			for _, table := range []string{"readings_local", "readings_1m_local", "readings_1h_local", "district_1h_local", "camera_status_local", "dead_letters_local", "sensors"} {
				if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+table); err != nil {
					t.Fatalf("sync %s on %s: %v", table, addr, err)
				}
			}
		}
	}
	syncReplicas()
	var perShard [2]uint64
	for i, addr := range []string{cl.Replicas[0], cl.Shard2} {
		conn := testenv.Conn(t, config.ClickHouse{Addr: addr, Database: cfg.Database, Username: "default"})
		if err := conn.QueryRow(ctx, "SELECT uniqExact(sensor_id, metric, ts) FROM readings_local").Scan(&perShard[i]); err != nil {
			t.Fatal(err)
		}
	}
	var stored uint64
	if err := sharded.conn.QueryRow(ctx, "SELECT count() FROM readings FINAL").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if perShard[0] == 0 || perShard[1] == 0 || perShard[0]+perShard[1] != stored || stored != uint64(len(rs)+390) {
		t.Fatalf("shard 1 holds %d readings, shard 2 %d; the cluster %d; want both some and %d in all", perShard[0], perShard[1], stored, len(rs)+390)
	}

	sensors := []string{"lc-hong-laocai", "lc-hong-bat-xat", cat.Sensors[5].ID, cat.Sensors[17].ID}
	phase := "after storing"
	same := func(what string, ask func(q *Querier) (any, error)) {
		t.Helper()
		a, errA := ask(one)
		b, errB := ask(sharded)
		if errA != nil || errB != nil {
			t.Fatalf("%s, %s: one node %v, two shards %v", phase, what, errA, errB)
		}
		if d := cmp.Diff(a, b, cmpopts.EquateApprox(1e-9, 1e-9), cmpopts.EquateNaNs()); d != "" {
			t.Errorf("%s, %s: one node (-) and two shards (+) differ:\n%s", phase, what, d)
		}
	}
	ask := func() {
		t.Helper()
		for _, res := range []Resolution{ResolutionRaw, Resolution1m, Resolution1h} {
			for _, metric := range []string{"water_level", cat.Sensors[17].Metrics[0].Name} {
				same("trend "+string(res)+" "+metric, func(q *Querier) (any, error) {
					return q.Trend(ctx, TrendRequest{Sensors: sensors, Metric: metric, From: q0, To: q0.Add(6 * time.Hour), Resolution: res, MaxPoints: 400})
				})
			}
		}
		same("districts", func(q *Querier) (any, error) {
			return q.Districts(ctx, "water_level", q0, q0.Add(6*time.Hour), time.Hour)
		})
		same("top", func(q *Querier) (any, error) { return q.Top(ctx, "water_level", q0, q0.Add(6*time.Hour), 10, false) })
		same("above alarm", func(q *Querier) (any, error) { return q.TopAboveAlarm(ctx, q0.Add(6*time.Hour), 6*time.Hour, 10) })
		same("latest", func(q *Querier) (any, error) { return q.LatestValues(ctx, q0.Add(6*time.Hour), 6*time.Hour, "") })
		same("cameras", func(q *Querier) (any, error) { return q.LatestCameraStates(ctx, start.Add(time.Hour), time.Hour) })
		same("uptime", func(q *Querier) (any, error) { return q.CameraUptime(ctx, start, start.Add(time.Hour)) })
		same("dead letters", func(q *Querier) (any, error) { return q.DeadLetterSummary(ctx, start.Add(time.Hour)) })
		same("export", func(q *Querier) (any, error) {
			var b bytes.Buffer
			err := q.ExportReadings(ctx, &b, sensors, "water_level", q0, q0.Add(6*time.Hour), LangVietnamese)
			return b.String(), err
		})
	}
	ask()

	// Backfill rebuilds the rollups on both shards: the redelivered hour is counted once.
	targets := []struct {
		q       *Querier
		cluster Cluster
	}{{one, Cluster{}}, {sharded, ClusterOf(cfg)}}
	for _, to := range targets {
		if err := Backfill(ctx, to.q.conn, to.cluster, a.Rollups.FastMetrics, time.Time{}, time.Time{}, func(string, time.Duration) {}); err != nil {
			t.Fatal(err)
		}
	}
	var rolled uint64
	if err := sharded.conn.QueryRow(ctx, "SELECT sum(n) FROM readings_1h FINAL WHERE source != ''").Scan(&rolled); err != nil || rolled != stored {
		t.Fatalf("after backfill the hourly rollup counts %d readings (%v), the raw table %d", rolled, err, stored)
	}
	syncReplicas()
	phase = "after backfill"
	ask()

	// Retention drops July (history's week-earlier hour) on both shards.
	rc := config.Default().Analytics.Retention
	rc.Readings = 20 * 24 * time.Hour
	now := time.Date(2026, 8, 25, 0, 0, 0, 0, time.UTC)
	for _, to := range targets {
		dropped, err := NewRetention(to.q.conn, to.cluster, rc, prometheus.NewRegistry(), slog.New(slog.DiscardHandler)).Enforce(ctx, now)
		if err != nil || strings.Join(dropped, " ") != "readings/202607" {
			t.Fatalf("retention dropped %v, %v; want readings/202607", dropped, err)
		}
	}
	if err := sharded.conn.QueryRow(ctx, "SELECT count() FROM readings FINAL").Scan(&stored); err != nil || stored != uint64(len(rs)+330) {
		t.Fatalf("after retention the cluster holds %d readings (%v), want %d", stored, err, len(rs)+330)
	}
	syncReplicas()
	phase = "after retention"
	ask()

	oneShard := cfg
	oneShard.Cluster = testenv.ClusterName
	oneShard.Addr = strings.Join(cl.Replicas, ",")
	if _, err := Migrate(ctx, oneShard); err == nil || !strings.Contains(err.Error(), "does not reshard") {
		t.Fatalf("migrate a database split across two shards on a cluster of one: %v", err)
	}
}
