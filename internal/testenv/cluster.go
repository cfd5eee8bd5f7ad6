package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/config"
)

// Environment variables that name the local cluster of deploy/local/cluster.sh.
const (
	// EnvCluster lists the ClickHouse replicas' native addresses, comma-separated.
	EnvCluster = "IOC_TEST_CLUSTER_ADDR"
	// EnvZooKeeper is the ZooKeeper's host:port.
	EnvZooKeeper = "IOC_TEST_ZOOKEEPER"
	// EnvClusterBrokers lists the broker cluster's nodes, as mqtt.broker takes them.
	EnvClusterBrokers = "IOC_TEST_CLUSTER_BROKERS"
	// EnvShard2 is the native address of the server that is the second shard of ShardsName.
	EnvShard2 = "IOC_TEST_CLUSTER_SHARD2_ADDR"
)

// ClusterName is the cluster deploy/local/cluster.sh defines in its replicas' remote_servers:
// one shard of two replicas.
const ClusterName = "ioc"

// ShardsName is deploy/local/cluster.sh's cluster of two shards: the two replicas of
// ClusterName, and a third server.
const ShardsName = "ioc_shards"

const howToStartCluster = "run the tests with `make test` (it starts the local cluster), or start it with " +
	"`deploy/local/cluster.sh start` and set " + EnvCluster + "=127.0.0.1:9101,127.0.0.1:9102 and " +
	EnvZooKeeper + "=127.0.0.1:2181 and " + EnvClusterBrokers + "=tcp://127.0.0.1:1891,tcp://127.0.0.1:1892,tcp://127.0.0.1:1893 and " +
	EnvShard2 + "=127.0.0.1:9103"

// Cluster is the local cluster: ZooKeeper, two ClickHouse replicas of one shard (and a third
// server, a second shard with them) and three MQTT broker nodes, shared by the tests that need
// them; a test may kill and restart a replica or a broker node.
type Cluster struct {
	Replicas  []string // native addresses, replica 1 first
	Shard2    string   // the native address of ShardsName's second shard
	ZooKeeper string
	Brokers   []string // the broker nodes' URLs, node 1 first
	script    string
}

// StartedCluster returns the local cluster, failing the test with how to start it when it is
// not named. The test holds the cluster alone until it ends: tests of other packages (which
// go test runs at the same time) wait, so that one killing a replica, a broker node or
// ZooKeeper does not break another.
func StartedCluster(t testing.TB) *Cluster {
	t.Helper()
	Integration(t)
	addrs, zk, brokers, shard2 := os.Getenv(EnvCluster), os.Getenv(EnvZooKeeper), os.Getenv(EnvClusterBrokers), os.Getenv(EnvShard2)
	if addrs == "" || zk == "" || brokers == "" || shard2 == "" {
		t.Fatalf("no local cluster for this test: %s", howToStartCluster)
	}
	holdCluster(t)
	// a named cluster that does not answer fails now, not at the test's timeout
	for _, addr := range []string{zk, strings.Split(addrs, ",")[0]} {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the local cluster does not answer at %s (%v): %s", addr, err, howToStartCluster)
			}
		}
	}
	_, file, _, _ := runtime.Caller(0)
	return &Cluster{
		Replicas:  strings.Split(addrs, ","),
		Shard2:    shard2,
		ZooKeeper: zk,
		Brokers:   strings.Split(brokers, ","),
		script:    filepath.Join(filepath.Dir(file), "..", "..", "deploy", "local", "cluster.sh"),
	}
}

// clusterHolders are the tests of this process that hold the cluster's lock.
var clusterHolders = struct {
	sync.Mutex
	tests map[testing.TB]bool
}{tests: map[testing.TB]bool{}}

// holdCluster takes the lock file shared by every test process (an exclusive flock on
// <temp>/ioc-test-cluster.lock) for t, once however often t asks, and gives it back when t ends.
func holdCluster(t testing.TB) {
	t.Helper()
	clusterHolders.Lock()
	defer clusterHolders.Unlock()
	if clusterHolders.tests[t] {
		return
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "ioc-test-cluster.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	waited := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock the local cluster: %v", err)
	}
	if d := time.Since(waited); d > time.Second {
		t.Logf("waited %s for another package's test to give the local cluster back", d.Round(time.Second))
	}
	clusterHolders.tests[t] = true
	t.Cleanup(func() {
		clusterHolders.Lock()
		delete(clusterHolders.tests, t)
		clusterHolders.Unlock()
		f.Close() // releases the lock
	})
}

// Config returns the configuration of a fresh database on the cluster (not created yet: the
// migrations create it on every replica), dropped on every replica when the test ends.
func (c *Cluster) Config(t testing.TB) config.ClickHouse {
	t.Helper()
	cfg := config.Default().ClickHouse
	cfg.Addr = strings.Join(c.Replicas, ",")
	cfg.Cluster = ClusterName
	cfg.Database = DatabaseName(t.Name())
	dropWhenDone(t, c.Replicas, "DROP DATABASE IF EXISTS "+cfg.Database+" ON CLUSTER "+ClusterName, time.Minute)
	return cfg
}

// ShardsConfig returns the configuration of a fresh database on the cluster of two shards
// (ShardsName), dropped on every server when the test ends.
func (c *Cluster) ShardsConfig(t testing.TB) config.ClickHouse {
	t.Helper()
	cfg := config.Default().ClickHouse
	servers := append(slices.Clone(c.Replicas), c.Shard2)
	cfg.Addr = strings.Join(servers, ",")
	cfg.Cluster = ShardsName
	cfg.Database = DatabaseName(t.Name())
	dropWhenDone(t, servers, "DROP DATABASE IF EXISTS "+cfg.Database+" ON CLUSTER "+ShardsName, time.Minute)
	return cfg
}

// Kill kills replica n (1 or 2) with SIGKILL.
func (c *Cluster) Kill(t testing.TB, n int) { c.run(t, "kill-replica", strconv.Itoa(n)) }

// Start starts replica n again and waits until it answers.
func (c *Cluster) Start(t testing.TB, n int) { c.run(t, "start-replica", strconv.Itoa(n)) }

// StopZooKeeper stops ZooKeeper: the replicated tables turn read-only, the alert lease ends.
func (c *Cluster) StopZooKeeper(t testing.TB) { c.run(t, "stop-zookeeper") }

// StartZooKeeper starts ZooKeeper again and waits until it serves.
func (c *Cluster) StartZooKeeper(t testing.TB) { c.run(t, "start-zookeeper") }

// KillBroker kills broker node n (1 to 3) with SIGKILL.
func (c *Cluster) KillBroker(t testing.TB, n int) { c.run(t, "kill-broker", strconv.Itoa(n)) }

// StartBroker starts broker node n again and waits until it serves.
func (c *Cluster) StartBroker(t testing.TB, n int) { c.run(t, "start-broker", strconv.Itoa(n)) }

func (c *Cluster) run(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{c.script}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/local/cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
