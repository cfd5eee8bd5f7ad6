// Package notify delivers the live city's changes as NGSI-LD: to each subscription's endpoint
// a notification of the entities whose watched attributes changed (or, with timeInterval, of
// every matching entity each interval), and to each configured broker the changed entities
// upserted in batches (entityOperations/upsert).
//
// Each target keeps its changes as a set of pending entities keyed by id, the newest version
// of an entity replacing the older one: its queue is bounded by the city's entities, never
// drops a change for lack of room, and a target that is down receives the state of each
// entity when it comes back, not every step it missed. Deliveries are at least once: a
// notification is retried with backoff (a subscription's a bounded number of times, a push's
// until it is delivered), each attempt written to the delivery log, and a process that starts
// (or takes over) sends each target what changed since its last delivered notification in
// the log. A subscription's first notification carries every entity it matches.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/dashboard/ngsild"
	"github.com/haidang-ioc/ioc/internal/backoff"
	"github.com/haidang-ioc/ioc/internal/httpsend"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// Kinds of target.
const (
	KindSubscription = "subscription"
	KindPush         = "push"
)

// UpsertPath is where a broker takes batches of entities.
const UpsertPath = "/ngsi-ld/v1/entityOperations/upsert"

// Target is one destination of changes: a subscription or a broker pushed to.
type Target struct {
	// ID is the subscription's URN, or "push:" and the push's name.
	ID    string
	Kind  string
	Owner string
	// Version changes when the target is redefined (its state then starts again).
	Version string
	Filter  *ngsild.Filter
	// Scope is what the owner may read.
	Scope ngsild.Scope
	// URL is the subscription's endpoint, or the broker's upsert URL.
	URL string
	// LD sends application/ld+json (the @context in the body) instead of application/json.
	LD      bool
	Headers map[string]string
	// Throttle is the least time between two deliveries; Interval, when set, sends every
	// matching entity that often instead of the changes.
	Throttle, Interval time.Duration
	// Expires, when set, ends the deliveries; Paused holds them.
	Expires time.Time
	Paused  bool
	// Batch is the most entities one delivery carries.
	Batch int
}

