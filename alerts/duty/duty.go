// Package duty keeps the operations floor's duty log (nhật ký ca trực) and its shift handovers
// (bàn giao ca): duty officers write timestamped lines during a shift; the outgoing officer
// hands over with notes for the next shift and the alerts nobody has acknowledged at that
// moment, and a different officer accepts the handover, once. One handover waits at a time.
package duty

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
)

// Errors the Book refuses with; the dashboard answers 400, 404 and 409 to them.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Store keeps the log and the handovers (analytics.DutyStore).
type Store interface {
	AddEntry(ctx context.Context, e analytics.DutyEntry) error
	Entries(ctx context.Context, from, to time.Time, limit int) ([]analytics.DutyEntry, error)
	PutHandover(ctx context.Context, h analytics.Handover) error
	Handovers(ctx context.Context, limit int) ([]analytics.Handover, error)
}

// Person is who writes or signs: a stable id and a name to show.
type Person struct{ ID, Name string }

// Book is the duty log and the handovers. Its changes are serialized, so that two officers
// accepting the same handover at once cannot both succeed (run it in one process: the
// dashboard sends the changes on to the process that leads the alert engine).
type Book struct {
	store Store
	now   func() time.Time
	mu    sync.Mutex
}

// New returns a Book over store, on the clock now (nil: the wall clock). Its times are kept to
// the millisecond, as stored.
func New(store Store, now func() time.Time) *Book {
	if now == nil {
		now = time.Now
	}
	return &Book{store: store, now: now}
}

// Write appends a line to the duty log.
func (b *Book) Write(ctx context.Context, by Person, text string) (analytics.DutyEntry, error) {
	text = strings.TrimSpace(text)
	if err := alerts.CheckText("text", text, true, ErrInvalid); err != nil {
		return analytics.DutyEntry{}, err
	}
	e := analytics.DutyEntry{ID: alerts.NewID(), Time: b.now().UTC().Truncate(time.Millisecond), AuthorID: by.ID, Author: by.Name, Text: text}
	if err := b.store.AddEntry(ctx, e); err != nil {
		return analytics.DutyEntry{}, fmt.Errorf("duty log: %w", err)
	}
	return e, nil
}

// Entries returns the log's lines of [from, to), newest first, at most limit.
func (b *Book) Entries(ctx context.Context, from, to time.Time, limit int) ([]analytics.DutyEntry, error) {
	if !to.After(from) {
		return nil, fmt.Errorf("%w: from must come before to", ErrInvalid)
	}
	return b.store.Entries(ctx, from, to, limit)
}

// HandOver starts a handover by the outgoing officer, with notes for the next shift, the
// alerts nobody has acknowledged now and the incidents open now. It is refused while another
// waits for its incoming officer.
func (b *Book) HandOver(ctx context.Context, by Person, notes string, open []analytics.AlertRef, incidents []analytics.IncidentRef) (analytics.Handover, error) {
	notes = strings.TrimSpace(notes)
	if err := alerts.CheckText("notes", notes, false, ErrInvalid); err != nil {
		return analytics.Handover{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, err := b.pending(ctx); err != nil {
		return analytics.Handover{}, err
	} else if p != nil {
		return analytics.Handover{}, fmt.Errorf("%w: the handover by %s at %s waits for its incoming officer; accept it first", ErrConflict, p.Outgoing, p.Created.Format(time.RFC3339))
	}
	if open == nil {
		open = []analytics.AlertRef{}
	}
	if incidents == nil {
		incidents = []analytics.IncidentRef{}
	}
	h := analytics.Handover{ID: alerts.NewID(), Created: b.now().UTC().Truncate(time.Millisecond), OutgoingID: by.ID, Outgoing: by.Name, Notes: notes,
		Alerts: open, Incidents: incidents}
	if err := b.store.PutHandover(ctx, h); err != nil {
		return analytics.Handover{}, fmt.Errorf("handover: %w", err)
	}
	return h, nil
}

// Accept records the incoming officer's acceptance of handover id, with an optional note.
// The outgoing officer cannot accept their own handover, and a handover is accepted once.
func (b *Book) Accept(ctx context.Context, id string, by Person, note string) (analytics.Handover, error) {
	note = strings.TrimSpace(note)
	if err := alerts.CheckText("note", note, false, ErrInvalid); err != nil {
		return analytics.Handover{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	hs, err := b.store.Handovers(ctx, recent)
	if err != nil {
		return analytics.Handover{}, err
	}
	for _, h := range hs {
		if h.ID != id {
			continue
		}
		switch {
		case !h.Accepted.IsZero():
			return analytics.Handover{}, fmt.Errorf("%w: accepted already by %s at %s", ErrConflict, h.Incoming, h.Accepted.Format(time.RFC3339))
		case h.OutgoingID == by.ID:
			return analytics.Handover{}, fmt.Errorf("%w: %s handed this shift over; another officer must accept it", ErrConflict, h.Outgoing)
		}
		h.Accepted, h.IncomingID, h.Incoming, h.IncomingNote = b.now().UTC().Truncate(time.Millisecond), by.ID, by.Name, note
		if err := b.store.PutHandover(ctx, h); err != nil {
			return analytics.Handover{}, fmt.Errorf("handover: %w", err)
		}
		return h, nil
	}
	return analytics.Handover{}, fmt.Errorf("handover %q: %w", id, ErrNotFound)
}

// Handovers returns the newest handovers, newest first, at most limit.
func (b *Book) Handovers(ctx context.Context, limit int) ([]analytics.Handover, error) {
	return b.store.Handovers(ctx, limit)
}

// recent is how many of the newest handovers Accept and pending look through: one waits at a
// time, so the one to accept is among the newest.
const recent = 20

// pending returns the handover waiting for its incoming officer, nil for none.
func (b *Book) pending(ctx context.Context) (*analytics.Handover, error) {
	hs, err := b.store.Handovers(ctx, recent)
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if hs[i].Accepted.IsZero() {
			return &hs[i], nil
		}
	}
	return nil, nil
}
