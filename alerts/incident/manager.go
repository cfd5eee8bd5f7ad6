package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
	"github.com/haidang-ioc/ioc/internal/outbox"
)

// Errors the Manager refuses with; the dashboard answers 400, 403, 404 and 409 to them.
var (
	ErrInvalid   = errors.New("invalid")
	ErrForbidden = errors.New("not allowed")
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
)

// Store keeps the incidents' events (analytics.IncidentStore through ClickHouseStore).
type Store interface {
	AppendIncidentEvents(ctx context.Context, recs []Record) error
	// OpenIncidents returns, as they stood at until, the incidents opened by then that were
	// not closed, or closed after closedSince.
	OpenIncidents(ctx context.Context, until, closedSince time.Time) ([]Incident, error)
	// Timelines returns the entries of the incidents, oldest first.
	Timelines(ctx context.Context, ids []string) (map[string][]Entry, error)
	// Incident returns an incident's latest state; false when none is stored.
	Incident(ctx context.Context, id string) (Incident, bool, error)
	Search(ctx context.Context, q Search) ([]Incident, int, error)
	// Deliveries returns the delivery attempts of the notifications of the alerts (and the
	// incidents' own, of overdue steps) with these ids.
	Deliveries(ctx context.Context, ids []string) ([]alerts.Attempt, error)
}

// Search narrows the stored incidents of a time range; empty fields do not narrow.
type Search = analytics.IncidentSearch

// Engine runs the Manager's commands on its goroutine while it leads (alerts.Engine).
type Engine interface {
	Act(ctx context.Context, f func(now time.Time)) error
}

// Options tune a Manager.
type Options struct {
	// StoreQueue bounds the events waiting for the store; default 100,000.
	StoreQueue int
	// KeepClosed is how long a closed incident stays in memory (and in the list of current
	// incidents); default 24h.
	KeepClosed time.Duration
	// Fence, with several engines, refuses to store the events of a term this process no
	// longer leads (lease.Lease.Fence).
	Fence func(term uint64) error
}

// Manager gathers the alerts into incidents and runs their lifecycle and procedures. Its state
// belongs to the alert engine's goroutine: the engine calls Lead, AlertChanged and Tick there,
// and the commands go through Engine.Act.
type Manager struct {
	engine Engine
	store  Store
	opts   Options
	log    *slog.Logger
	file   atomic.Pointer[File]
	// parts maps a composite rule to the rules of its parts.
	parts  atomic.Pointer[map[string][]string]
	events *outbox.Outbox[Record]
	m      *metrics

	// owned by the engine's goroutine
	term    uint64
	byID    map[string]*Incident
	byAlert map[string]*Incident
	// byKey is the newest incident of each correlation and key: the one a new alert may join.
	byKey map[string]*Incident
}

// New returns a Manager for the incident file and the alert rules in force.
func New(f *File, rules *alerts.RuleFile, store Store, opts Options, reg prometheus.Registerer, log *slog.Logger) *Manager {
	if opts.StoreQueue <= 0 {
		opts.StoreQueue = 100_000
	}
	if opts.KeepClosed <= 0 {
		opts.KeepClosed = 24 * time.Hour
	}
	m := &Manager{store: store, opts: opts, log: log, byID: map[string]*Incident{}, byAlert: map[string]*Incident{}, byKey: map[string]*Incident{}}
	m.m = newMetrics(reg)
	m.events = outbox.New("incident_events", opts.StoreQueue, m.append, m.m.outbox, log)
	m.SetFile(f, rules)
	return m
}

// File returns the incident file in force.
func (m *Manager) File() *File { return m.file.Load() }

// Bind gives the Manager the engine that runs its commands; call it before Run.
func (m *Manager) Bind(e Engine) { m.engine = e }

