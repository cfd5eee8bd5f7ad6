// Package incident gathers alerts that belong together into incidents (sự cố), the one event
// an operations center manages: correlation rules from YAML decide which alerts join which
// incident (the same district or river basin and category within a window; a composite
// alert's parts), the incident takes the highest severity of its alerts, an owner and a state
// (mới, đang xử lý, đã kiểm soát, đã kết thúc), keeps a timeline, and runs its response
// procedure (quy trình ứng phó): a checklist whose steps overdue escalate like an alert nobody
// acknowledged.
//
// The Manager lives on the alert engine's goroutine (alerts.Correlator): it runs only where
// the engine leads, restores its open incidents from the store at each term, and keeps its
// changes as append-only events (incident_events) written through an outbox.
package incident

import (
	"slices"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/internal/geo"
)

// State is where an incident is in its lifecycle.
type State string

// Incident states.
const (
	StateNew        State = "new"         // mới: opened by an alert, nobody has taken it
	StateInProgress State = "in_progress" // đang xử lý: someone owns it and works on it
	StateContained  State = "contained"   // đã kiểm soát: under control, its alerts ended or ending
	StateClosed     State = "closed"      // đã kết thúc: closed by a person, with a summary
)

// States lists the states in their order.
var States = []State{StateNew, StateInProgress, StateContained, StateClosed}

// Vietnamese is how operators read s.
func (s State) Vietnamese() string {
	switch s {
	case StateNew:
		return "Mới"
	case StateInProgress:
		return "Đang xử lý"
	case StateContained:
		return "Đã kiểm soát"
	case StateClosed:
		return "Đã kết thúc"
	}
	return string(s)
}

// AlertRef is an alert of an incident as it last stood.
type AlertRef struct {
	ID          string          `json:"id"`
	Rule        string          `json:"rule"`
	Source      string          `json:"source"`
	Subject     string          `json:"subject"`
	SubjectName string          `json:"subject_name"`
	District    string          `json:"district"`
	Location    geo.Location    `json:"location,omitzero"`
	Metric      string          `json:"metric,omitempty"`
	Severity    alerts.Severity `json:"severity"`
	State       alerts.State    `json:"state"`
	Title       alerts.Text     `json:"title"`
	Units       []string        `json:"units"`
	StartsAt    time.Time       `json:"starts_at"`
	EndsAt      time.Time       `json:"ends_at,omitzero"`
}

// Step is one step of an incident's checklist.
type Step struct {
	ID   string      `json:"id"`
	Text alerts.Text `json:"text"`
	Unit string      `json:"unit"`
	// Due is when it must be done: its deadline after the incident opened, or after the
	// incident reached the severity of the procedure that brought the step.
	Due time.Time `json:"due"`
	// Done, DoneBy (id), DoneByName and Note say who ticked it, when, and what they wrote.
	Done       time.Time `json:"done,omitzero"`
	DoneBy     string    `json:"done_by,omitempty"`
	DoneByName string    `json:"done_by_name,omitempty"`
	Note       string    `json:"note,omitempty"`
	// Overdue is set once the step passed its due time undone and escalated.
	Overdue bool `json:"overdue,omitempty"`
}

// Incident is one event the center manages, the alerts that make it and the response.
type Incident struct {
	ID          string          `json:"id"`
	Correlation string          `json:"correlation"`
	Type        string          `json:"type"`
	Key         string          `json:"key"`
	Title       alerts.Text     `json:"title"`
	State       State           `json:"state"`
	Severity    alerts.Severity `json:"severity"`
	Category    string          `json:"category"`
	Owner       string          `json:"owner,omitempty"`
	OwnerName   string          `json:"owner_name,omitempty"`
	// Units are the units its alerts went to and its steps belong to.
	Units     []string   `json:"units"`
	Districts []string   `json:"districts"`
	Alerts    []AlertRef `json:"alerts"`
	// Procedure is the title of the response procedure in force; Steps its checklist.
	Procedure alerts.Text `json:"procedure,omitzero"`
	Steps     []Step      `json:"steps"`
	// Summary is the closing note.
	Summary string    `json:"summary,omitempty"`
	Opened  time.Time `json:"opened"`
	Updated time.Time `json:"updated"`
	Closed  time.Time `json:"closed,omitzero"`
	// Seq numbers the incident's events (1 for its opening).
	Seq uint32 `json:"seq"`

	timeline []Entry
	// lastEnd is when its last alert ended (zero while one is active).
	lastEnd time.Time
}

// Entry is one line of an incident's timeline.
type Entry struct {
	Seq  uint32    `json:"seq,omitempty"`
	Time time.Time `json:"time"`
	// Kind is opened, alert (an alert joined or changed), severity, state, owner, note,
	// step (ticked), overdue (a step escalated) or notification (a delivery attempt).
	Kind      string `json:"kind"`
	Actor     string `json:"actor"`
	ActorName string `json:"actor_name,omitempty"`
	// Text says what happened, in Vietnamese; TextEN in English where the engine wrote it.
	Text    string `json:"text"`
	TextEN  string `json:"text_en,omitempty"`
	AlertID string `json:"alert_id,omitempty"`
	Step    string `json:"step,omitempty"`
	// Unit is the unit a notification went to.
	Unit string `json:"unit,omitempty"`
}

// Entry kinds.
const (
	KindOpened       = "opened"
	KindAlert        = "alert"
	KindSeverity     = "severity"
	KindState        = "state"
	KindOwner        = "owner"
	KindNote         = "note"
	KindStep         = "step"
	KindOverdue      = "overdue"
	KindNotification = "notification"
)

// Record is what the store keeps of one event: the entry and the incident after it, in the
// alert leader's term.
type Record struct {
	Entry    Entry
	Incident Incident
	Term     uint64
}

// Active tells whether the incident still needs the center (not closed).
func (inc *Incident) Active() bool { return inc.State != StateClosed }

// clone is a copy the caller may keep (slices copied, timeline left out). An AlertRef's Units
// are shared: a reference is replaced, never changed in place.
func (inc *Incident) clone() Incident {
	c := *inc
	c.Units, c.Districts, c.Steps, c.Alerts = slices.Clone(inc.Units), slices.Clone(inc.Districts), slices.Clone(inc.Steps), slices.Clone(inc.Alerts)
	c.timeline = nil
	return c
}

// Timeline returns the incident's entries held in memory, oldest first.
func (inc *Incident) Timeline() []Entry { return slices.Clone(inc.timeline) }

// activeAlerts counts the alerts of inc still active.
func (inc *Incident) activeAlerts() int {
	n := 0
	for _, a := range inc.Alerts {
		if a.State.Active() || a.State == alerts.StatePending {
			n++
		}
	}
	return n
}

// Person is who acts on an incident. Units are a unit's (nil for the center's staff, who may
// tick any step).
type Person struct {
	ID, Name string
	Units    []string
}
