package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Identity is what a candidate's node holds: which process it is and where its HTTP API
// answers, so that the other processes can send the leader what only it can do.
type Identity struct {
	// Instance names the process (<host>-<pid>).
	Instance string `json:"instance"`
	// URL is where the process's HTTP API answers for the other processes (http.advertise_url).
	URL string `json:"url"`
}

// Encode is the node's content.
func (id Identity) Encode() string {
	b, _ := json.Marshal(id)
	return string(b)
}

// Watcher follows who leads an election without campaigning: a process without the alert
// engine, or a standby, learns where to send alert requests.
type Watcher struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	leader Identity
	known  bool
}

// NewWatcher builds a watcher of the election opts names (Identity and SessionTimeout as for
// New); Run follows it.
func NewWatcher(opts Options, log *slog.Logger) (*Watcher, error) {
	if _, err := New(opts, nil, log); err != nil { // the same checks
		return nil, err
	}
	if opts.Dial == nil {
		opts.Dial = net.DialTimeout
	}
	return &Watcher{opts: opts, log: log}, nil
}

// Leader is the candidate that leads or is next to (the first in line), and whether one is
// known now.
func (w *Watcher) Leader() (Identity, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leader, w.known
}

func (w *Watcher) set(id Identity, known bool) {
	w.mu.Lock()
	changed := w.leader != id || w.known != known
	w.leader, w.known = id, known
	w.mu.Unlock()
	if changed && known {
		w.log.Info("alert leader", "instance", id.Instance, "url", id.URL)
	}
}

// Run follows the election until ctx ends, reconnecting to ZooKeeper as needed; while it
// cannot tell, Leader says none is known.
func (w *Watcher) Run(ctx context.Context) error {
	again(ctx, w.log, "alert leader unknown: following the election again", w.opts.SessionTimeout, func() error {
		err := w.follow(ctx)
		w.set(Identity{}, false)
		return err
	})
	return nil
}

// follow runs one ZooKeeper session, reading the first candidate's identity at every change
// of the candidates.
func (w *Watcher) follow(ctx context.Context) error {
	conn, lost, err := connect(ctx, w.opts, w.log)
	if err != nil {
		return err
	}
	defer conn.Close()
	l := &Lease{opts: w.opts}
	if err := l.ensurePath(conn); err != nil {
		return err
	}
	for {
		names, _, watch, err := conn.ChildrenW(w.opts.Path)
		if err != nil {
			return fmt.Errorf("zookeeper: list %s: %w", w.opts.Path, err)
		}
		first := firstCandidate(names)
		if first == "" {
			w.set(Identity{}, false)
		} else {
			data, _, err := conn.Get(w.opts.Path + "/" + first)
			switch {
			case errors.Is(err, zk.ErrNoNode): // gone since the listing: the watch fires
			case err != nil:
				return fmt.Errorf("zookeeper: read %s: %w", first, err)
			default:
				var id Identity
				if err := json.Unmarshal(data, &id); err != nil || id.Instance == "" {
					w.log.Warn("alert leader's node holds no identity this version reads", "node", first, "data", string(data))
					w.set(Identity{}, false)
				} else {
					w.set(id, true)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			return errors.New("zookeeper session lost")
		case <-watch:
		}
	}
}

// firstCandidate is the name of the candidate with the lowest sequence; "" when there is none.
func firstCandidate(names []string) string {
	first, best := "", uint64(0)
	for _, n := range names {
		if !strings.HasPrefix(n, "candidate-") {
			continue
		}
		if s, err := sequence(n); err == nil && (first == "" || s < best) {
			first, best = n, s
		}
	}
	return first
}