// SetFile puts a new incident file and the alert rules it goes with in force (a reload):
// incidents already open keep their type, steps and key.
func (m *Manager) SetFile(f *File, rules *alerts.RuleFile) {
	parts := map[string][]string{}
	if rules != nil {
		for _, r := range rules.Rules {
			if r.Kind == alerts.KindComposite {
				parts[r.Name] = slices.Clone(r.All)
			}
		}
	}
	m.file.Store(f)
	m.parts.Store(&parts)
}

// Run writes the incidents' events to the store until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	m.events.Run(ctx, 5*time.Second)
	return nil
}

func (m *Manager) append(ctx context.Context, recs []Record) error {
	if m.opts.Fence != nil {
		if recs = alerts.Fenced(recs, func(r Record) uint64 { return r.Term }, m.opts.Fence, m.log, "incident events"); len(recs) == 0 {
			return nil
		}
	}
	return m.store.AppendIncidentEvents(ctx, recs)
}

// Lead implements alerts.Correlator: it restores the incidents not closed (and those closed
// within KeepClosed) as stored. A store that cannot be read is logged: the incidents then
// start anew, and the alerts still open open new ones.
func (m *Manager) Lead(ctx context.Context, term uint64, now time.Time) {
	m.term = term
	m.byID, m.byAlert, m.byKey = map[string]*Incident{}, map[string]*Incident{}, map[string]*Incident{}
	incs, err := m.store.OpenIncidents(ctx, now, now.Add(-m.opts.KeepClosed))
	if err != nil {
		m.log.Error("incidents not restored: the open alerts open new incidents", "err", err)
		return
	}
	ids := make([]string, len(incs))
	for i := range incs {
		ids[i] = incs[i].ID
	}
	lines, err := m.store.Timelines(ctx, ids)
	if err != nil {
		m.log.Warn("incidents restored without their timelines", "err", err)
	}
	slices.SortFunc(incs, func(a, b Incident) int { return a.Opened.Compare(b.Opened) }) // the newest of a key last
	for i := range incs {
		inc := incs[i]
		inc.timeline = lines[inc.ID]
		m.byID[inc.ID] = &inc
		if inc.Active() {
			m.byKey[keyOf(inc.Correlation, inc.Key)] = &inc
			for _, a := range inc.Alerts {
				m.byAlert[a.ID] = &inc
				inc.lastEnd = laterOf(inc.lastEnd, a.EndsAt)
			}
		}
	}
	m.gauge()
	m.log.Info("incidents restored", "incidents", len(incs))
}

// AlertChanged implements alerts.Correlator: the alert joins or updates its incident, or
// opens one when a correlation takes it.
func (m *Manager) AlertChanged(ev alerts.Event, now time.Time) {
	a := &ev.Alert
	if a.State == alerts.StatePending {
		return
	}
	if inc := m.byAlert[a.ID]; inc != nil {
		m.update(inc, ev, now)
		return
	}
	if !a.State.Active() {
		return
	}
	f := m.file.Load()
	inc := m.ofParts(a)
	if inc == nil {
		c, key := f.correlate(a)
		if c == nil {
			return
		}
		inc = m.find(c, key, now)
		if inc == nil {
			m.open(c, key, ev, now)
			return
		}
	}
	m.join(inc, ev, now)
}

// ofParts returns the open incident that holds an alert of a composite alert's parts in its
// district, nil when a is no composite's or none does.
func (m *Manager) ofParts(a *alerts.Alert) *Incident {
	parts := (*m.parts.Load())[a.Rule]
	if len(parts) == 0 {
		return nil
	}
	for _, inc := range m.sorted() {
		if !inc.Active() {
			continue
		}
		for _, r := range inc.Alerts {
			if slices.Contains(parts, r.Rule) && r.District == a.District {
				return inc
			}
		}
	}
	return nil
}

// find returns the incident of correlation c and key that still takes alerts: the newest, not
// closed, and with an active alert or its last ended less than c's window ago.
func (m *Manager) find(c *Correlation, key string, now time.Time) *Incident {
	if inc := m.byKey[keyOf(c.Name, key)]; inc != nil && inc.Active() && (inc.activeAlerts() > 0 || now.Sub(inc.lastEnd) < c.Window) {
		return inc
	}
	return nil
}

