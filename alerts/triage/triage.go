// Package triage routes citizen reports through the alert engine and keeps each report's state
// in step with the alert that routes it. The intake stores a report and goes on; the Tracker
// polls the store for the open reports and hands them to the engine, which routes those it
// does not hold (which groups
// a category's reports within 50 m and 2 h into one alert, routed by the routing tree), and,
// as one of the engine's correlators, writes every report's new state, units, deadline and
// answer when its alert changes: taken (acknowledged) is in progress, resolved is answered
// with the resolving reason, rejected is refused with it. A report stored while no engine
// leads waits in the store for the next poll; nothing accepted is lost.
package triage

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/ingest/citizen"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// Store keeps the reports' events (analytics.CitizenStore).
type Store interface {
	AppendCitizenEvents(ctx context.Context, evs []analytics.CitizenEvent) error
	// OpenReports lists the reports received since since that are still open (received or
	// in progress), those never routed first.
	OpenReports(ctx context.Context, since time.Time) ([]citizen.Report, error)
}

// Engine takes the reports to route (alerts.Engine).
type Engine interface {
	ObserveReports(ctx context.Context, reports []alerts.Report) error
}

// Options tune a Tracker.
type Options struct {
	// Poll is how often the store is asked for reports to route; default 5s (a report
	// received by this process is routed at once: Nudge).
	Poll time.Duration
	// Now is the clock the reports are received by (a simulation's); default time.Now.
	Now func() time.Time
	// Fence, with several alert engines, answers nil while this process still holds the
	// lease of a term (lease.Lease.Fence): rows of an ended term are not stored.
	Fence func(term uint64) error
	// StoreQueue bounds the rows waiting for the store; default 100,000.
	StoreQueue int
}

// Tracker routes the stored reports through the engine and writes their changes.
type Tracker struct {
	store  Store
	engine Engine
	opts   Options
	log    *slog.Logger
	rows   *outbox.Outbox[row]
	nudge  chan struct{}
	polls  *prometheus.CounterVec
	routed prometheus.Counter
	// term is the engine's term (Lead); only the engine's goroutine touches it.
	term uint64
}

// row is a report's change and the term it was made in.
type row struct {
	ev   analytics.CitizenEvent
	term uint64
}

// New builds a tracker; Run runs it. reg may be nil.
func New(store Store, engine Engine, opts Options, reg prometheus.Registerer, log *slog.Logger) *Tracker {
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StoreQueue <= 0 {
		opts.StoreQueue = 100_000
	}
	t := &Tracker{store: store, engine: engine, opts: opts, log: log, nudge: make(chan struct{}, 1),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_citizen_triage_polls_total",
			Help: "Polls of the store for citizen reports to route, by result (ok, error)."}, []string{"result"}),
		routed: prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_citizen_triage_handed_total",
			Help: "Citizen reports handed to the alert engine to route (again, until their routing is stored)."}),
	}
	if reg != nil {
		reg.MustRegister(t.polls, t.routed)
	}
	m := outbox.NewMetrics(reg, "ioc_citizen_triage", "ioc_citizen_triage_written_total", "Citizen report changes")
	t.rows = outbox.New("citizen_report_events", opts.StoreQueue, t.write, m, log)
	return t
}

// Run polls and writes until ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.rows.Run(ctx, 5*time.Second)
	}()
	defer func() { <-done }()
	tick := time.NewTicker(t.opts.Poll)
	defer tick.Stop()
	for {
		t.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-t.nudge:
		}
	}
}

// Nudge asks for a poll now: this process's intake has just stored a report.
func (t *Tracker) Nudge() {
	select {
	case t.nudge <- struct{}{}:
	default:
	}
}

// poll hands the engine the open reports: it routes those it does not hold.
func (t *Tracker) poll(ctx context.Context) {
	list, err := t.store.OpenReports(ctx, t.opts.Now().Add(-alerts.TriageWindow))
	if err != nil {
		if ctx.Err() == nil {
			t.polls.WithLabelValues("error").Inc()
			t.log.Warn("citizen reports to route not read; next poll tries again", "err", err)
		}
		return
	}
	t.polls.WithLabelValues("ok").Inc()
	if len(list) == 0 {
		return
	}
	reports := make([]alerts.Report, len(list))
	for i := range list {
		reports[i] = alerts.ReportOf(&list[i])
	}
	if err := t.engine.ObserveReports(ctx, reports); err == nil {
		t.routed.Add(float64(len(reports)))
	}
}

func (t *Tracker) write(ctx context.Context, rows []row) error {
	if t.opts.Fence != nil {
		if rows = alerts.Fenced(rows, func(r row) uint64 { return r.term }, t.opts.Fence, t.log, "citizen report changes"); len(rows) == 0 {
			return nil
		}
	}
	evs := make([]analytics.CitizenEvent, len(rows))
	for i := range rows {
		evs[i] = rows[i].ev
	}
	return t.store.AppendCitizenEvents(ctx, evs)
}

// Lead starts a term: the reports' states are the alerts' own, nothing to restore (implements
// alerts.Correlator).
func (t *Tracker) Lead(_ context.Context, term uint64, _ time.Time) { t.term = term }

// AlertChanged writes the changes a citizen alert's event makes to its reports (implements
// alerts.Correlator).
func (t *Tracker) AlertChanged(ev alerts.Event, _ time.Time) {
	for _, e := range Changes(ev) {
		t.rows.Add(row{ev: e, term: t.term})
	}
}

// Tick implements alerts.Correlator: the deadlines are the engine's.
func (t *Tracker) Tick(time.Time) []alerts.Notification { return nil }

// Changes are the report changes an alert event makes: one per report of a citizen alert, with
// the state, units, deadline and answer the alert now gives it (Of), numbered by the event's
// time (analytics.ChangeSeq: the same event written twice is one change).
func Changes(ev alerts.Event) []analytics.CitizenEvent {
	tr, ok := Of(ev)
	if !ok {
		return nil
	}
	a := &ev.Alert
	out := make([]analytics.CitizenEvent, len(a.Reports))
	for i, id := range a.Reports {
		out[i] = analytics.CitizenEvent{Time: ev.Time, Seq: analytics.ChangeSeq(ev.Time), Kind: string(ev.Kind), Actor: ev.Actor, Change: true,
			Report: citizen.Report{ID: id, Triage: tr}}
	}
	return out
}

// Of is what an alert event makes of its reports: taken (acknowledged) is in progress,
// resolved is answered with the reason, rejected is refused with it, else received; false
// when the event changes no report (another source's alert, a comment, an assignment, the
// engine's own closing when its rule is removed).
func Of(ev alerts.Event) (citizen.Triage, bool) {
	a := &ev.Alert
	tr := citizen.Triage{Units: a.Units, Alert: a.ID, Group: len(a.Reports), DueAt: a.DueAt, Overdue: a.Overdue}
	switch {
	case a.Source != alerts.SourceCitizen, ev.Kind == alerts.EventResolved && ev.Actor == alerts.ActorEngine,
		ev.Kind == alerts.EventCommented, ev.Kind == alerts.EventAssigned:
		return tr, false
	case ev.Kind == alerts.EventResolved && a.Rejected:
		tr.State, tr.Answer = citizen.StateRejected, ev.Reason
	case ev.Kind == alerts.EventResolved:
		tr.State, tr.Answer = citizen.StateResolved, ev.Reason
	case a.State == alerts.StateAcknowledged:
		tr.State = citizen.StateInProgress
	default:
		tr.State = citizen.StateReceived
	}
	return tr, true
}
