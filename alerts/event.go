package alerts

import "time"

// EventKind is the transition an alert event records.
type EventKind string

// Alert events, each an append-only row of alert_events.
const (
	EventPending      EventKind = "pending"      // the condition started to hold; its `for` runs
	EventFiring       EventKind = "firing"       // the condition held long enough
	EventUpdated      EventKind = "updated"      // severity or alarm level changed while active
	EventAcknowledged EventKind = "acknowledged" // someone took the alert
	EventAssigned     EventKind = "assigned"     // the alert was given to a person
	EventCommented    EventKind = "commented"    // someone wrote about it
	EventEscalated    EventKind = "escalated"    // nobody acknowledged in time: more units
	EventResolved     EventKind = "resolved"     // the condition stopped, or an operator closed it
	EventReported     EventKind = "reported"     // one more citizen report joined the alert's group
)

// ActorEngine is the actor of the transitions the rules make.
const ActorEngine = "engine"

// Event is one transition of an alert: who made it, when and why, with the alert as it is
// after it. The engine rebuilds its live alerts from the latest event of each.
type Event struct {
	Time  time.Time `json:"time"`
	Kind  EventKind `json:"kind"`
	Actor string    `json:"actor"`
	// Reason says why: what changed, the comment's text, the assignee. The engine's own
	// reasons are in Vietnamese here and in English in ReasonEN; a person's words are as
	// written, in Reason only.
	Reason   string `json:"reason"`
	ReasonEN string `json:"reason_en,omitempty"`
	Alert    Alert  `json:"alert"`
	// Term is the alert leader's term the engine made the event in (0 for a single engine).
	Term uint64 `json:"term,omitempty"`
}

// ReasonIn is the reason in lang ("vi" or "en"), falling back to Reason.
func (e *Event) ReasonIn(lang string) string {
	return Text{VI: e.Reason, EN: e.ReasonEN}.Lang(lang)
}

// notifies reports whether an event of kind k goes out to the alert's units.
func (k EventKind) notifies() bool {
	switch k {
	case EventFiring, EventUpdated, EventEscalated, EventResolved:
		return true
	}
	return false
}