func keyOf(correlation, key string) string { return correlation + "\x00" + key }

func (m *Manager) open(c *Correlation, key string, ev alerts.Event, now time.Time) {
	a := &ev.Alert
	inc := &Incident{ID: "inc-" + alerts.NewID(), Correlation: c.Name, Type: c.Type, Key: key, Title: c.title(a, key), State: StateNew,
		Severity: a.Severity, Category: a.Category, Opened: now, Steps: []Step{}}
	inc.Alerts = append(inc.Alerts, ref(a))
	m.byID[inc.ID] = inc
	m.byAlert[a.ID] = inc
	m.byKey[keyOf(c.Name, key)] = inc
	m.recompute(inc)
	m.record(inc, Entry{Kind: KindOpened, Actor: alerts.ActorEngine, AlertID: a.ID,
		Text:   fmt.Sprintf("Mở sự cố từ cảnh báo: %s (%s)", a.Title.VI, a.Severity.Vietnamese()),
		TextEN: fmt.Sprintf("Opened by the alert: %s (%s)", a.Title.Lang("en"), a.Severity)}, now)
	m.applyProcedure(inc, now)
	m.m.opened.WithLabelValues(inc.Type).Inc()
	m.gauge()
}

func (m *Manager) join(inc *Incident, ev alerts.Event, now time.Time) {
	a := &ev.Alert
	inc.Alerts = append(inc.Alerts, ref(a))
	m.byAlert[a.ID] = inc
	m.record(inc, Entry{Kind: KindAlert, Actor: alerts.ActorEngine, AlertID: a.ID,
		Text:   fmt.Sprintf("Thêm cảnh báo: %s (%s)", a.Title.VI, a.Severity.Vietnamese()),
		TextEN: fmt.Sprintf("Alert joined: %s (%s)", a.Title.Lang("en"), a.Severity)}, now)
	if inc.State == StateContained { // the hazard is back
		m.setState(inc, StateInProgress, Entry{Actor: alerts.ActorEngine, Text: "Có cảnh báo mới: sự cố xử lý tiếp", TextEN: "a new alert: back in progress"}, now)
	}
	m.escalate(inc, now)
}

// update brings an alert's reference up to date and notes the transitions that matter.
func (m *Manager) update(inc *Incident, ev alerts.Event, now time.Time) {
	a := &ev.Alert
	i := slices.IndexFunc(inc.Alerts, func(r AlertRef) bool { return r.ID == a.ID })
	if i < 0 {
		return
	}
	was := inc.Alerts[i]
	inc.Alerts[i] = ref(a)
	var vi, en string
	switch {
	case ev.Kind == alerts.EventResolved && was.State != alerts.StateResolved:
		vi, en = "Cảnh báo kết thúc: "+a.Title.VI, "Alert resolved: "+a.Title.Lang("en")
	case ev.Kind == alerts.EventAcknowledged:
		vi, en = fmt.Sprintf("Cảnh báo được xác nhận bởi %s: %s", ev.Actor, a.Title.VI), fmt.Sprintf("Alert acknowledged by %s: %s", ev.Actor, a.Title.Lang("en"))
	case ev.Kind == alerts.EventEscalated:
		vi, en = "Cảnh báo chuyển cấp: "+a.Title.VI, "Alert escalated: "+a.Title.Lang("en")
	case ev.Kind == alerts.EventUpdated && was.Severity != a.Severity:
		vi, en = fmt.Sprintf("Cảnh báo đổi mức %s → %s: %s", was.Severity.Vietnamese(), a.Severity.Vietnamese(), a.Title.VI),
			fmt.Sprintf("Alert severity %s → %s: %s", was.Severity, a.Severity, a.Title.Lang("en"))
	case ev.Kind == alerts.EventFiring && was.State == alerts.StateResolved:
		vi, en = "Cảnh báo lại: "+a.Title.VI, "Alert firing again: "+a.Title.Lang("en")
	}
	if vi != "" && inc.Active() {
		m.record(inc, Entry{Kind: KindAlert, Actor: alerts.ActorEngine, AlertID: a.ID, Text: vi, TextEN: en}, now)
	}
	if !inc.Active() {
		return
	}
	m.escalate(inc, now)
	if inc.activeAlerts() == 0 {
		inc.lastEnd = now
		if inc.State == StateNew || inc.State == StateInProgress {
			m.setState(inc, StateContained, Entry{Actor: alerts.ActorEngine, Text: "Mọi cảnh báo của sự cố đã kết thúc", TextEN: "every alert of the incident ended"}, now)
		}
	}
}

