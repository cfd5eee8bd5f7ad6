package alerts

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/analytics"
)

// CAPDraftRecord is one version of a draft as stored.
type CAPDraftRecord = analytics.CAPDraftRow

// States of a draft.
const (
	DraftPending    = "pending"
	DraftReleased   = "released"
	DraftRejected   = "rejected"
	DraftSuperseded = "superseded" // a newer draft of the same alert took its place
)

// Errors of Approve and Reject.
var (
	// ErrDraftChanged: the draft named is no longer the alert's pending one (it was released,
	// rejected, or replaced by a newer one after the person read it).
	ErrDraftChanged = errors.New("the draft changed or is no longer pending")
	// ErrSameApprover: the second approval of a high-risk warning must come from another person.
	ErrSameApprover = errors.New("already approved by this person: the second approval must come from another")
)

// CAPApproval is one person's approval of a draft.
type CAPApproval struct {
	By   string    `json:"by"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// CAPDraft is a public warning waiting for people to release it.
type CAPDraft struct {
	Identifier string `json:"identifier"`
	AlertID    string `json:"alert_id"`
	// MsgType is Alert or Update; Status Actual, Exercise or Test.
	MsgType   string    `json:"msg_type"`
	Status    string    `json:"status"`
	Headline  string    `json:"headline"`
	RiskLevel int       `json:"risk_level,omitempty"`
	Suspect   bool      `json:"suspect,omitempty"`
	Created   time.Time `json:"created"`
	// Needed is how many different people must approve; Approvals who did so far.
	Needed    int           `json:"approvals_needed"`
	Approvals []CAPApproval `json:"approvals"`
	// Document is the CAP 1.2 message as it will be published.
	Document string `json:"document"`

	seq uint32
	msg *CAPMessage
	doc []byte
}

// needsApproval says whether a's public message waits for people: every Actual message (or
// every message with approval: all), and every message of a suspect alert.
func (f *CAPFeed) needsApproval(a *Alert) bool {
	return f.cfg.Status == "Actual" || f.cfg.Approval == "all" || a.Suspect
}

// approvals is how many people must release a's message.
func (f *CAPFeed) approvals(a *Alert) int {
	if f.cfg.SecondApproverFromRisk > 0 && a.RiskLevel >= f.cfg.SecondApproverFromRisk {
		return 2
	}
	return 1
}

// draft holds msg for approval in place of the alert's pending draft, if any (its approvals
// are void: the content changed). Called with f.mu held.
func (f *CAPFeed) draft(a *Alert, msg *CAPMessage, doc []byte, at time.Time) {
	var rows []CAPDraftRecord
	if old := f.drafts[a.ID]; old != nil {
		rows = append(rows, f.record(old, DraftSuperseded, "", ""))
	}
	d := &CAPDraft{Identifier: msg.Identifier, AlertID: a.ID, MsgType: msg.MsgType, Status: msg.Status, Headline: msg.Info[0].Headline,
		RiskLevel: a.RiskLevel, Suspect: a.Suspect, Created: at, Needed: f.approvals(a), Approvals: []CAPApproval{},
		Document: string(doc), seq: a.Seq, msg: msg, doc: doc}
	f.drafts[a.ID] = d
	f.drafted.Add(append(rows, f.record(d, DraftPending, "", ""))...)
	f.m.capDrafts.Set(float64(len(f.drafts)))
}

// dropDraft forgets the alert's pending draft (its alert ended before anyone released it).
// Called with f.mu held.
func (f *CAPFeed) dropDraft(alertID, why string) {
	if d := f.drafts[alertID]; d != nil {
		delete(f.drafts, alertID)
		f.drafted.Add(f.record(d, DraftSuperseded, "", why))
		f.m.capDrafts.Set(float64(len(f.drafts)))
	}
}

// nextVersion is the version of a draft's next record: the wall clock in nanoseconds, made to
// increase within the process even if the clock steps back.
func (f *CAPFeed) nextVersion() uint64 {
	for {
		last, now := f.lastVersion.Load(), uint64(time.Now().UnixNano())
		next := max(now, last+1)
		if f.lastVersion.CompareAndSwap(last, next) {
			return next
		}
	}
}

// record is the stored form of d in state.
func (f *CAPFeed) record(d *CAPDraft, state, by, reason string) CAPDraftRecord {
	r := CAPDraftRecord{Version: f.nextVersion(), Identifier: d.Identifier, AlertID: d.AlertID, Seq: d.seq, MsgType: d.MsgType, State: state, Created: d.Created,
		RiskLevel: uint8(d.RiskLevel), Suspect: d.Suspect, Needed: uint8(d.Needed), DecidedBy: by, Reason: reason, XML: d.doc}
	for _, a := range d.Approvals {
		r.Approvals = append(r.Approvals, a.By+"\t"+a.Name+"\t"+a.At.UTC().Format(time.RFC3339))
	}
	return r
}

func draftFromRecord(r CAPDraftRecord) (*CAPDraft, error) {
	m := &CAPMessage{}
	if err := xml.Unmarshal(r.XML, m); err != nil || len(m.Info) == 0 {
		return nil, fmt.Errorf("draft %s unreadable: %v", r.Identifier, err)
	}
	d := &CAPDraft{Identifier: r.Identifier, AlertID: r.AlertID, MsgType: r.MsgType, Status: m.Status, Headline: m.Info[0].Headline,
		RiskLevel: int(r.RiskLevel), Suspect: r.Suspect, Created: r.Created, Needed: int(r.Needed), Approvals: []CAPApproval{},
		Document: string(r.XML), seq: r.Seq, msg: m, doc: r.XML}
	for _, s := range r.Approvals {
		parts := strings.SplitN(s, "\t", 3)
		if len(parts) != 3 {
			continue
		}
		at, _ := time.Parse(time.RFC3339, parts[2])
		d.Approvals = append(d.Approvals, CAPApproval{By: parts[0], Name: parts[1], At: at})
	}
	return d, nil
}

// Drafts lists the warnings waiting for approval, oldest first.
func (f *CAPFeed) Drafts() []CAPDraft {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]CAPDraft, 0, len(f.drafts))
	for _, d := range f.drafts {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b CAPDraft) int { return a.Created.Compare(b.Created) })
	return out
}

// DraftOf returns alertID's pending draft.
func (f *CAPFeed) DraftOf(alertID string) (CAPDraft, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.drafts[alertID]; d != nil {
		return *d, true
	}
	return CAPDraft{}, false
}

// Approve records by's approval of the alert's draft identifier (the one the person read);
// once enough different people approved, the message is published. The approval is stored
// before Approve returns.
func (f *CAPFeed) Approve(ctx context.Context, alertID, identifier, by, name string) (CAPDraft, bool, error) {
	f.mu.Lock()
	d := f.drafts[alertID]
	switch {
	case d == nil:
		f.mu.Unlock()
		return CAPDraft{}, false, ErrNotFound
	case d.Identifier != identifier:
		f.mu.Unlock()
		return CAPDraft{}, false, ErrDraftChanged
	case slices.ContainsFunc(d.Approvals, func(a CAPApproval) bool { return a.By == by }):
		f.mu.Unlock()
		return *d, false, ErrSameApprover
	}
	next := *d
	next.Approvals = append(slices.Clone(d.Approvals), CAPApproval{By: by, Name: name, At: f.now().UTC()})
	released := len(next.Approvals) >= next.Needed
	state := DraftPending
	if released {
		state = DraftReleased
	}
	f.mu.Unlock()
	// Stored first: an approval the store did not keep did not happen.
	if err := f.store.PutCAPDrafts(ctx, []CAPDraftRecord{f.record(&next, state, by, "")}); err != nil {
		return CAPDraft{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drafts[alertID] != d { // replaced while the approval was being stored
		return CAPDraft{}, false, ErrDraftChanged
	}
	if !released {
		f.drafts[alertID] = &next
		return next, false, nil
	}
	delete(f.drafts, alertID)
	f.m.capDrafts.Set(float64(len(f.drafts)))
	f.release(alertID, next.seq, next.msg, next.doc, f.now())
	return next, true, nil
}

// Reject drops the alert's draft identifier: it is never published (a newer change of the
// alert drafts again).
func (f *CAPFeed) Reject(ctx context.Context, alertID, identifier, by, reason string) error {
	f.mu.Lock()
	d := f.drafts[alertID]
	if d == nil || d.Identifier != identifier {
		f.mu.Unlock()
		return ErrDraftChanged
	}
	f.mu.Unlock()
	if err := f.store.PutCAPDrafts(ctx, []CAPDraftRecord{f.record(d, DraftRejected, by, reason)}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drafts[alertID] == d {
		delete(f.drafts, alertID)
		f.m.capDrafts.Set(float64(len(f.drafts)))
	}
	return nil
}
