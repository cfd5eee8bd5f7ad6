// Command ioc-bench runs the end-to-end benchmarks against the local real servers and prints,
// for each, a line of the form
//
//	RESULT bench=<name> value=<n> unit=<u> ratio=<ours/reference> reference=<n>
//
// where the reference is measured in the same run (see docs/BENCHMARKS.md).
//
//	ioc-bench ingest [flags]   MQTT -> ClickHouse through an `ioc serve` process: generic JSON,
//	                           SenML packs, JSON with the spool forced; against a plain paho
//	                           subscriber and clickhouse-go's own insert
//	ioc-bench analytics [flags] 100 million generated readings; trend, district and top-N
//	                           queries through the rollups against the same answers from the
//	                           raw table
//	ioc-bench alerts [flags]   latency from the MQTT publish of a reading that crosses a flood
//	                           alarm level to the alert stored and to the webhook received,
//	                           under a background load, against the broker's own round trip
//	ioc-bench ngsild [flags]   latency from the MQTT publish of a reading to the NGSI-LD
//	                           notifications of the subscriptions it concerns, under a
//	                           background load, against the broker's own round trip
//	ioc-bench cameras [flags]  simulated cameras watched by an `ioc serve` process in metadata
//	                           and health mode: cameras held healthy against cameras served,
//	                           with ioc's CPU and RSS
//	ioc-bench cluster [flags]  on the local cluster: two ioc processes sharing the readings into
//	                           two ClickHouse replicas against one process into one node, and
//	                           the alert leader killed again and again (time to the standby's
//	                           first notification of a new alert)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ioc-bench ingest|alerts|cameras|analytics|dashboard|ngsild|cluster|video [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ingest":
		fs := flag.NewFlagSet("ingest", flag.ExitOnError)
		opts := ingestOptions{}
		fs.IntVar(&opts.N, "n", 200_000, "readings per round of the JSON cases (one message each)")
		fs.IntVar(&opts.SenMLN, "senml-n", 2_000_000, "readings per round of the SenML case (100 a message)")
		fs.StringVar(&opts.Cases, "cases", "all", "cases to run: all, or a comma list of json, senml, json-spool, senml-rollups, senml-rollups-history")
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.IntVar(&opts.Rounds, "rounds", 3, "rounds; the median round of each side is reported")
		fs.IntVar(&publishers, "publishers", publishers, "publishing connections")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		fs.StringVar(&opts.Broker, "broker", envOr("IOC_TEST_MQTT_BROKER", "tcp://127.0.0.1:1883"), "MQTT broker URL")
		_ = fs.Parse(os.Args[2:])
		fmt.Println(brokerStore(opts.Broker))
		err = benchIngest(ctx, opts)
	case "alerts":
		fs := flag.NewFlagSet("alerts", flag.ExitOnError)
		opts := alertOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.IntVar(&opts.Rate, "rate", 20_000, "background readings/s")
		fs.IntVar(&opts.Batch, "batch", 10, "background readings per message (a generic JSON array)")
		fs.IntVar(&opts.Probes, "probes", 300, "readings crossing báo động I, each on its own gauge")
		fs.DurationVar(&opts.Every, "every", 100*time.Millisecond, "time between probes")
		fs.DurationVar(&opts.Warmup, "warmup", 10*time.Second, "background alone before the first probe")
		fs.IntVar(&publishers, "publishers", publishers, "background publishing connections")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		fs.StringVar(&opts.Broker, "broker", envOr("IOC_TEST_MQTT_BROKER", "tcp://127.0.0.1:1883"), "MQTT broker URL")
		_ = fs.Parse(os.Args[2:])
		if opts.Rate < 1 || opts.Batch < 1 || opts.Probes < 1 {
			err = fmt.Errorf("want a positive rate, batch and probe count")
			break
		}
		fmt.Println(brokerStore(opts.Broker))
		err = benchAlerts(ctx, opts)
	case "dashboard":
		fs := flag.NewFlagSet("dashboard", flag.ExitOnError)
		opts := dashboardOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.IntVar(&opts.Clients, "clients", 500, "WebSocket clients (a multiple of 10: one district of ten each)")
		fs.IntVar(&opts.Walls, "walls", 50, "of them, clients also watching every sensor")
		fs.IntVar(&opts.Rate, "rate", 20_000, "background readings/s")
		fs.IntVar(&opts.Batch, "batch", 10, "background readings per message (a generic JSON array)")
		fs.IntVar(&opts.Probes, "probes", 300, "probe readings, each on a sensor of its own")
		fs.DurationVar(&opts.Every, "every", 100*time.Millisecond, "time between probes")
		fs.DurationVar(&opts.Warmup, "warmup", 10*time.Second, "clients and background alone before the first probe")
		fs.IntVar(&publishers, "publishers", publishers, "background publishing connections")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		fs.StringVar(&opts.Broker, "broker", envOr("IOC_TEST_MQTT_BROKER", "tcp://127.0.0.1:1883"), "MQTT broker URL")
		_ = fs.Parse(os.Args[2:])
		if opts.Clients < 10 || opts.Clients%10 != 0 || opts.Walls > opts.Clients || opts.Rate < 1 || opts.Batch < 1 || opts.Probes < 1 {
			err = fmt.Errorf("want a multiple of 10 clients, walls up to clients, a positive rate, batch and probe count")
			break
		}
		fmt.Println(brokerStore(opts.Broker))
		err = benchDashboard(ctx, opts)
	case "ngsild":
		fs := flag.NewFlagSet("ngsild", flag.ExitOnError)
		opts := ngsildOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.IntVar(&opts.Subscriptions, "subscriptions", 50, "partners' subscriptions (a multiple of 10: one district of ten each)")
		fs.IntVar(&opts.Rate, "rate", 20_000, "background readings/s")
		fs.IntVar(&opts.Batch, "batch", 10, "background readings per message (a generic JSON array)")
		fs.IntVar(&opts.Probes, "probes", 300, "probe readings, each on a gauge of its own")
		fs.DurationVar(&opts.Every, "every", 100*time.Millisecond, "time between probes")
		fs.DurationVar(&opts.Warmup, "warmup", 10*time.Second, "subscriptions and background alone before the first probe")
		fs.IntVar(&publishers, "publishers", publishers, "background publishing connections")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		fs.StringVar(&opts.Broker, "broker", envOr("IOC_TEST_MQTT_BROKER", "tcp://127.0.0.1:1883"), "MQTT broker URL")
		_ = fs.Parse(os.Args[2:])
		if opts.Subscriptions < 10 || opts.Subscriptions%10 != 0 || opts.Rate < 1 || opts.Batch < 1 || opts.Probes < 1 {
			err = fmt.Errorf("want a multiple of 10 subscriptions, a positive rate, batch and probe count")
			break
		}
		fmt.Println(brokerStore(opts.Broker))
		err = benchNGSILD(ctx, opts)
	case "analytics":
		fs := flag.NewFlagSet("analytics", flag.ExitOnError)
		opts := analyticsOptions{}
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		fs.StringVar(&opts.Database, "database", "bench_analytics", "database of the generated history (kept between runs)")
		fs.IntVar(&opts.Sensors, "sensors", 2000, "sensors (a multiple of 4: river, rain, traffic, salinity)")
		fs.IntVar(&opts.Days, "days", 35, "days of one reading a minute per sensor")
		fs.IntVar(&opts.Runs, "runs", 20, "timed runs of each query, each way")
		fs.BoolVar(&opts.Regenerate, "regenerate", false, "generate the history again even if the database holds it")
		_ = fs.Parse(os.Args[2:])
		if opts.Sensors < 4 || opts.Sensors%4 != 0 || opts.Days < 31 {
			err = fmt.Errorf("want a multiple of 4 sensors and at least 31 days (the 30-day queries)")
			break
		}
		err = benchAnalytics(ctx, opts)
	case "cameras":
		fs := flag.NewFlagSet("cameras", flag.ExitOnError)
		opts := cameraOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.StringVar(&opts.Cases, "cases", "all", "cases to run: all, or a comma list of metadata, health")
		fs.IntVar(&opts.MetadataN, "metadata-n", 2000, "cameras in metadata mode")
		fs.IntVar(&opts.HealthN, "health-n", 300, "cameras in health mode")
		fs.IntVar(&opts.WidthHealth, "health-width", 640, "video width of the health-mode cameras")
		fs.IntVar(&opts.HeightHealth, "health-height", 360, "video height of the health-mode cameras")
		fs.IntVar(&opts.BasePort, "base-port", 30000, "port of the first simulated camera")
		fs.DurationVar(&opts.Spread, "spread", 20*time.Second, "streams.start_spread: the sessions' start is spread over this")
		fs.DurationVar(&opts.Measure, "measure", 60*time.Second, "how long CPU and states are measured once all cameras are up")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		_ = fs.Parse(os.Args[2:])
		err = benchCameras(ctx, opts)
	case "video":
		fs := flag.NewFlagSet("video", flag.ExitOnError)
		opts := videoOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.StringVar(&opts.MediaMTX, "mediamtx", ".data/tools/mediamtx-v1.15.3/mediamtx", "the MediaMTX binary (deploy/local/mediamtx.sh build)")
		fs.StringVar(&opts.Chromium, "chromium", chromiumPath(), "Debian's Chromium")
		fs.IntVar(&opts.Cameras, "cameras", 16, "simulated cameras, and tiles opened together (a 4 x 4 page)")
		fs.IntVar(&opts.Rounds, "rounds", 3, "times the page is opened")
		fs.IntVar(&opts.BasePort, "base-port", 31000, "port of the first simulated camera")
		fs.DurationVar(&opts.Measure, "measure", 20*time.Second, "how long CPU is measured with every tile playing")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
		_ = fs.Parse(os.Args[2:])
		err = benchVideo(ctx, opts)
	case "cluster":
		fs := flag.NewFlagSet("cluster", flag.ExitOnError)
		opts := clusterOptions{}
		fs.StringVar(&opts.IOC, "ioc", "bin/ioc", "the ioc binary to run (make build)")
		fs.StringVar(&opts.Case, "case", "senml", "ingest case: json or senml")
		fs.IntVar(&opts.N, "n", 1_000_000, "readings per round of cluster-ingest")
		fs.IntVar(&opts.Rounds, "rounds", 3, "rounds of cluster-ingest; the median is reported")
		fs.IntVar(&opts.Kills, "kills", 10, "leader kills of alerts-failover")
		fs.DurationVar(&opts.SessionTimeout, "session-timeout", 6*time.Second, "alerts.lease.session_timeout (the default)")
		fs.IntVar(&opts.Rate, "rate", 1000, "background readings/s during the failovers")
		fs.IntVar(&publishers, "publishers", publishers, "publishing connections")
		fs.StringVar(&opts.ClickHouse, "clickhouse", envOr("IOC_TEST_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (the reference's single node)")
		fs.StringVar(&opts.Replicas, "replicas", envOr("IOC_TEST_CLUSTER_ADDR", "127.0.0.1:9101,127.0.0.1:9102"), "the two replicas of cluster ioc (make cluster)")
		fs.StringVar(&opts.ZooKeeper, "zookeeper", envOr("IOC_TEST_ZOOKEEPER", "127.0.0.1:2181"), "ZooKeeper host:port (make cluster)")
		fs.StringVar(&opts.Broker, "broker", envOr("IOC_TEST_MQTT_BROKER", "tcp://127.0.0.1:1883"), "MQTT broker URL")
		_ = fs.Parse(os.Args[2:])
		fmt.Println(brokerStore(opts.Broker))
		err = benchCluster(ctx, opts)
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc-bench:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
