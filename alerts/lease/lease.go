// Package lease elects one leader among several ioc processes through ZooKeeper (or ClickHouse
// Keeper, which speaks its protocol), so that exactly one alert engine is active at a time.
//
// Each process campaigns with an ephemeral sequential node under the configured path; the
// lowest node leads, and its sequence number (plus one) is its term, which only grows from one
// leader to the next. A leader renews its lease by reading its own node: the lease lasts
// three quarters of the session timeout from the start of the last read that succeeded, which
// ends before ZooKeeper can expire the session and let another process win. A leader that
// loses ZooKeeper therefore stops leading (its lead context ends) before any other can start,
// and Fence refuses its writes and notifications from the moment its lease has run out.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotLeader is Fence's answer for a process that does not hold the lease for the term.
var ErrNotLeader = errors.New("not the alert leader (its lease has passed to another process or run out)")

// Options configure a lease.
type Options struct {
	// Servers are ZooKeeper's (or Keeper's) host:port.
	Servers []string
	// Path is the election's node, e.g. /ioc/<database>/alerts.
	Path string
	// SessionTimeout is ZooKeeper's session timeout: how long a leader that died or lost
	// ZooKeeper keeps others waiting. Keep it within ZooKeeper's 2 to 20 ticks.
	SessionTimeout time.Duration
	// Identity is what this process's node holds: who leads and where it answers, for the
	// other processes (Watcher), people and logs.
	Identity Identity
	// Dial connects to a server; nil dials TCP (the tests dial through a proxy they cut).
	Dial func(network, address string, timeout time.Duration) (net.Conn, error)
}

// Lease is one process's candidacy.
type Lease struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	mu         sync.Mutex
	term       uint64    // the term this process leads; 0 when it does not
	validUntil time.Time // when the lease runs out unless renewed
}

// New builds a lease; Run campaigns.
func New(opts Options, reg prometheus.Registerer, log *slog.Logger) (*Lease, error) {
	if len(opts.Servers) == 0 {
		return nil, errors.New("lease: no ZooKeeper server named")
	}
	if !strings.HasPrefix(opts.Path, "/") || strings.HasSuffix(opts.Path, "/") {
		return nil, fmt.Errorf("lease: path %q: want /a/b", opts.Path)
	}
	if opts.SessionTimeout < time.Second {
		return nil, fmt.Errorf("lease: session timeout %s: want at least 1s", opts.SessionTimeout)
	}
	if opts.Dial == nil {
		opts.Dial = net.DialTimeout
	}
	return &Lease{opts: opts, log: log, m: newMetrics(reg)}, nil
}

// Fence returns nil while this process holds the lease of term, ErrNotLeader otherwise. Call
// it right before each write or notification a leader alone may make.
func (l *Lease) Fence(term uint64) error {
	l.mu.Lock()
	ok := term != 0 && l.term == term && time.Now().Before(l.validUntil)
	l.mu.Unlock()
	if !ok {
		l.m.fenced.Inc()
		return fmt.Errorf("term %d: %w", term, ErrNotLeader)
	}
	return nil
}

// Run campaigns until ctx ends. Each time this process wins, lead runs with the term and a
// context that ends when the lease is lost (or ctx ends); Run waits for lead to return, gives
// up its session and campaigns again. An error of lead is logged; it ends the term, not Run.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context, term uint64) error) error {
	again(ctx, l.log, "alert leadership: campaigning again", l.opts.SessionTimeout, func() error { return l.campaign(ctx, lead) })
	return nil
}