// Options are what a Notifier hears, whom it delivers to and where it logs.
type Options struct {
	// Entities is the live city as NGSI-LD entities of types (none: all), read each tick it
	// changed.
	Entities func(types ...string) []ngsild.Entity
	// Version moves whenever the live city changes (nil: read it every tick).
	Version func() uint64
	// Targets reads the targets (the stored subscriptions and the configured pushes).
	Targets func(context.Context) ([]Target, error)
	// Through reads, from the delivery log, up to when each target's changes had all been
	// delivered (analytics.NGSILDStore.Through): where a target is taken up.
	Through func(ctx context.Context, targets []string) (map[string]time.Time, error)
	// Log writes delivery attempts to the delivery log (one row an attempt; a delivered
	// one's Through says up to when every change of its target had been delivered).
	Log func(context.Context, []analytics.DeliveryRow) error
	// Leads tells whether this process delivers (the one leading the alert engine); nil: it
	// does.
	Leads func() bool
	// ContextURL is the @context notifications name; PushContext the one pushed entities
	// carry in their body (inline, so that a broker needs no link to this server).
	ContextURL  string
	PushContext any
	// Attempts bounds the attempts of one notification to a subscription (a push retries
	// until delivered).
	Attempts int
	// Tick is how often the city is compared with what was sent when it changed (100 ms);
	// Reload how often the targets are read again (5 s; Nudge reads them at once).
	Tick, Reload time.Duration
	// Timeout bounds one delivery's request.
	Timeout time.Duration
	// Retry paces the attempts of one delivery.
	Retry  backoff.Backoff
	Client *http.Client
	// Clock is the province's clock, the one the entities' times follow (a simulated
	// province's may run faster than real time): a delivered row's Through is on it. The
	// throttling, intervals, expiry and the log's times follow the wall clock.
	Clock      func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Notifier delivers the changes to every target.
type Notifier struct {
	o   Options
	log *slog.Logger
	m   metrics
	// deliveries is the delivery log's outbox.
	deliveries *outbox.Outbox[analytics.DeliveryRow]
	nudge      chan struct{}

	wg      sync.WaitGroup
	workers map[string]*worker // by target id; touched only by Run's goroutine
}

type metrics struct {
	attempts *prometheus.CounterVec // kind, status
	entities *prometheus.CounterVec // kind: entities delivered
	dropped  *prometheus.CounterVec // kind: entities given up
	pending  prometheus.Gauge
	targets  *prometheus.GaugeVec // kind
	reloads  *prometheus.CounterVec
}

// New builds a notifier; Run runs it.
func New(o Options) *Notifier {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Reload <= 0 {
		o.Reload = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Retry.Initial <= 0 {
		o.Retry = backoff.Backoff{Initial: time.Second, Max: time.Minute}
	}
	if o.Client == nil { // a notification follows no redirect: its endpoint is the one allowed
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	n := &Notifier{o: o, log: o.Logger, nudge: make(chan struct{}, 1), workers: map[string]*worker{}}
	n.m = metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ngsild_deliveries_total",
			Help: "NGSI-LD notification and push attempts, by kind (subscription, push) and status (ok, retry, failed)."}, []string{"kind", "status"}),
		entities: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ngsild_delivered_entities_total",
			Help: "Entities delivered in NGSI-LD notifications and pushes, by kind."}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ngsild_dropped_entities_total",
			Help: "Entities of NGSI-LD notifications given up (refused by the endpoint, or out of attempts), by kind."}, []string{"kind"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_ngsild_pending_entities",
			Help: "Changed entities waiting to be delivered, over every target."}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ioc_ngsild_targets",
			Help: "NGSI-LD subscriptions and pushes delivered by this process, by kind."}, []string{"kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_ngsild_target_reloads_total",
			Help: "Reads of the NGSI-LD subscriptions, by result (ok, error)."}, []string{"result"}),
	}
	for _, k := range []string{KindSubscription, KindPush} {
		for _, s := range []string{"ok", "retry", "failed"} {
			n.m.attempts.WithLabelValues(k, s)
		}
		n.m.entities.WithLabelValues(k)
		n.m.dropped.WithLabelValues(k)
		n.m.targets.WithLabelValues(k)
	}
	n.m.reloads.WithLabelValues("ok")
	n.m.reloads.WithLabelValues("error")
	if o.Registerer != nil {
		o.Registerer.MustRegister(n.m.attempts, n.m.entities, n.m.dropped, n.m.pending, n.m.targets, n.m.reloads)
	}
	n.deliveries = outbox.New("ngsild_notifications", 100_000, o.Log,
		outbox.NewMetrics(o.Registerer, "ioc_ngsild_delivery_log", "ioc_ngsild_delivery_log_rows_written_total", "NGSI-LD delivery log rows"), o.Logger)
	return n
}

// Nudge has the targets read again at once (a subscription was made, changed or deleted).
func (n *Notifier) Nudge() {
	select {
	case n.nudge <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then stops every target's deliveries and writes the log.
func (n *Notifier) Run(ctx context.Context) error {
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	logDone := make(chan struct{})
	go func() { defer close(logDone); n.deliveries.Run(logCtx, 5*time.Second) }()
	defer func() {
		n.stop(nil)
		n.wg.Wait()
		stopLog()
		<-logDone
	}()
	tick := time.NewTicker(n.o.Tick)
	defer tick.Stop()
	var lastReload time.Time
	reload := true
	var seen uint64 // the city's version last observed
	observed := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-n.nudge:
			reload = true
		}
		if n.o.Leads != nil && !n.o.Leads() {
			n.stop(nil) // another process delivers; this one takes up from the log if it leads again
			reload = true
			continue
		}
		now := time.Now()
		if reload || now.Sub(lastReload) >= n.o.Reload {
			started, err := n.reload(ctx)
			if err != nil {
				n.m.reloads.WithLabelValues("error").Inc()
				n.log.Warn("ngsi-ld targets not read; the ones known stay", "err", err)
			} else {
				n.m.reloads.WithLabelValues("ok").Inc()
				reload, lastReload = false, now
			}
			observed = observed && !started
		}
		if len(n.workers) == 0 {
			n.m.pending.Set(0)
			continue
		}
		var version uint64
		if n.o.Version != nil {
			version = n.o.Version()
		}
		if observed && version == seen && n.o.Version != nil && !n.periodicDue(now) {
			continue // nothing changed that a target could be due
		}
		seen, observed = version, true
		n.observe(now)
	}
}

