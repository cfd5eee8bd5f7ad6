package duty

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/alerts"
	"github.com/haidang-ioc/ioc/analytics"
)

// book is an in-memory Store for the Book's rules (the ClickHouse store is tested through the
// dashboard's API tests): the latest version of each handover, newest first.
type book struct {
	entries   []analytics.DutyEntry
	handovers []analytics.Handover
}

func (b *book) AddEntry(_ context.Context, e analytics.DutyEntry) error {
	b.entries = append(b.entries, e)
	return nil
}

func (b *book) Entries(_ context.Context, from, to time.Time, limit int) ([]analytics.DutyEntry, error) {
	var out []analytics.DutyEntry
	for _, e := range slices.Backward(b.entries) {
		if !e.Time.Before(from) && e.Time.Before(to) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (b *book) PutHandover(_ context.Context, h analytics.Handover) error {
	if i := slices.IndexFunc(b.handovers, func(x analytics.Handover) bool { return x.ID == h.ID }); i >= 0 {
		b.handovers[i] = h
		return nil
	}
	b.handovers = append([]analytics.Handover{h}, b.handovers...)
	return nil
}

func (b *book) Handovers(_ context.Context, limit int) ([]analytics.Handover, error) {
	return slices.Clone(b.handovers[:min(limit, len(b.handovers))]), nil
}

// The rules of the book: lines need text, one handover waits at a time, another officer
// takes it over, once; each refusal changes nothing.
func TestHandoverRules(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 8, 15, 14, 0, 0, 123456789, time.UTC)
	st := &book{}
	b := New(st, func() time.Time { return now })
	an, binh := Person{ID: "key:an", Name: "An"}, Person{ID: "key:binh", Name: "Bình"}

	if _, err := b.Write(ctx, an, "  "); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty line: %v", err)
	}
	if _, err := b.Write(ctx, an, strings.Repeat("ạ", alerts.MaxText+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("a line too long: %v", err)
	}
	e, err := b.Write(ctx, an, " 14:00 mưa lớn ")
	if err != nil || e.Text != "14:00 mưa lớn" || e.Author != "An" || !e.Time.Equal(now.Truncate(time.Millisecond)) || len(st.entries) != 1 {
		t.Fatalf("line %+v %v", e, err)
	}
	if _, err := b.Entries(ctx, now, now, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("an empty range: %v", err)
	}

	open := []analytics.AlertRef{{ID: "a1", Title: "Sông Hồng vượt báo động II"}}
	h, err := b.HandOver(ctx, an, "theo dõi sông Hồng", open, nil)
	if err != nil || h.OutgoingID != "key:an" || len(h.Alerts) != 1 || !h.Accepted.IsZero() {
		t.Fatalf("handover %+v %v", h, err)
	}
	for name, try := range map[string]func() error{
		"a second handover":          func() error { _, err := b.HandOver(ctx, binh, "", nil, nil); return err },
		"the outgoing officer's own": func() error { _, err := b.Accept(ctx, h.ID, an, ""); return err },
	} {
		if err := try(); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: %v, want a conflict", name, err)
		}
	}
	if _, err := b.Accept(ctx, "nope", binh, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown handover: %v", err)
	}
	if len(st.handovers) != 1 || !st.handovers[0].Accepted.IsZero() {
		t.Fatalf("the refusals changed the handovers: %+v", st.handovers)
	}
	now = now.Add(time.Minute)
	got, err := b.Accept(ctx, h.ID, binh, " đã nhận ")
	if err != nil || got.IncomingID != "key:binh" || got.IncomingNote != "đã nhận" || !got.Accepted.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("accepted %+v %v", got, err)
	}
	if _, err := b.Accept(ctx, h.ID, Person{ID: "key:chi", Name: "Chi"}, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("taken over twice: %v", err)
	}
	if _, err := b.HandOver(ctx, binh, "", nil, nil); err != nil { // the next shift hands over in turn
		t.Errorf("the next handover: %v", err)
	}
}
