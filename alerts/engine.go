package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/ingest"
	"github.com/haidang-ioc/ioc/internal/outbox"
	"github.com/haidang-ioc/ioc/streams"
)

// Store is what the engine needs from its storage (ClickHouseStore in production).
type Store interface {
	AppendEvents(ctx context.Context, events []Event) error
	LatestEvents(ctx context.Context, until time.Time) ([]Event, error)
	SaveSilence(ctx context.Context, s Silence) error
	Silences(ctx context.Context, now time.Time) ([]Silence, error)
	RecentReadings(ctx context.Context, metrics []string, since, until time.Time) ([]ingest.Reading, error)
	LastSeen(ctx context.Context, since, until time.Time) (sensors, cameras map[string]time.Time, err error)
}

// Notifier takes notifications; Notify must not block (the Dispatcher queues them).
type Notifier interface {
	Notify(n Notification)
}

// Notifiers sends each notification to every notifier in turn (the dispatcher and the CAP
// feed).
type Notifiers []Notifier

// Notify implements Notifier.
func (ns Notifiers) Notify(n Notification) {
	for _, x := range ns {
		x.Notify(n)
	}
}

// Live is the dashboard's live channel: it hears every alert event. AlertChanged must not
// block.
type Live interface {
	AlertChanged(e Event)
}

// Lives hands each alert event to several live channels (a process's live city and the relay
// to the other processes').
type Lives []Live

// AlertChanged implements Live.
func (ls Lives) AlertChanged(e Event) {
	for _, l := range ls {
		l.AlertChanged(e)
	}
}

// Correlator follows the alerts (incident.Manager gathers them into incidents, triage.Tracker
// keeps the citizen reports' states). The engine calls it on its own
// goroutine, and only while it leads: Lead at the start of each term (before it hears the
// restored alerts again), AlertChanged with every event, Tick with every tick.
type Correlator interface {
	// Lead restores the correlator's state for a term (0: a single engine).
	Lead(ctx context.Context, term uint64, now time.Time)
	// AlertChanged hears one alert event, made now or restored.
	AlertChanged(ev Event, now time.Time)
	// Tick judges what time makes due and returns the notifications to send.
	Tick(now time.Time) []Notification
}

// Options tune an engine.
type Options struct {
	// Tick is how often time-driven transitions are judged (for, clear_for, absence,
	// escalation); default 1s.
	Tick time.Duration
	// Queue bounds the observations waiting for the engine; default 1024 batches.
	Queue int
	// StoreQueue bounds the events waiting for the store; default 100,000.
	StoreQueue int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Lease, when set, makes the engine one of several: it evaluates, stores and notifies
	// only while it holds the lease (a standby takes over when the leader dies), and every
	// event it stores and every notification it sends passes the lease's fence for the term
	// it was made in. Nil: the only engine, always active.
	Lease Leader
}

// Leader is an election among the processes that run the alert engine (lease.Lease).
type Leader interface {
	// Run campaigns until ctx ends, running lead for each term this process wins with a
	// context that ends when the term does.
	Run(ctx context.Context, lead func(ctx context.Context, term uint64) error) error
	// Fence answers nil while this process still holds the lease of term.
	Fence(term uint64) error
}

// Engine evaluates the rules on readings and camera observations and runs the alerts'
// lifecycle. One goroutine (Run) owns all state; observations and operators' commands reach
// it through a queue. Events go to the store through an outbox, notifications to the
// Notifier, both without waiting.
type Engine struct {
	in     chan func(*core)
	store  Store
	notify Notifier
	live   Live
	corrs  []Correlator
	opts   Options
	m      *metrics
	log    *slog.Logger
	events *outbox.Outbox[Event]
	c      *core
	// rf is the rule file in force: a new term's state starts from it.
	rf *RuleFile
	// term is the lease's term this engine acts in; 0 while it stands by (with a Lease).
	// Only Run's goroutine touches it.
	term uint64
	// stopped closes when Run returns: later observations are dropped (the writer has them)
	// and commands fail with ErrStopped.
	stopped chan struct{}
}

// ErrStopped is returned by commands sent to an engine that no longer runs.
var ErrStopped = errors.New("alert engine stopped")