// escalate recomputes inc's severity, units and districts; a higher severity is noted and
// brings the steps of its procedure.
func (m *Manager) escalate(inc *Incident, now time.Time) {
	before := inc.Severity
	m.recompute(inc)
	if inc.Severity.Rank() > before.Rank() {
		m.record(inc, Entry{Kind: KindSeverity, Actor: alerts.ActorEngine,
			Text:   fmt.Sprintf("Mức độ sự cố: %s → %s", before.Vietnamese(), inc.Severity.Vietnamese()),
			TextEN: fmt.Sprintf("severity %s → %s", before, inc.Severity)}, now)
		m.applyProcedure(inc, now)
	}
}

// recompute sets inc's severity (the highest of its alerts'), units and districts.
func (m *Manager) recompute(inc *Incident) {
	units, districts := map[string]bool{}, map[string]bool{}
	for _, a := range inc.Alerts {
		if a.Severity.Rank() > inc.Severity.Rank() {
			inc.Severity = a.Severity
		}
		for _, u := range a.Units {
			units[u] = true
		}
		if a.District != "" {
			districts[a.District] = true
		}
	}
	for _, s := range inc.Steps {
		units[s.Unit] = true
	}
	inc.Units, inc.Districts = slices.Sorted(maps.Keys(units)), slices.Sorted(maps.Keys(districts))
}

// applyProcedure puts the procedure of inc's type and severity in force: the steps it has that
// inc lacks are added, due their deadline from now; a step inc has, not done, takes the new
// procedure's words and unit and is due no later than it says.
func (m *Manager) applyProcedure(inc *Incident, now time.Time) {
	pr := m.file.Load().procedure(inc.Type, inc.Severity)
	if pr == nil {
		return
	}
	added := 0
	for _, sp := range pr.Steps {
		due := now.Add(sp.Deadline)
		if i := slices.IndexFunc(inc.Steps, func(s Step) bool { return s.ID == sp.ID }); i >= 0 {
			if st := &inc.Steps[i]; st.Done.IsZero() { // still to do: as the higher procedure says it
				st.Text, st.Unit = sp.Text, sp.Unit
				if due.Before(st.Due) {
					st.Due = due
				}
			}
			continue
		}
		inc.Steps = append(inc.Steps, Step{ID: sp.ID, Text: sp.Text, Unit: sp.Unit, Due: due})
		added++
	}
	if inc.Procedure == pr.Title && added == 0 {
		return
	}
	inc.Procedure = pr.Title
	m.recompute(inc)
	m.record(inc, Entry{Kind: KindStep, Actor: alerts.ActorEngine,
		Text:   fmt.Sprintf("Áp dụng quy trình: %s (%d bước mới)", pr.Title.VI, added),
		TextEN: fmt.Sprintf("procedure in force: %s (%d new steps)", pr.Title.Lang("en"), added)}, now)
}

