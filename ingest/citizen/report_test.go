package citizen

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

func TestSubmissionCheck(t *testing.T) {
	now := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	rules := Rules{Categories: map[string]bool{"sanitation": true, "encroachment": true}, Now: now, MaxSkew: 10 * time.Minute,
		Locate: func(l geo.Location) (string, string) {
			if l.Lat > 22 && l.Lat < 23 && l.Lon > 103 && l.Lon < 105 {
				return "TP Lào Cai", "Phường Cốc Lếu"
			}
			return "", ""
		}}
	good := func() Submission {
		return Submission{ClientID: "0f6c7e2a-1b7d-4c55-9d8a-6f2b1f0d9e11", Category: "sanitation",
			Description: "  Rác thải đổ trộm ở đầu ngõ 12 đường Hoàng Liên  ", Location: geo.Location{Lat: 22.4979, Lon: 103.9688},
			ReportedAt: now.Add(-time.Minute), Contact: &Contact{Name: "Nguyễn Văn A", Phone: "0912 345 678"}}
	}
	s := good()
	d, c, err := s.Check(rules, 2)
	if err != nil || d != "TP Lào Cai" || c != "Phường Cốc Lếu" || s.Description != "Rác thải đổ trộm ở đầu ngõ 12 đường Hoàng Liên" {
		t.Fatalf("a good report: %q %q %v %q", d, c, err, s.Description)
	}
	for _, tc := range []struct {
		name   string
		change func(*Submission)
		photos int
		field  string
	}{
		{"client id", func(s *Submission) { s.ClientID = "x" }, 1, "client_id"},
		{"category", func(s *Submission) { s.Category = "ufo" }, 1, "category"},
		{"short", func(s *Submission) { s.Description = "rác" }, 1, "description"},
		{"long", func(s *Submission) { s.Description = strings.Repeat("ồ", MaxDescription+1) }, 1, "description"},
		{"no location", func(s *Submission) { s.Location = geo.Location{} }, 1, "location"},
		{"swapped", func(s *Submission) { s.Location = geo.Location{Lat: 103.9688, Lon: 22.4979} }, 1, "location"},
		{"outside the province", func(s *Submission) { s.Location = geo.Location{Lat: 10.24, Lon: 106.37} }, 1, "location"},
		{"future", func(s *Submission) { s.ReportedAt = now.Add(time.Hour) }, 1, "reported_at"},
		{"no photo", func(*Submission) {}, 0, "photos"},
		{"six photos", func(*Submission) {}, 6, "photos"},
		{"phone", func(s *Submission) { s.Contact.Phone = "call me" }, 1, "contact.phone"},
		{"email", func(s *Submission) { s.Contact.Email = "a <b@c>" }, 1, "contact.email"},
		{"long name", func(s *Submission) { s.Contact.Name = strings.Repeat("a", MaxContact+1) }, 1, "contact.name"},
	} {
		s := good()
		tc.change(&s)
		_, _, err := s.Check(rules, tc.photos)
		var se *SubmissionError
		if !errors.As(err, &se) || se.Field != tc.field {
			t.Errorf("%s: %v, want a problem with %s", tc.name, err, tc.field)
		}
	}
}

func TestTicket(t *testing.T) {
	day := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC) // 1 December in Vietnam
	tk := NewTicket(day, []byte{0, 1, 18, 31, 200, 255})
	if tk != "PA-261201-01JZ8Z" || !ValidTicket(tk) {
		t.Errorf("ticket %q", tk)
	}
	for _, bad := range []string{"PA-261201-01IZ8Z", "PA-26121-01JZ8Z", "pa-261201-01jz8z", "PA-261201-01JZ8Z' OR 1=1"} {
		if ValidTicket(bad) {
			t.Errorf("%q passed as a ticket", bad)
		}
	}
	if k := ClientKey("app", "dev", "id"); k != ClientKey("app", "dev", "id") || k == ClientKey("app", "dev", "id2") || k == ClientKey("app", "dev2", "id") {
		t.Error("a client key is not the app, device and id's own")
	}
}