// ErrStandby is returned by commands sent to an engine that stands by: another process's
// engine holds the lease.
var ErrStandby = errors.New("the alert engine stands by on this process: another process leads (ask it, or wait for the takeover)")

// NewEngine builds an engine for a rule file and the catalogs. notify and live may be nil.
func NewEngine(rf *RuleFile, sensors *ingest.Catalog, cameras *streams.CameraCatalog, store Store, notify Notifier, live Live, opts Options, reg prometheus.Registerer, log *slog.Logger) *Engine {
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.Queue <= 0 {
		opts.Queue = 1024
	}
	if opts.StoreQueue <= 0 {
		opts.StoreQueue = 100_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{in: make(chan func(*core), opts.Queue), store: store, notify: notify, live: live, opts: opts, log: log, stopped: make(chan struct{}), rf: rf}
	e.m = newMetrics(reg, func() float64 { return float64(len(e.in)) })
	e.events = outbox.New("alert_events", opts.StoreQueue, e.appendEvents, e.m.outbox("alert_events"), log)
	e.c = newCore(rf, sensors, cameras, opts.Now().UTC())
	e.c.uneval = func(rule, reason string) { e.m.unevaluable.WithLabelValues(rule, reason).Inc() }
	return e
}

// Run restores the live alerts and silences from the store, warms the rate and window rules
// with the stored readings of their windows, then evaluates until ctx ends. A store that
// cannot be read at start is logged and the engine runs without its history (alerts still
// active may then be notified again), so that a ClickHouse outage never stops evaluation.
// With a Lease it does so for each term it wins, and stands by in between.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.stopped)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.events.Run(ctx, 5*time.Second)
	}()
	defer func() { <-done }()
	if e.opts.Lease == nil {
		e.lead(ctx)
		return nil
	}
	terms := make(chan leadTerm)
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		_ = e.opts.Lease.Run(ctx, func(tctx context.Context, term uint64) error {
			ended := make(chan struct{})
			select {
			case terms <- leadTerm{ctx: tctx, term: term, ended: ended}:
			case <-ctx.Done():
				return nil
			}
			<-ended
			return nil
		})
	}()
	defer func() { <-leaseDone }()
	for {
		select { // standing by: observations go, commands are refused
		case <-ctx.Done():
			return nil
		case f := <-e.in:
			f(e.c)
		case t := <-terms:
			e.log.Info("alert engine leads", "term", t.term)
			e.c = newCore(e.rf, e.c.sensors, e.c.cameras, e.opts.Now().UTC())
			e.c.uneval = func(rule, reason string) { e.m.unevaluable.WithLabelValues(rule, reason).Inc() }
			e.term = t.term
			e.lead(t.ctx)
			e.term = 0
			e.m.active.Reset()
			close(t.ended)
			e.log.Warn("alert engine stands by", "term", t.term)
		}
	}
}

// leadTerm is one term the lease gave this process: the engine acts until ctx ends, then
// closes ended.
type leadTerm struct {
	ctx   context.Context
	term  uint64
	ended chan struct{}
}

// leading tells whether the engine acts now (Run's goroutine only).
func (e *Engine) leading() bool { return e.opts.Lease == nil || e.term != 0 }

// appendEvents stores events, but those of a term this process no longer holds: another
// engine leads, and its events are the alerts' history now.
func (e *Engine) appendEvents(ctx context.Context, events []Event) error {
	if e.opts.Lease != nil {
		if events = Fenced(events, func(ev Event) uint64 { return ev.Term }, e.opts.Lease.Fence, e.log, "alert events"); len(events) == 0 {
			return nil
		}
	}
	return e.store.AppendEvents(ctx, events)
}

// Fenced keeps the rows whose term still passes fence (lease.Lease.Fence), logging how many it
// drops: rows made in a term this process no longer leads are not stored (another leader's are
// the history now).
func Fenced[T any](rows []T, term func(T) uint64, fence func(uint64) error, log *slog.Logger, what string) []T {
	kept := rows[:0:0]
	for _, r := range rows {
		if fence(term(r)) == nil {
			kept = append(kept, r)
		}
	}
	if len(kept) < len(rows) {
		log.Warn(what+" of an ended term not stored (fenced)", "rows", len(rows)-len(kept))
	}
	return kept
}