// again runs session until ctx ends, logging why each run ended and waiting before the next,
// from 100 ms doubling up to most.
func again(ctx context.Context, log *slog.Logger, msg string, most time.Duration, session func() error) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := session()
		if ctx.Err() != nil {
			return
		}
		log.Warn(msg, "err", err, "after", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// connect opens a ZooKeeper session: lost is closed once the session is gone or cut off
// (nothing it did holds any more). The caller closes conn.
func connect(ctx context.Context, opts Options, log *slog.Logger) (conn *zk.Conn, lost <-chan struct{}, err error) {
	conn, events, err := zk.Connect(opts.Servers, opts.SessionTimeout, zk.WithDialer(opts.Dial), zk.WithLogger(zkLog{log}))
	if err != nil {
		return nil, nil, fmt.Errorf("zookeeper %s: %w", strings.Join(opts.Servers, ","), err)
	}
	gone := make(chan struct{})
	go func() { // ends when conn is closed (events is closed then)
		defer close(gone)
		for ev := range events {
			if ev.State == zk.StateDisconnected || ev.State == zk.StateExpired {
				return
			}
		}
	}()
	if err := awaitSession(ctx, conn, gone, opts.SessionTimeout); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, gone, nil
}

// campaign runs one ZooKeeper session: joins the election, waits to lead, leads until the
// lease is lost.
func (l *Lease) campaign(ctx context.Context, lead func(ctx context.Context, term uint64) error) error {
	conn, lost, err := connect(ctx, l.opts, l.log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := l.ensurePath(conn); err != nil {
		return err
	}
	me, err := conn.Create(l.opts.Path+"/candidate-", []byte(l.opts.Identity.Encode()), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		return fmt.Errorf("zookeeper: join the election at %s: %w", l.opts.Path, err)
	}
	seq, err := sequence(me)
	if err != nil {
		return err
	}
	for {
		ahead, err := l.predecessor(conn, me)
		if err != nil {
			return err
		}
		if ahead == "" {
			break
		}
		exists, _, watch, err := conn.ExistsW(ahead)
		if err != nil {
			return fmt.Errorf("zookeeper: watch %s: %w", ahead, err)
		}
		if !exists {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			return errors.New("zookeeper session lost while waiting to lead")
		case <-watch:
		}
	}
	return l.lead(ctx, conn, lost, me, seq+1, lead)
}

// lead holds the lease for term while the session lasts and each renewal succeeds in time.
func (l *Lease) lead(ctx context.Context, conn *zk.Conn, lost <-chan struct{}, me string, term uint64, lead func(context.Context, uint64) error) error {
	share := l.opts.SessionTimeout * 3 / 4
	l.mu.Lock()
	l.term, l.validUntil = term, time.Now().Add(share)
	l.mu.Unlock()
	l.m.term.Set(float64(term))
	l.m.leader.Set(1)
	l.m.elected.Inc()
	l.log.Info("alert leadership won", "term", term, "node", me, "instance", l.opts.Identity.Instance)
	lctx, cancel := context.WithCancel(ctx)
	var why error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		why = l.renew(lctx, conn, lost, me, share)
	}()
	err := lead(lctx, term)
	cancel()
	<-done
	l.mu.Lock()
	l.term, l.validUntil = 0, time.Time{}
	l.mu.Unlock()
	l.m.leader.Set(0)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	l.m.lost.Inc()
	l.log.Warn("alert leadership lost", "term", term, "why", why, "lead_err", err)
	return errors.Join(why, err)
}

// renew reads this process's node every fifth of the session timeout; each read that succeeds
// extends the lease to share after it started. It returns why the lease ended.
func (l *Lease) renew(ctx context.Context, conn *zk.Conn, lost <-chan struct{}, me string, share time.Duration) error {
	tick := time.NewTicker(l.opts.SessionTimeout / 5)
	defer tick.Stop()
	type answer struct {
		exists bool
		err    error
	}
	for {
		if _, err := await(ctx, l, lost, tick.C); err != nil {
			return ignoreTermOver(err)
		}
		start := time.Now()
		got := make(chan answer, 1)
		go func() {
			exists, _, err := conn.Exists(me)
			got <- answer{exists, err}
		}()
		a, err := await(ctx, l, lost, got)
		if err != nil {
			return ignoreTermOver(err)
		}
		if a.err != nil || !a.exists {
			return fmt.Errorf("lease node %s gone (%v)", me, a.err)
		}
		l.mu.Lock()
		l.validUntil = start.Add(share)
		l.mu.Unlock()
	}
}

func ignoreTermOver(err error) error {
	if errors.Is(err, errTermOver) {
		return nil
	}
	return err
}

// errTermOver ends a term whose context ended: the process stops, nothing went wrong.
var errTermOver = errors.New("term over")

// await waits for ch while l's lease holds: it fails when ctx ends (errTermOver), the session
// is lost, or the lease runs out first.
func await[T any](ctx context.Context, l *Lease, lost <-chan struct{}, ch <-chan T) (T, error) {
	var zero T
	l.mu.Lock()
	runsOut := time.Until(l.validUntil)
	l.mu.Unlock()
	select {
	case <-ctx.Done():
		return zero, errTermOver
	case <-lost:
		return zero, errors.New("zookeeper session lost")
	case <-time.After(runsOut):
		return zero, errors.New("lease ran out: ZooKeeper did not answer in time")
	case v := <-ch:
		return v, nil
	}
}

// predecessor is the candidate just ahead of me; "" when me is first.
func (l *Lease) predecessor(conn *zk.Conn, me string) (string, error) {
	names, _, err := conn.Children(l.opts.Path)
	if err != nil {
		return "", fmt.Errorf("zookeeper: list %s: %w", l.opts.Path, err)
	}
	type cand struct {
		name string
		seq  uint64
	}
	var cands []cand
	for _, n := range names {
		if s, err := sequence(n); err == nil && strings.HasPrefix(n, "candidate-") {
			cands = append(cands, cand{n, s})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].seq < cands[j].seq })
	mine := me[strings.LastIndex(me, "/")+1:]
	for i, c := range cands {
		if c.name == mine {
			if i == 0 {
				return "", nil
			}
			return l.opts.Path + "/" + cands[i-1].name, nil
		}
	}
	return "", fmt.Errorf("zookeeper: my candidate node %s is gone", me)
}