// Tick implements alerts.Correlator: steps past due, undone, escalate to their unit and the
// file's escalation units, once each, while the incident is new or in progress; closed
// incidents leave memory after KeepClosed.
func (m *Manager) Tick(now time.Time) []alerts.Notification {
	var out []alerts.Notification
	for _, inc := range m.sorted() {
		if !inc.Active() {
			if now.Sub(inc.Closed) > m.opts.KeepClosed {
				delete(m.byID, inc.ID)
			}
			continue
		}
		if inc.State != StateNew && inc.State != StateInProgress {
			continue
		}
		for i := range inc.Steps {
			st := &inc.Steps[i]
			if !st.Done.IsZero() || st.Overdue || now.Before(st.Due) {
				continue
			}
			st.Overdue = true
			units := mergeUnits([]string{st.Unit}, m.file.Load().Escalate)
			m.record(inc, Entry{Kind: KindOverdue, Actor: alerts.ActorEngine, Step: st.ID,
				Text:   fmt.Sprintf("Quá hạn: %s (%s); báo thêm %s", st.Text.VI, st.Unit, strings.Join(units, ", ")),
				TextEN: fmt.Sprintf("overdue: %s (%s); sent to %s", st.Text.Lang("en"), st.Unit, strings.Join(units, ", "))}, now)
			out = append(out, m.overdueNote(inc, st, units, now))
			m.m.overdue.WithLabelValues(inc.Type).Inc()
		}
	}
	m.gauge()
	return out
}

// overdueNote is the notification of an overdue step: an escalation whose alert is the
// incident (its delivery attempts are the incident's).
func (m *Manager) overdueNote(inc *Incident, st *Step, units []string, now time.Time) alerts.Notification {
	district := strings.Join(inc.Districts, ", ")
	a := alerts.Alert{ID: inc.ID, Fingerprint: inc.ID, Rule: "incident_step", Source: "incident", Subject: inc.ID, SubjectName: inc.Title.VI,
		State: alerts.StateFiring, Severity: inc.Severity, Category: inc.Category, District: district, Units: units, Seq: inc.Seq,
		Title: alerts.Text{VI: "Quá hạn bước ứng phó: " + st.Text.VI, EN: "Response step overdue: " + st.Text.Lang("en")},
		Description: alerts.Text{VI: fmt.Sprintf("Sự cố: %s. Đơn vị thực hiện: %s. Hạn: %s (giờ Việt Nam).", inc.Title.VI, st.Unit, alerts.LocalTime(st.Due)),
			EN: fmt.Sprintf("Incident: %s. Responsible unit: %s. Due: %s (Vietnam time).", inc.Title.Lang("en"), st.Unit, alerts.LocalTime(st.Due))},
		StartsAt: inc.Opened, FiredAt: now, UpdatedAt: now}
	ev := alerts.Event{Time: now, Kind: alerts.EventEscalated, Actor: alerts.ActorEngine, Term: m.term,
		Reason: "bước ứng phó quá hạn: " + st.Text.VI, ReasonEN: "response step overdue: " + st.Text.Lang("en"), Alert: a}
	return alerts.Notification{Event: ev, Units: units, Group: "incident:" + inc.ID}
}

// record numbers an entry of inc, keeps it in the timeline and queues it for the store.
func (m *Manager) record(inc *Incident, e Entry, now time.Time) {
	inc.Seq++
	inc.Updated = now
	e.Seq, e.Time = inc.Seq, now
	if len(inc.timeline) >= maxTimeline {
		inc.timeline = slices.Delete(inc.timeline, 0, len(inc.timeline)-maxTimeline+1)
	}
	inc.timeline = append(inc.timeline, e)
	m.events.Add(Record{Entry: e, Incident: inc.clone(), Term: m.term})
	m.m.events.WithLabelValues(e.Kind).Inc()
}

// maxTimeline bounds the entries an incident keeps in memory (the store keeps them all).
const maxTimeline = 2000