// lead restores the engine's state and evaluates until ctx ends.
func (e *Engine) lead(ctx context.Context) {
	if err := e.restore(ctx); err != nil {
		e.log.Error("alert engine runs without its stored alerts and silences: active alerts may be notified again", "err", err)
	}
	tick := time.NewTicker(e.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-e.in:
			e.apply(f)
		case <-tick.C:
			// What is queued was accepted before this tick: apply it first, so that silence
			// and clearing are judged on every reading taken in (on an accelerated clock a
			// short lag of the queue is minutes of simulated time).
			for n := len(e.in); n > 0; n-- {
				e.apply(<-e.in)
			}
			now := e.opts.Now().UTC()
			e.c.tick(now)
			for _, corr := range e.corrs {
				e.c.notes = append(e.c.notes, corr.Tick(now)...)
			}
			e.gauge()
		}
		e.drain()
	}
}

func (e *Engine) restore(ctx context.Context) error {
	now := e.opts.Now().UTC()
	for _, corr := range e.corrs { // the incidents as stored first; the alerts still open follow
		corr.Lead(ctx, e.term, now)
	}
	latest, err := e.store.LatestEvents(ctx, now)
	if err != nil {
		return fmt.Errorf("alert engine: restore alerts: %w", err)
	}
	e.c.restore(latest, now)
	for _, corr := range e.corrs { // an open alert in no incident joins or opens one
		for _, ev := range latest {
			if _, open := e.c.byID[ev.Alert.ID]; open {
				corr.AlertChanged(ev, now)
			}
		}
	}
	if e.live != nil { // the dashboard shows the restored alerts as they stand
		for _, ev := range latest {
			if _, open := e.c.byID[ev.Alert.ID]; open {
				e.live.AlertChanged(ev)
			}
		}
	}
	sils, err := e.store.Silences(ctx, now)
	if err != nil {
		return fmt.Errorf("alert engine: restore silences: %w", err)
	}
	for i := range sils {
		e.c.silences[sils[i].ID] = &sils[i]
	}
	metrics, since := e.c.windowMetrics(now)
	readings, err := e.store.RecentReadings(ctx, metrics, since, now)
	if err != nil {
		// windows start empty: rain sums rebuild as readings arrive
		e.log.Warn("alert engine: windows not warmed from stored readings", "err", err)
	}
	e.c.warm(readings)
	if sensors, cameras, err := e.store.LastSeen(ctx, now.Add(-e.c.silenceHorizon()), now); err != nil {
		// silence counts from now: a silent sensor's alert may resolve and fire again
		e.log.Warn("alert engine: last reports not restored for the absence rules", "err", err)
	} else {
		e.c.restoreSeen(sensors, cameras)
	}
	e.drain()
	e.log.Info("alert engine ready", "rules", len(e.c.rules), "live_alerts", len(e.c.alerts), "silences", len(sils), "warm_readings", len(readings))
	return nil
}

// hasTidal tells whether the sensor catalog has a tidal gauge.
func (c *core) hasTidal() bool {
	return c.sensors != nil && slices.ContainsFunc(c.sensors.Sensors, func(s ingest.Sensor) bool { return s.Tidal })
}

// windowMetrics are the metrics rate and window rules watch and the start of their longest
// window.
func (c *core) windowMetrics(now time.Time) ([]string, time.Time) {
	set := map[string]bool{}
	var longest time.Duration
	for _, cr := range c.rules {
		span := cr.Window
		if cr.Kind == KindRate {
			if (cr.Tidal == "" || cr.Tidal == TidalDetide) && c.hasTidal() {
				span = tidalHistory(cr.Per)
			} else {
				span = cr.Per
			}
		}
		if cr.Kind == KindRate || cr.Kind == KindWindow {
			set[cr.Metric] = true
			longest = max(longest, span)
		}
	}
	var out []string
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out, now.Add(-longest)
}

// drain hands the events and notifications the core made to the store, the notifier and the
// live channel.
// apply runs one queued observation or command on the engine's state, timed.
func (e *Engine) apply(f func(*core)) {
	start := time.Now()
	f(e.c)
	e.m.evalSeconds.Observe(time.Since(start).Seconds())
}

