package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/config"
	"github.com/haidang-ioc/ioc/internal/httpsend"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// Receiver delivers notifications over one channel (webhook, email, gateway).
type Receiver interface {
	// Send delivers one message holding the notifications (one routing group); an error
	// that wraps ErrPermanent is not retried.
	Send(ctx context.Context, ns []Notification) error
}

// ErrPermanent marks a delivery failure that retrying cannot mend (a 4xx answer, a refused
// recipient): httpsend's, which the HTTP receivers' answers wrap.
var ErrPermanent = httpsend.ErrPermanent

// AttemptLog stores delivery attempts (ClickHouseStore in production).
type AttemptLog interface {
	AppendAttempts(ctx context.Context, ds []Attempt) error
}

// Dispatcher sends notifications to the receivers of their units. Each receiver has its own
// bounded queue and goroutine, so a receiver that is down, slow or retrying holds up nobody
// else, and Notify never blocks.
type Dispatcher struct {
	workers  []*worker
	attempts *outbox.Outbox[Attempt] // the delivery log, written to alert_notifications
	log      *slog.Logger
	m        *metrics
	// fence, when set, refuses the notifications of a term this process no longer leads
	// (Options.Lease's Fence).
	fence func(term uint64) error
}

// SetFence makes every delivery attempt pass fence for its notifications' term first: a
// process whose alert lease has ended sends nothing more. Call it before Run.
func (d *Dispatcher) SetFence(fence func(term uint64) error) { d.fence = fence }

type worker struct {
	name, typ string
	units     []string
	recv      Receiver
	queue     chan Notification
	groupWait time.Duration
	timeout   time.Duration
	retry     config.Retry
	d         *Dispatcher

	mu    sync.Mutex
	state ChannelState // the channel's health, for the operators
}