func (m *Manager) setState(inc *Incident, to State, e Entry, now time.Time) {
	from := inc.State
	inc.State = to
	e.Kind = KindState
	prefix, prefixEN := fmt.Sprintf("%s → %s", from.Vietnamese(), to.Vietnamese()), fmt.Sprintf("%s → %s", from, to)
	if e.Text != "" {
		e.Text = prefix + ": " + e.Text
		if e.TextEN != "" {
			e.TextEN = prefixEN + ": " + e.TextEN
		}
	} else {
		e.Text, e.TextEN = prefix, prefixEN
	}
	if to == StateClosed {
		inc.Closed = now
		if k := keyOf(inc.Correlation, inc.Key); m.byKey[k] == inc {
			delete(m.byKey, k)
		}
		for _, a := range inc.Alerts {
			if m.byAlert[a.ID] == inc {
				delete(m.byAlert, a.ID)
			}
		}
	}
	m.record(inc, e, now)
	m.gauge()
}

// sorted returns the incidents in memory, oldest first (a stable order for joins).
func (m *Manager) sorted() []*Incident {
	out := make([]*Incident, 0, len(m.byID))
	for _, inc := range m.byID {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Opened.Equal(out[j].Opened) {
			return out[i].Opened.Before(out[j].Opened)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (m *Manager) gauge() {
	m.m.open.Reset()
	for _, inc := range m.byID {
		if inc.Active() {
			m.m.open.WithLabelValues(string(inc.State), string(inc.Severity)).Inc()
		}
	}
}

// act runs f on the engine's goroutine with the incident id; f's error is returned.
func (m *Manager) act(ctx context.Context, id string, f func(inc *Incident, now time.Time) error) (Incident, error) {
	var out Incident
	var ferr error
	err := m.engine.Act(ctx, func(now time.Time) {
		inc := m.byID[id]
		if inc == nil {
			ferr = fmt.Errorf("incident %q: %w (not open; closed incidents are read from the history)", id, ErrNotFound)
			return
		}
		if ferr = f(inc, now); ferr == nil {
			out = inc.clone()
		}
	})
	if err != nil {
		return Incident{}, err
	}
	return out, ferr
}

// centerOnly refuses a unit's caller: owning and moving an incident is the center's.
func centerOnly(by Person, what string) error {
	if len(by.Units) > 0 {
		return fmt.Errorf("%w: %s is for the operations center's staff; a unit ticks its steps and writes notes", ErrForbidden, what)
	}
	return nil
}

// Take makes by the incident's owner; a new incident goes in progress.
func (m *Manager) Take(ctx context.Context, id string, by Person) (Incident, error) {
	return m.act(ctx, id, func(inc *Incident, now time.Time) error {
		if err := centerOnly(by, "taking an incident"); err != nil {
			return err
		}
		switch {
		case !inc.Active():
			return fmt.Errorf("%w: the incident is closed", ErrConflict)
		case inc.Owner == by.ID:
			return fmt.Errorf("%w: %s owns it already", ErrConflict, by.Name)
		}
		prev := inc.OwnerName
		inc.Owner, inc.OwnerName = by.ID, by.Name
		text := by.Name + " nhận xử lý sự cố"
		if prev != "" {
			text += " (thay " + prev + ")"
		}
		m.record(inc, Entry{Kind: KindOwner, Actor: by.ID, ActorName: by.Name, Text: text, TextEN: by.Name + " took the incident"}, now)
		if inc.State == StateNew {
			m.setState(inc, StateInProgress, Entry{Actor: by.ID, ActorName: by.Name}, now)
		}
		return nil
	})
}

// SetState moves the incident to state to. Closing takes a summary (the report's conclusion);
// a closed incident stays closed, and nothing goes back to new.
func (m *Manager) SetState(ctx context.Context, id string, to State, note string, by Person) (Incident, error) {
	note = strings.TrimSpace(note)
	if !slices.Contains(States, to) || to == StateNew {
		return Incident{}, fmt.Errorf("%w: state %q: want in_progress, contained or closed", ErrInvalid, to)
	}
	if err := alerts.CheckText("note", note, to == StateClosed, ErrInvalid); err != nil {
		if to == StateClosed {
			return Incident{}, fmt.Errorf("%w (closing takes a summary of the response)", err)
		}
		return Incident{}, err
	}
	return m.act(ctx, id, func(inc *Incident, now time.Time) error {
		if err := centerOnly(by, "changing an incident's state"); err != nil {
			return err
		}
		switch {
		case !inc.Active():
			return fmt.Errorf("%w: the incident was closed at %s", ErrConflict, inc.Closed.Format(time.RFC3339))
		case inc.State == to:
			return fmt.Errorf("%w: the incident is %s already", ErrConflict, to)
		}
		if to == StateClosed {
			inc.Summary = note
		}
		m.setState(inc, to, Entry{Actor: by.ID, ActorName: by.Name, Text: note}, now)
		return nil
	})
}

// Note writes a line in the incident's timeline.
func (m *Manager) Note(ctx context.Context, id, text string, by Person) (Incident, error) {
	text = strings.TrimSpace(text)
	if err := alerts.CheckText("text", text, true, ErrInvalid); err != nil {
		return Incident{}, err
	}
	return m.act(ctx, id, func(inc *Incident, now time.Time) error {
		if !inc.Active() {
			return fmt.Errorf("%w: the incident is closed", ErrConflict)
		}
		m.record(inc, Entry{Kind: KindNote, Actor: by.ID, ActorName: by.Name, Text: text}, now)
		return nil
	})
}

// Done ticks a step of the incident's checklist, once, by its unit or the center's staff.
func (m *Manager) Done(ctx context.Context, id, step, note string, by Person) (Incident, error) {
	note = strings.TrimSpace(note)
	if err := alerts.CheckText("note", note, false, ErrInvalid); err != nil {
		return Incident{}, err
	}
	return m.act(ctx, id, func(inc *Incident, now time.Time) error {
		i := slices.IndexFunc(inc.Steps, func(s Step) bool { return s.ID == step })
		if i < 0 {
			return fmt.Errorf("step %q of incident %s: %w", step, id, ErrNotFound)
		}
		st := &inc.Steps[i]
		switch {
		case !inc.Active():
			return fmt.Errorf("%w: the incident is closed", ErrConflict)
		case !st.Done.IsZero():
			return fmt.Errorf("%w: the step was ticked by %s at %s", ErrConflict, st.DoneByName, alerts.LocalTime(st.Done))
		case len(by.Units) > 0 && !slices.Contains(by.Units, st.Unit):
			return fmt.Errorf("%w: the step belongs to the unit %s, not to %s", ErrForbidden, st.Unit, strings.Join(by.Units, ", "))
		}
		st.Done, st.DoneBy, st.DoneByName, st.Note = now, by.ID, by.Name, note
		text := "Hoàn thành: " + st.Text.VI
		if note != "" {
			text += " — " + note
		}
		m.record(inc, Entry{Kind: KindStep, Actor: by.ID, ActorName: by.Name, Step: st.ID, Text: text, TextEN: "done: " + st.Text.Lang("en")}, now)
		return nil
	})
}

// Current returns the incidents in memory: those not closed and those closed lately, newest
// first.
func (m *Manager) Current(ctx context.Context) ([]Incident, error) {
	var out []Incident
	err := m.engine.Act(ctx, func(time.Time) {
		for _, inc := range m.sorted() {
			out = append(out, inc.clone())
		}
	})
	slices.Reverse(out)
	return out, err
}

// Get returns an incident and its timeline, the delivery attempts of its notifications
// among it: from memory when it is current, else from the store.
func (m *Manager) Get(ctx context.Context, id string) (Incident, []Entry, error) {
	var inc Incident
	var line []Entry
	found := false
	err := m.engine.Act(ctx, func(time.Time) {
		if x := m.byID[id]; x != nil {
			inc, line, found = x.clone(), x.Timeline(), true
		}
	})
	if err != nil {
		return Incident{}, nil, err
	}
	if !found {
		stored, ok, err := m.store.Incident(ctx, id)
		if err != nil {
			return Incident{}, nil, err
		}
		if !ok {
			return Incident{}, nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
		}
		lines, err := m.store.Timelines(ctx, []string{id})
		if err != nil {
			return Incident{}, nil, err
		}
		inc, line = stored, lines[id]
	}
	ids := []string{inc.ID}
	for _, a := range inc.Alerts {
		ids = append(ids, a.ID)
	}
	atts, err := m.store.Deliveries(ctx, ids)
	if err != nil { // the timeline without its deliveries beats none
		m.log.Warn("incident timeline without its notifications", "incident", id, "err", err)
	}
	for _, at := range atts {
		line = append(line, deliveryEntry(at))
	}
	sort.SliceStable(line, func(i, j int) bool { return line[i].Time.Before(line[j].Time) })
	return inc, line, nil
}

// deliveryResults say a delivery attempt's status in Vietnamese.
var deliveryResults = map[string]string{"ok": "đã gửi", "retry": "lỗi, sẽ gửi lại", "failed": "thất bại", "dropped": "bị bỏ (hàng đợi đầy)"}

// deliveryEntry is a delivery attempt as a line of the timeline.
func deliveryEntry(at alerts.Attempt) Entry {
	result := deliveryResults[at.Status]
	if result == "" {
		result = at.Status
	}
	text := fmt.Sprintf("Thông báo %s tới %s qua %s (%s, lần %d): %s", at.Kind, at.Unit, at.Receiver, at.Type, at.Number, result)
	en := fmt.Sprintf("notification %s to %s via %s (%s, attempt %d): %s", at.Kind, at.Unit, at.Receiver, at.Type, at.Number, at.Status)
	if at.Error != "" {
		text += " — " + at.Error
		en += " — " + at.Error
	}
	return Entry{Time: at.Time, Kind: KindNotification, Actor: at.Receiver, Text: text, TextEN: en, AlertID: at.AlertID, Unit: at.Unit}
}

// Search returns the stored incidents q keeps, newest first, and how many there are.
func (m *Manager) Search(ctx context.Context, q Search) ([]Incident, int, error) {
	return m.store.Search(ctx, q)
}

func ref(a *alerts.Alert) AlertRef {
	return AlertRef{ID: a.ID, Rule: a.Rule, Source: a.Source, Subject: a.Subject, SubjectName: a.SubjectName, District: a.District,
		Location: a.Location, Metric: a.Metric, Severity: a.Severity, State: a.State, Title: a.Title, Units: slices.Clone(a.Units), StartsAt: a.StartsAt, EndsAt: a.EndsAt}
}

func mergeUnits(a, b []string) []string {
	out := slices.Clone(a)
	for _, u := range b {
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// metrics are the Manager's Prometheus metrics.
type metrics struct {
	open    *prometheus.GaugeVec
	opened  *prometheus.CounterVec
	events  *prometheus.CounterVec
	overdue *prometheus.CounterVec
	outbox  outbox.Metrics
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		open:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ioc_incidents_open", Help: "Incidents not closed, by state and severity."}, []string{"state", "severity"}),
		opened:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_incidents_opened_total", Help: "Incidents opened, by type."}, []string{"type"}),
		events:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_incident_events_total", Help: "Incident timeline entries, by kind."}, []string{"kind"}),
		overdue: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ioc_incident_steps_overdue_total", Help: "Response steps that passed their deadline undone and escalated, by incident type."}, []string{"type"}),
	}
	queued := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ioc_incident_store_queue_rows", Help: "Incident events waiting for the store."})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_incident_store_dropped_total", Help: "Incident events dropped: the store's queue was full."})
	errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_incident_store_errors_total", Help: "Failed writes of incident events (retried)."})
	written := prometheus.NewCounter(prometheus.CounterOpts{Name: "ioc_incident_store_written_total", Help: "Incident events written to the store."})
	m.outbox = outbox.Metrics{Queued: queued, Dropped: dropped, Errors: errs, Written: written}
	if reg != nil {
		reg.MustRegister(m.open, m.opened, m.events, m.overdue, queued, dropped, errs, written)
	}
	return m
}