func (e *Engine) drain() {
	c := e.c
	if len(c.events) > 0 {
		for i := range c.events {
			c.events[i].Term = e.term
		}
		e.events.Add(c.events...)
		for i := range c.events {
			e.m.events.WithLabelValues(string(c.events[i].Kind)).Inc()
			if e.live != nil {
				e.live.AlertChanged(c.events[i])
			}
			for _, corr := range e.corrs { // at the event's own time: the engine made it just now
				corr.AlertChanged(c.events[i], c.events[i].Time)
			}
			ev := &c.events[i]
			e.log.Info("alert "+string(ev.Kind), "alert", ev.Alert.ID, "rule", ev.Alert.Rule, "subject", ev.Alert.Subject,
				"severity", ev.Alert.Severity, "actor", ev.Actor, "muted", ev.Alert.Muted)
		}
		c.events = c.events[:0]
	}
	if len(c.notes) > 0 {
		if e.notify != nil {
			for _, n := range c.notes {
				n.Event.Term = e.term
				e.notify.Notify(n)
			}
		}
		c.notes = c.notes[:0]
	}
}

func (e *Engine) gauge() {
	e.m.active.Reset()
	for _, l := range e.c.alerts {
		e.m.active.WithLabelValues(string(l.State), string(l.Severity)).Inc()
	}
}

