package lease

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
)

// cutter is a TCP proxy to ZooKeeper that a test can cut, as a network partition would: the
// connections to ZooKeeper close and new ones are refused; with silent, the client's side stays
// open and hears nothing (packets dropped), otherwise it closes too.
type cutter struct {
	target string
	silent bool
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func (c *cutter) dial(network, _ string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("cut off from ZooKeeper")
	}
	server, err := net.DialTimeout(network, c.target, timeout)
	if err != nil {
		return nil, err
	}
	client, mine := net.Pipe()
	c.conns = append(c.conns, server)
	if !c.silent {
		c.conns = append(c.conns, mine)
	}
	go func() { _, _ = io.Copy(server, mine); server.Close() }()
	go func() {
		_, _ = io.Copy(mine, server)
		if !c.silent {
			mine.Close()
		}
	}()
	return client, nil
}

func (c *cutter) cutOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

// term is one process's time as leader, as its lead function saw it.
type term struct {
	who        string
	term       uint64
	start, end time.Time
}

type terms struct {
	mu  sync.Mutex
	all []term
	won chan term
}

// campaign runs a lease for who until stop is called or the test ends; its lead function
// records the term and holds it until the lease is lost.
func (ts *terms) campaign(t *testing.T, who string, opts Options) (l *Lease, stop func()) {
	t.Helper()
	opts.Identity = Identity{Instance: who, URL: "http://" + who + ".test:8080"}
	l, err := New(opts, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Run(ctx, func(lctx context.Context, n uint64) error {
			tm := term{who: who, term: n, start: time.Now()}
			ts.won <- tm
			<-lctx.Done()
			tm.end = time.Now()
			ts.mu.Lock()
			ts.all = append(ts.all, tm)
			ts.mu.Unlock()
			return nil
		})
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return l, stop
}

func options(t *testing.T, path string, dial func(string, string, time.Duration) (net.Conn, error)) Options {
	cl := testenv.StartedCluster(t)
	return Options{Servers: []string{cl.ZooKeeper}, Path: path, SessionTimeout: 3 * time.Second, Dial: dial}
}

// Two processes campaign: one leads; cut off from ZooKeeper, it steps down within its lease,
// before the other leads with a higher term, so that two leaders never act at once; Fence
// refuses the old term from then on. Cut with the connection closed, and with it silent.
func TestCutFromZooKeeperStepsDownBeforeTheStandbyLeads(t *testing.T) {
	for _, silent := range []bool{false, true} {
		t.Run(map[bool]string{false: "closed", true: "silent"}[silent], func(t *testing.T) { cutLeader(t, silent) })
	}
}

func cutLeader(t *testing.T, silent bool) {
	path := "/ioc-test/" + testenv.DatabaseName(t.Name())
	ts := &terms{won: make(chan term, 4)}
	a := &cutter{target: testenv.StartedCluster(t).ZooKeeper, silent: silent}
	la, _ := ts.campaign(t, "a", options(t, path, a.dial))
	first := <-ts.won
	if first.who != "a" || la.Fence(first.term) != nil {
		t.Fatalf("first leader %+v; a's fence of its term: %v", first, la.Fence(first.term))
	}
	lb, _ := ts.campaign(t, "b", options(t, path, nil))
	select {
	case second := <-ts.won:
		t.Fatalf("%s leads term %d while a holds its lease", second.who, second.term)
	case <-time.After(2 * time.Second):
	}
	if lb.Fence(first.term) == nil {
		t.Fatal("the standby says it leads")
	}

	cut := time.Now()
	a.cutOff()
	var second term
	select {
	case second = <-ts.won:
	case <-time.After(20 * time.Second):
		t.Fatal("the standby did not lead within 20 s of the leader's cut")
	}
	if second.who != "b" || second.term <= first.term {
		t.Fatalf("after the cut: %+v (first term %d)", second, first.term)
	}
	if err := la.Fence(first.term); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("the cut leader's fence: %v", err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.all) != 1 || ts.all[0].who != "a" {
		t.Fatalf("ended terms: %+v", ts.all)
	}
	stepped := ts.all[0].end
	t.Logf("cut at 0; a stepped down after %s; b led after %s", stepped.Sub(cut).Round(time.Millisecond), second.start.Sub(cut).Round(time.Millisecond))
	if !stepped.Before(second.start) {
		t.Fatalf("a stepped down at %s, after b began to lead at %s", stepped, second.start)
	}
}

// A leader that ends (its process stops) lets the next candidate lead with a higher term; a
// watcher (a process that does not campaign) knows each leader and where it answers.
func TestTermsGrowFromLeaderToLeader(t *testing.T) {
	path := "/ioc-test/" + testenv.DatabaseName(t.Name())
	ts := &terms{won: make(chan term, 4)}
	opts := options(t, path, nil)
	w, err := NewWatcher(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = w.Run(ctx) }()
	watched := func(who string) {
		t.Helper()
		testenv.WaitFor(t, "the watcher to see "+who+" lead", 10*time.Second, func() bool {
			id, ok := w.Leader()
			return ok && id.Instance == who && id.URL == "http://"+who+".test:8080"
		})
	}
	_, stopA := ts.campaign(t, "a", opts)
	first := <-ts.won
	watched("a")
	ts.campaign(t, "b", opts)
	stopA() // a stops: its session closes and its node goes at once
	select {
	case second := <-ts.won:
		if second.who != "b" || second.term <= first.term {
			t.Fatalf("first %+v, then %+v", first, second)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not lead after a stopped")
	}
	watched("b")
}

func TestOptionsAreChecked(t *testing.T) {
	for _, o := range []Options{
		{Path: "/a", SessionTimeout: time.Second},
		{Servers: []string{"x:2181"}, Path: "a", SessionTimeout: time.Second},
		{Servers: []string{"x:2181"}, Path: "/a/", SessionTimeout: time.Second},
		{Servers: []string{"x:2181"}, Path: "/a", SessionTimeout: time.Millisecond},
	} {
		if _, err := New(o, nil, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