// ensurePath creates the election's node and its parents.
func (l *Lease) ensurePath(conn *zk.Conn) error {
	p := ""
	for _, part := range strings.Split(strings.TrimPrefix(l.opts.Path, "/"), "/") {
		p += "/" + part
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zookeeper: create %s: %w", p, err)
		}
	}
	return nil
}

// awaitSession waits until conn has a session.
func awaitSession(ctx context.Context, conn *zk.Conn, lost <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			return fmt.Errorf("zookeeper %s: no session within %s", conn.Server(), within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lost:
			return errors.New("zookeeper: disconnected before a session was made")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// sequence reads the ten-digit sequence ZooKeeper appended to a sequential node's name.
func sequence(name string) (uint64, error) {
	if len(name) < 10 {
		return 0, fmt.Errorf("zookeeper: %q has no sequence number", name)
	}
	n, err := strconv.ParseUint(name[len(name)-10:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("zookeeper: %q has no sequence number", name)
	}
	return n, nil
}

// zkLog sends the ZooKeeper client's messages to slog at debug level.
type zkLog struct{ log *slog.Logger }

func (z zkLog) Printf(format string, args ...any) {
	z.log.Debug("zookeeper: " + fmt.Sprintf(format, args...))
}

type metrics struct {
	leader, term  prometheus.Gauge
	elected, lost prometheus.Counter
	fenced        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		leader:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_alerts_leader", Help: "1 while this process holds the alert engine's lease."}),
		term:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_alerts_leader_term", Help: "The term of this process's last lease."}),
		elected: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_alerts_leader_elections_total", Help: "Leases this process has won."}),
		lost:    prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_alerts_leader_lost_total", Help: "Leases this process lost before it stopped."}),
		fenced:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_alerts_fenced_total", Help: "Writes and notifications refused because this process no longer held the lease of their term."}),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.term, m.elected, m.lost, m.fenced)
	}
	return m
}