// ChannelState is how one receiver's deliveries have gone lately: the health page shows the
// units whose channel keeps failing.
type ChannelState struct {
	Receiver string   `json:"receiver"`
	Type     string   `json:"type"`
	Units    []string `json:"units"`
	// LastStatus is the last attempt's: ok, retry, failed or dropped ("" before any).
	LastStatus string    `json:"last_status,omitempty"`
	LastAt     time.Time `json:"last_at,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	LastOK     time.Time `json:"last_ok,omitzero"`
	// Failures counts the attempts that failed since the last delivered one.
	Failures int `json:"failures"`
	// Failing: the last attempts failed (FailingAfter of them, or a message given up or
	// dropped).
	Failing bool `json:"failing"`
}

// FailingAfter is how many failed attempts in a row mark a channel failing.
const FailingAfter = 3

// Channels returns every receiver's recent delivery state, in configuration order.
func (d *Dispatcher) Channels() []ChannelState {
	out := make([]ChannelState, len(d.workers))
	for i, w := range d.workers {
		w.mu.Lock()
		out[i] = w.state
		w.mu.Unlock()
		out[i].Receiver, out[i].Type, out[i].Units = w.name, w.typ, slices.Clone(w.units)
	}
	return out
}

// note keeps an attempt's outcome in the channel's state.
func (w *worker) note(status, msg string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := &w.state
	st.LastStatus, st.LastAt, st.LastError = status, at, msg
	if status == "ok" {
		st.Failures, st.Failing, st.LastOK = 0, false, at
		return
	}
	st.Failures++
	st.Failing = st.Failures >= FailingAfter || status == "failed" || status == "dropped"
}

// CheckReceivers reports every problem of the configured receivers that config alone cannot
// see: unknown units, unset secret variables, bad templates.
func CheckReceivers(cfg config.Alerts, getenv func(string) string) config.Problems {
	_, probs := buildReceivers(cfg, getenv)
	return probs
}

// buildReceivers builds each configured receiver, or reports why it cannot.
func buildReceivers(cfg config.Alerts, getenv func(string) string) ([]Receiver, config.Problems) {
	var probs config.Problems
	out := make([]Receiver, len(cfg.Receivers))
	for i, rc := range cfg.Receivers {
		path := fmt.Sprintf("alerts.receivers[%d]", i)
		for k, u := range rc.Units {
			if _, ok := config.Units[u]; !ok {
				probs.Add(fmt.Sprintf("%s.units[%d]", path, k), "unknown unit %q (known: %s)", u, config.SortedKeys(config.Units))
			}
		}
		recv, err := newReceiver(rc, getenv)
		if err != nil {
			probs.Add(path, "%v", err)
		}
		out[i] = recv
	}
	return out, probs
}

// NewDispatcher builds the receivers of config; it registers no metric of its own (NewEngine
// registered those the dispatcher counts with).
func NewDispatcher(cfg config.Alerts, e *Engine, dlog AttemptLog, getenv func(string) string, logger *slog.Logger) (*Dispatcher, error) {
	recvs, probs := buildReceivers(cfg, getenv)
	if len(probs) > 0 {
		return nil, probs
	}
	d := &Dispatcher{log: logger, m: e.m}
	d.attempts = outbox.New("alert_notifications", 100_000, dlog.AppendAttempts, e.m.outbox("alert_notifications"), logger)
	for i, rc := range cfg.Receivers {
		queue := rc.Queue
		if queue == 0 {
			queue = 1000
		}
		w := &worker{name: rc.Name, typ: rc.Type, units: rc.Units, recv: recvs[i], groupWait: rc.GroupWait,
			timeout: rc.Timeout, retry: cfg.Retry, d: d, queue: make(chan Notification, queue)}
		if w.timeout == 0 {
			w.timeout = 10 * time.Second
		}
		for _, s := range []string{"ok", "retry", "failed"} {
			e.m.notifications.WithLabelValues(rc.Name, s)
		}
		e.m.notifyDropped.WithLabelValues(rc.Name)
		d.workers = append(d.workers, w)
	}
	return d, nil
}

// receiverTypes are the notifiers a receiver's type may name, each with how to build it from
// its config and secret: the one list of them (config asks CheckReceivers whether a type is
// known).
var receiverTypes = map[string]func(rc config.Receiver, secret string, getenv func(string) string) (Receiver, error){
	"webhook": func(rc config.Receiver, secret string, _ func(string) string) (Receiver, error) {
		return newWebhook(rc, secret), nil
	},
	"gateway": func(rc config.Receiver, secret string, _ func(string) string) (Receiver, error) {
		return newGateway(rc, secret)
	},
	"email": func(rc config.Receiver, _ string, getenv func(string) string) (Receiver, error) {
		password, err := config.SecretFromEnv(getenv, "password_env", rc.PasswordEnv)
		if err != nil {
			return nil, err
		}
		return newEmail(rc, password), nil
	},
}

func newReceiver(rc config.Receiver, getenv func(string) string) (Receiver, error) {
	build, ok := receiverTypes[rc.Type]
	if !ok {
		return nil, fmt.Errorf("type: want one of %s, got %q", config.SortedKeys(receiverTypes), rc.Type)
	}
	secret, err := config.SecretFromEnv(getenv, "secret_env", rc.SecretEnv)
	if err != nil {
		return nil, err
	}
	return build(rc, secret, getenv)
}

// Notify queues n for every receiver of its units; a full queue drops it, counted and logged.
func (d *Dispatcher) Notify(n Notification) {
	for _, w := range d.workers {
		if !anyIn(w.units, n.Units) {
			continue
		}
		select {
		case w.queue <- n:
			d.m.notifyQueue.WithLabelValues(w.name).Set(float64(len(w.queue)))
		default:
			d.m.notifyDropped.WithLabelValues(w.name).Inc()
			d.record(w, []Notification{n}, 0, "dropped", errors.New("queue full"), 0)
		}
	}
}

// Run delivers until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.attempts.Run(ctx, 5*time.Second)
	}()
	wg.Wait()
	return nil
}

// run takes notifications from the queue, gathers each routing group for groupWait, and
// delivers.
func (w *worker) run(ctx context.Context) {
	groups := map[string][]Notification{}
	var order []string
	var deadline <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-w.queue:
			w.d.m.notifyQueue.WithLabelValues(w.name).Set(float64(len(w.queue)))
			if w.groupWait == 0 {
				w.deliver(ctx, []Notification{n})
				continue
			}
			if _, ok := groups[n.Group]; !ok {
				order = append(order, n.Group)
			}
			groups[n.Group] = append(groups[n.Group], n)
			if deadline == nil {
				deadline = time.After(w.groupWait)
			}
		case <-deadline:
			deadline = nil
			for _, g := range order {
				w.deliver(ctx, groups[g])
			}
			clear(groups)
			order = order[:0]
		}
	}
}

// deliver sends one message, retrying with backoff up to the configured attempts.
func (w *worker) deliver(ctx context.Context, ns []Notification) {
	bo := backoff.Backoff{Initial: w.retry.Initial, Max: w.retry.Max}
	for attempt := 1; ; attempt++ {
		if err := w.fenced(ns); err != nil {
			w.d.m.notifications.WithLabelValues(w.name, "fenced").Inc()
			w.d.log.Warn("notification not sent: its term has ended on this process", "receiver", w.name, "alerts", len(ns), "err", err)
			return
		}
		actx, cancel := context.WithTimeout(ctx, w.timeout)
		start := time.Now()
		err := w.recv.Send(actx, ns)
		took := time.Since(start)
		cancel()
		w.d.m.notifySeconds.WithLabelValues(w.name).Observe(took.Seconds())
		switch {
		case err == nil:
			w.d.m.notifications.WithLabelValues(w.name, "ok").Inc()
			w.d.record(w, ns, attempt, "ok", nil, took)
			return
		case errors.Is(err, ErrPermanent) || attempt >= w.retry.Attempts || ctx.Err() != nil:
			w.d.m.notifications.WithLabelValues(w.name, "failed").Inc()
			w.d.record(w, ns, attempt, "failed", err, took)
			w.d.log.Error("notification not delivered", "receiver", w.name, "alerts", len(ns), "attempts", attempt, "err", err)
			return
		}
		w.d.m.notifications.WithLabelValues(w.name, "retry").Inc()
		w.d.record(w, ns, attempt, "retry", err, took)
		if !bo.Wait(ctx) {
			return
		}
	}
}

// fenced returns the fence's refusal of any of ns; nil when they may go.
func (w *worker) fenced(ns []Notification) error {
	if w.d.fence == nil {
		return nil
	}
	for _, n := range ns {
		if err := w.d.fence(n.Event.Term); err != nil {
			return err
		}
	}
	return nil
}

// record logs one attempt for each notification of a message.
func (d *Dispatcher) record(w *worker, ns []Notification, attempt int, status string, err error, took time.Duration) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	now := time.Now().UTC()
	w.note(status, msg, now)
	rows := make([]Attempt, 0, len(ns))
	for _, n := range ns {
		unit := ""
		for _, u := range w.units {
			if slices.Contains(n.Units, u) {
				unit = u
				break
			}
		}
		rows = append(rows, Attempt{Time: now, AlertID: n.Event.Alert.ID, Seq: n.Event.Alert.Seq, Kind: n.Event.Kind,
			Receiver: w.name, Type: w.typ, Unit: unit, Number: attempt, Status: status, Error: msg, Duration: took})
	}
	d.attempts.Add(rows...)
}

// IdempotencyKey names a message: the same notifications give the same key, so a receiver
// can drop a message it already has (after a retry whose answer was lost).
func IdempotencyKey(ns []Notification) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprintf("%s-%d", n.Event.Alert.ID, n.Event.Alert.Seq)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return fingerprint(strings.Join(parts, ","), "", "")
}
