package main

import (
	"context"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

// The failover tests run ioc against the local cluster (deploy/local/cluster.sh): ZooKeeper
// and two ClickHouse replicas of one shard. Each breaks one part under load and ends with
// exact counts.

// Replica 1 killed with SIGKILL for 30 s under load: ioc's writer goes on into replica 2 (its
// next address), the killed replica fetches what it missed when it returns, and both hold the
// published sequence exactly: nothing lost, nothing twice after FINAL.
func TestFailoverClickHouseReplica(t *testing.T) {
	cl := testenv.StartedCluster(t)
	ch := cl.Config(t)
	broker := testenv.Broker(t)
	seq := newSequence(30000)
	clientID := "ioc-" + seq.prefix
	t.Cleanup(func() { testenv.ForgetSession(t, broker, clientID) })
	startIOC(t, faultConfig(t, seq, ch, broker, clientID, t.TempDir(), ""))
	published, wait := publishInBackground(t, seq, broker, 700)
	waitPublished(t, published, 3000)
	cl.Kill(t, 1)
	t.Logf("replica 1 killed with %d published", published.Load())
	time.Sleep(30 * time.Second)
	t.Logf("replica 1 restarting with %d published", published.Load())
	cl.Start(t, 1)
	wait()
	seq.verify(t, openDB(t, cl.Replicas[1], ch.Database), 2*time.Minute)
	first := openDB(t, cl.Replicas[0], ch.Database)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := first.Exec(ctx, "SYSTEM SYNC REPLICA readings"); err != nil {
		t.Fatalf("replica 1 did not catch up: %v", err)
	}
	seq.verify(t, first, time.Minute)
}