// do runs f on the engine's goroutine and waits for it.
func (e *Engine) do(ctx context.Context, f func(*core)) error {
	done := make(chan struct{})
	select {
	case e.in <- func(c *core) { f(c); close(done) }:
	case <-e.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-e.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doLeading runs f like do while the engine leads; on a standby it returns ErrStandby.
func (e *Engine) doLeading(ctx context.Context, f func(*core)) error {
	standby := false
	err := e.do(ctx, func(c *core) {
		if standby = !e.leading(); !standby {
			f(c)
		}
	})
	if err == nil && standby {
		err = ErrStandby
	}
	return err
}

// send queues f for the engine's goroutine; it blocks while the queue is full, and drops f
// once the engine has stopped (at shutdown).
func (e *Engine) send(ctx context.Context, f func(*core)) error {
	select {
	case e.in <- f:
		return nil
	case <-e.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ObserveReadings queues readings and camera events (from ingest) for evaluation; it blocks
// only while the engine's queue (Options.Queue) is full. It implements ingest.Observer.
func (e *Engine) ObserveReadings(ctx context.Context, readings []ingest.Reading, events []streams.CameraEvent) error {
	if len(readings) == 0 && len(events) == 0 {
		return nil
	}
	return e.send(ctx, func(c *core) {
		if !e.leading() { // the leader judges them
			return
		}
		now := e.opts.Now().UTC()
		c.observe(readings, now)
		c.observeCameras(nil, events, now)
	})
}

// ObserveCameras queues camera statuses and events (from streams) for evaluation. It
// implements ingest.Observer.
func (e *Engine) ObserveCameras(ctx context.Context, statuses []streams.CameraStatus, events []streams.CameraEvent) error {
	if len(statuses) == 0 && len(events) == 0 {
		return nil
	}
	return e.send(ctx, func(c *core) {
		if e.leading() {
			c.observeCameras(statuses, events, e.opts.Now().UTC())
		}
	})
}

// ObserveReports queues citizen reports for triage (triage.Tracker hands the open reports
// stored): each the engine does not hold joins the live alert of its group or opens one. A
// standby drops them (the leader's tracker hands them to the leader).
func (e *Engine) ObserveReports(ctx context.Context, reports []Report) error {
	if len(reports) == 0 {
		return nil
	}
	return e.send(ctx, func(c *core) {
		if e.leading() {
			c.observeReports(reports, e.opts.Now().UTC())
		}
	})
}

// Reload puts a new rule file in force.
func (e *Engine) Reload(ctx context.Context, rf *RuleFile) error {
	return e.do(ctx, func(c *core) {
		e.rf = rf
		c.setRules(rf, e.opts.Now().UTC())
	})
}

// SetCatalogs gives the engine a new sensor or camera catalog (after a SIGHUP); nil keeps the
// one in use.
func (e *Engine) SetCatalogs(ctx context.Context, sensors *ingest.Catalog, cameras *streams.CameraCatalog) error {
	return e.do(ctx, func(c *core) {
		if sensors == nil {
			sensors = c.sensors
		}
		if cameras == nil {
			cameras = c.cameras
		}
		c.setCatalogs(sensors, cameras, e.opts.Now().UTC())
	})
}

// Filter selects alerts; empty fields select all.
type Filter struct {
	// Units keeps the alerts routed to any of these units.
	Units    []string
	States   []State
	Severity []Severity
	Category string
	District string
}

func (f *Filter) keep(a *Alert) bool {
	if len(f.Units) > 0 && !anyIn(f.Units, a.Units) {
		return false
	}
	if len(f.States) > 0 && !slices.Contains(f.States, a.State) {
		return false
	}
	if len(f.Severity) > 0 && !slices.Contains(f.Severity, a.Severity) {
		return false
	}
	return (f.Category == "" || f.Category == a.Category) && (f.District == "" || f.District == a.District)
}

// Alerts lists the live alerts (pending, firing, acknowledged) that f keeps, newest first.
func (e *Engine) Alerts(ctx context.Context, f Filter) ([]Alert, error) {
	var out []Alert
	err := e.doLeading(ctx, func(c *core) {
		for _, l := range c.sortedAlerts() {
			if f.keep(&l.Alert) {
				out = append(out, cloneAlert(&l.Alert))
			}
		}
	})
	slices.Reverse(out)
	return out, err
}

// ErrNotFound is returned for an alert that is not live (resolved or unknown).
var ErrNotFound = errors.New("alert not found or already resolved")

// Acknowledge records that actor took the alert; note is optional.
func (e *Engine) Acknowledge(ctx context.Context, id, actor, note string) (Alert, error) {
	return e.command(ctx, id, func(c *core, l *live, now time.Time) error {
		if l.State != StateFiring {
			return fmt.Errorf("%w: alert %s is %s, only a firing alert can be acknowledged", ErrInvalid, id, l.State)
		}
		l.State, l.AckedAt = StateAcknowledged, now
		c.emit(l, EventAcknowledged, actor, Text{VI: note}, now)
		return nil
	})
}

// Assign gives the alert to a person.
func (e *Engine) Assign(ctx context.Context, id, actor, assignee string) (Alert, error) {
	assignee = strings.TrimSpace(assignee)
	return e.command(ctx, id, func(c *core, l *live, now time.Time) error {
		if assignee == "" {
			return fmt.Errorf("%w: assignee is empty", ErrInvalid)
		}
		l.Assignee = assignee
		c.emit(l, EventAssigned, actor, Text{VI: assignee}, now)
		return nil
	})
}

// Comment adds a comment to the alert's history.
func (e *Engine) Comment(ctx context.Context, id, actor, text string) (Alert, error) {
	text = strings.TrimSpace(text)
	return e.command(ctx, id, func(c *core, l *live, now time.Time) error {
		if text == "" || len(text) > 4000 {
			return fmt.Errorf("%w: a comment needs 1 to 4000 bytes of text", ErrInvalid)
		}
		c.emit(l, EventCommented, actor, Text{VI: text}, now)
		return nil
	})
}

// Resolve closes the alert by hand. While its condition still holds, it opens no new alert
// unless the condition worsens.
func (e *Engine) Resolve(ctx context.Context, id, actor, reason string) (Alert, error) {
	return e.command(ctx, id, func(c *core, l *live, now time.Time) error {
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("%w: say why the alert is resolved", ErrInvalid)
		}
		c.closed[l.Fingerprint] = l.Severity
		c.resolve(l, now, actor, Text{VI: reason})
		return nil
	})
}

// Reject closes a citizen alert as unfounded or not the agencies' to handle (từ chối): the
// reason is what its reports' citizens read.
func (e *Engine) Reject(ctx context.Context, id, actor, reason string) (Alert, error) {
	return e.command(ctx, id, func(c *core, l *live, now time.Time) error {
		if l.Source != SourceCitizen {
			return fmt.Errorf("%w: alert %s is not a citizen report's: resolve it instead", ErrInvalid, id)
		}
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("%w: say why the reports are rejected", ErrInvalid)
		}
		l.Rejected = true
		c.resolve(l, now, actor, Text{VI: reason})
		return nil
	})
}

func (e *Engine) command(ctx context.Context, id string, f func(c *core, l *live, now time.Time) error) (Alert, error) {
	var out Alert
	var ferr error
	err := e.doLeading(ctx, func(c *core) {
		l := c.byID[id]
		if l == nil {
			ferr = fmt.Errorf("alert %s: %w", id, ErrNotFound)
			return
		}
		ferr = f(c, l, e.opts.Now().UTC())
		out = cloneAlert(&l.Alert)
	})
	return out, errors.Join(err, ferr)
}

// Silence validates and stores a silence and puts it in force. A silence without an id gets
// one.
func (e *Engine) Silence(ctx context.Context, s Silence) (Silence, error) {
	now := e.opts.Now().UTC()
	if s.ID == "" {
		s.ID = NewID()
	}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	s.UpdatedAt = now
	if err := s.validate(); err != nil {
		return Silence{}, err
	}
	if err := e.doLeading(ctx, func(*core) {}); err != nil {
		return Silence{}, err
	}
	if err := e.store.SaveSilence(ctx, s); err != nil {
		return Silence{}, err
	}
	return s, e.doLeading(ctx, func(c *core) { c.silences[s.ID] = &s })
}

// ExpireSilence ends a silence now.
func (e *Engine) ExpireSilence(ctx context.Context, id, actor string) error {
	var s Silence
	found := false
	if err := e.doLeading(ctx, func(c *core) {
		if cur := c.silences[id]; cur != nil {
			s, found = *cur, true
		}
	}); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("silence %s: %w", id, ErrNotFound)
	}
	now := e.opts.Now().UTC()
	s.EndsAt, s.UpdatedAt = now, now
	if s.StartsAt.After(now) {
		s.StartsAt = now.Add(-time.Second)
	}
	s.Reason += " (kết thúc bởi " + actor + ")"
	if err := e.store.SaveSilence(ctx, s); err != nil {
		return err
	}
	return e.doLeading(ctx, func(c *core) { delete(c.silences, id) })
}

// Silences lists the silences in force or to come.
func (e *Engine) Silences(ctx context.Context) ([]Silence, error) {
	var out []Silence
	err := e.doLeading(ctx, func(c *core) {
		now := e.opts.Now()
		for id, s := range c.silences {
			if !s.EndsAt.After(now) {
				delete(c.silences, id)
				continue
			}
			out = append(out, *s)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].StartsAt.Before(out[j].StartsAt) })
	return out, err
}

func cloneAlert(a *Alert) Alert {
	out := *a
	out.Units = slices.Clone(a.Units)
	out.Reports = slices.Clone(a.Reports)
	return out
}

func anyIn(want, have []string) bool {
	return slices.ContainsFunc(want, func(w string) bool { return slices.Contains(have, w) })
}

// SetNotifier sets where notifications go; call it before Run.
func (e *Engine) SetNotifier(n Notifier) { e.notify = n }

// AddCorrelator adds a correlator, heard after those added before; call it before Run.
func (e *Engine) AddCorrelator(c Correlator) { e.corrs = append(e.corrs, c) }

// Act runs f on the engine's goroutine while it leads, with the engine's clock: the
// correlator's commands and reads go through it. On a standby it returns ErrStandby.
func (e *Engine) Act(ctx context.Context, f func(now time.Time)) error {
	return e.doLeading(ctx, func(*core) { f(e.opts.Now().UTC()) })
}

// SetLive sets the dashboard's live channel; call it before Run.
func (e *Engine) SetLive(l Live) { e.live = l }

// Rules returns the rules in force, in file order.
func (e *Engine) Rules(ctx context.Context) ([]Rule, error) {
	var out []Rule
	err := e.do(ctx, func(c *core) {
		for _, cr := range c.rules {
			out = append(out, *cr.Rule)
		}
	})
	return out, err
}