// observe hands every worker the city as it is now; each entity's attributes are summed up
// once, whatever the number of targets that match it.
func (n *Notifier) observe(now time.Time) {
	entities := n.o.Entities(n.types()...)
	prints := make([]ngsild.Prints, len(entities))
	summed := make([]bool, len(entities))
	printOf := func(i int) ngsild.Prints {
		if !summed[i] {
			prints[i], summed[i] = ngsild.PrintsOf(&entities[i]), true
		}
		return prints[i]
	}
	pending := 0
	province := n.o.Clock()
	for _, w := range n.workers {
		pending += w.observe(entities, printOf, now, province)
	}
	n.m.pending.Set(float64(pending))
}

// types are the entity types some target may be due (none: all).
func (n *Notifier) types() []string {
	var out []string
	for _, w := range n.workers {
		ts := w.t.Filter.Types()
		if ts == nil {
			ts = w.t.Scope.Types
		}
		if ts == nil {
			return nil
		}
		for _, t := range ts {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// periodicDue tells whether a target sending every interval is due at now.
func (n *Notifier) periodicDue(now time.Time) bool {
	for _, w := range n.workers {
		if w.t.Interval > 0 && !now.Before(w.nextDue) {
			return true
		}
	}
	return false
}

// reload reads the targets, starting those new or redefined and stopping those gone; it
// tells whether it started any.
func (n *Notifier) reload(ctx context.Context) (bool, error) {
	targets, err := n.o.Targets(ctx)
	if err != nil {
		return false, err
	}
	keep := map[string]bool{}
	var fresh []Target
	for _, t := range targets {
		keep[t.ID] = true
		if w, ok := n.workers[t.ID]; !ok || w.t.Version != t.Version {
			fresh = append(fresh, t)
		}
	}
	n.stop(func(id string) bool { return !keep[id] })
	if len(fresh) > 0 {
		ids := make([]string, len(fresh))
		for i, t := range fresh {
			ids[i] = t.ID
		}
		since, err := n.o.Through(ctx, ids)
		if err != nil {
			return false, fmt.Errorf("the delivery log: %w", err)
		}
		for _, t := range fresh {
			if w, ok := n.workers[t.ID]; ok { // redefined: its state starts again
				w.cancel()
				delete(n.workers, t.ID)
			}
			n.start(ctx, t, since[t.ID])
		}
	}
	counts := map[string]int{KindSubscription: 0, KindPush: 0}
	for _, w := range n.workers {
		counts[w.t.Kind]++
	}
	for k, c := range counts {
		n.m.targets.WithLabelValues(k).Set(float64(c))
	}
	return len(fresh) > 0, nil
}

// stop ends the workers whose id drop says (nil: all).
func (n *Notifier) stop(drop func(string) bool) {
	for id, w := range n.workers {
		if drop == nil || drop(id) {
			w.cancel()
			delete(n.workers, id)
		}
	}
}

// catchUp is how far before a target's last delivery a process that takes it up looks for
// changes: readings stamped by their device may arrive after a notification was sent.
const catchUp = time.Minute

func (n *Notifier) start(ctx context.Context, t Target, through time.Time) {
	wctx, cancel := context.WithCancel(ctx)
	w := &worker{n: n, t: t, cancel: cancel, pending: map[string]change{}, wake: make(chan struct{}, 1)}
	if !through.IsZero() {
		w.since = through.Add(-catchUp)
	}
	n.workers[t.ID] = w
	n.wg.Add(1)
	go func() { defer n.wg.Done(); w.run(wctx) }()
}

// worker delivers one target's changes from its own goroutine: a target that is slow or down
// holds up no other.
type worker struct {
	n      *Notifier
	t      Target
	cancel context.CancelFunc
	wake   chan struct{}

	// Touched only by the notifier's goroutine:
	seen    map[string]*sighting // each entity matched lately, by id
	tick    uint64               // observations so far
	started bool
	since   time.Time // at the first observation, the changes after it are due (zero: all)
	nextDue time.Time // the next periodic notification (Interval)

	mu       sync.Mutex
	pending  map[string]change // by entity id
	observed time.Time         // the last observation's
}

// change is an entity waiting to be delivered, and when it was modified.
type change struct {
	entity   ngsild.Entity
	modified time.Time
}

// sighting is an entity as a target last saw it matching: its fingerprint, at which tick.
type sighting struct {
	fp   uint64
	tick uint64
}

// observe compares the city with what the target last saw at now (on the province's clock,
// province), queueing what is due; printOf sums up the i-th entity's attributes. It returns
// how many entities wait.
func (w *worker) observe(entities []ngsild.Entity, printOf func(int) ngsild.Prints, now, province time.Time) int {
	t := &w.t
	expired := !t.Expires.IsZero() && !now.Before(t.Expires)
	periodic := t.Interval > 0 && !now.Before(w.nextDue)
	if w.seen == nil {
		w.seen = map[string]*sighting{}
	}
	w.tick++
	var due []ngsild.Entity
	matched := 0
	for i := range entities {
		e := &entities[i]
		if !t.Scope.Allows(e) || !t.Filter.Matches(e) {
			continue
		}
		matched++
		fp := t.Filter.Fingerprint(printOf(i))
		s := w.seen[e.ID]
		// known: it matched at the last observation too (one that comes back to match is new)
		known := s != nil && s.tick == w.tick-1
		if s == nil {
			s = &sighting{}
			w.seen[e.ID] = s
		}
		old := s.fp
		s.fp, s.tick = fp, w.tick
		switch {
		case t.Paused || expired:
		case t.Interval > 0:
			if periodic {
				due = append(due, *e)
			}
		case !w.started:
			if w.since.IsZero() || ngsild.Modified(e).After(w.since) {
				due = append(due, *e)
			}
		case !known || old != fp:
			due = append(due, *e)
		}
	}
	w.started = true
	if len(w.seen) > 2*matched+64 { // entities gone or no longer matching: forget them
		for id, s := range w.seen {
			if s.tick != w.tick {
				delete(w.seen, id)
			}
		}
	}
	if periodic {
		w.nextDue = now.Add(t.Interval)
	}
	w.mu.Lock()
	for _, e := range due {
		w.pending[e.ID] = change{entity: e, modified: ngsild.Modified(&e)}
	}
	w.observed = province
	waiting := len(w.pending)
	w.mu.Unlock()
	if len(due) > 0 {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return waiting
}

// take removes up to max pending entities, and says through when every change is delivered
// once they are: the oldest change still pending, else the last observation.
func (w *worker) take(max int) ([]ngsild.Entity, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ngsild.Entity, 0, min(max, len(w.pending)))
	for id, c := range w.pending {
		if len(out) == max {
			break
		}
		out = append(out, c.entity)
		delete(w.pending, id)
	}
	through := w.observed
	for _, c := range w.pending {
		if !c.modified.IsZero() && c.modified.Before(through) {
			through = c.modified
		}
	}
	return out, through
}

func (w *worker) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		for {
			if wait := w.t.Throttle - time.Since(last); !last.IsZero() && wait > 0 {
				if !backoff.Sleep(ctx, wait) {
					return
				}
			}
			batch, through := w.take(w.t.Batch)
			if len(batch) == 0 {
				break
			}
			w.deliver(ctx, batch, through)
			if ctx.Err() != nil {
				return
			}
			last = time.Now()
		}
	}
}

// deliver sends batch until it is delivered, refused, out of attempts (a subscription's) or
// ctx ends; a delivered one's log row says through when every change was delivered.
func (w *worker) deliver(ctx context.Context, batch []ngsild.Entity, through time.Time) {
	id, body, err := w.body(batch)
	if err != nil { // the entities always encode; counted and logged were it ever otherwise
		w.n.log.Error("ngsi-ld notification not encoded", "target", w.t.ID, "err", err)
		w.n.m.dropped.WithLabelValues(w.t.Kind).Add(float64(len(batch)))
		return
	}
	bo := w.n.o.Retry
	for attempt := 1; ; attempt++ {
		code, err := w.post(ctx, body)
		d := analytics.DeliveryRow{Time: time.Now(), Target: w.t.ID, Owner: w.t.Owner, Notification: id,
			Entities: len(batch), Attempt: attempt, Code: code, Status: "ok"}
		permanent := errors.Is(err, httpsend.ErrPermanent)
		final := err == nil || permanent || (w.t.Kind == KindSubscription && attempt >= w.n.o.Attempts)
		if err != nil {
			d.Error, d.Status = err.Error(), "retry"
			if final {
				d.Status = "failed"
			}
		}
		if err == nil {
			d.Through = through
		}
		w.n.deliveries.Add(d)
		w.n.m.attempts.WithLabelValues(w.t.Kind, d.Status).Inc()
		switch {
		case err == nil:
			w.n.m.entities.WithLabelValues(w.t.Kind).Add(float64(len(batch)))
			return
		case final:
			w.n.m.dropped.WithLabelValues(w.t.Kind).Add(float64(len(batch)))
			w.n.log.Warn("ngsi-ld delivery given up", "target", w.t.ID, "kind", w.t.Kind, "entities", len(batch), "attempts", attempt, "err", err)
			return
		}
		if !bo.Wait(ctx) {
			return
		}
	}
}

// body is the delivery of batch: a subscription's notification, or a push's array of
// entities, each with its @context.
func (w *worker) body(batch []ngsild.Entity) (string, []byte, error) {
	t := &w.t
	if t.Kind == KindPush {
		out := make([]map[string]any, len(batch))
		for i := range batch {
			out[i] = ngsild.Render(&batch[i], nil, false, "")
			out[i]["@context"] = w.n.o.PushContext
		}
		body, err := json.Marshal(out)
		return fmt.Sprintf("upsert:%d", time.Now().UnixNano()), body, err
	}
	data := make([]map[string]any, len(batch))
	for i := range batch {
		data[i] = ngsild.Render(&batch[i], t.Filter.Attrs, t.Filter.KeyValues, "")
	}
	ctxURL := ""
	if t.LD {
		ctxURL = w.n.o.ContextURL
	}
	note := ngsild.NewNotification(t.ID, time.Now(), data, ctxURL)
	body, err := json.Marshal(note)
	return note.ID, body, err
}

// post sends body to the target, returning the answer's status.
func (w *worker) post(ctx context.Context, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.n.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", httpsend.ErrPermanent, httpsend.Scrub(err))
	}
	for k, v := range w.t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "haidang-ioc")
	if w.t.LD || w.t.Kind == KindPush {
		req.Header.Set("Content-Type", "application/ld+json")
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Link", ngsild.Link(w.n.o.ContextURL))
	}
	resp, err := w.n.o.Client.Do(req)
	if err != nil {
		return 0, httpsend.Scrub(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusMultiStatus { // an upsert some of whose entities the broker refused
		return resp.StatusCode, fmt.Errorf("%s: %w", refusedEntities(answer), httpsend.ErrPermanent)
	}
	return resp.StatusCode, httpsend.StatusError(w.t.Kind, resp)
}

// refusedEntities says which entities a 207 answer refused, and why.
func refusedEntities(answer []byte) string {
	var r struct {
		Errors []struct {
			EntityID string `json:"entityId"`
			Error    struct {
				Title  string `json:"title"`
				Detail string `json:"detail"`
			} `json:"error"`
		} `json:"errors"`
	}
	if json.Unmarshal(answer, &r) != nil || len(r.Errors) == 0 {
		return "answered 207 Multi-Status"
	}
	e := r.Errors[0].Error
	return strconv.Itoa(len(r.Errors)) + " entities refused, " + r.Errors[0].EntityID + ": " + e.Title + " " + e.Detail
}
