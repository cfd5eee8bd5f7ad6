package citizen

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// Submission is a report as a citizen app sends it, without its photos (they travel as their
// own parts of the request).
type Submission struct {
	// ClientID is the app's own id for the report (a UUID): sent again, it is the same report.
	ClientID    string       `json:"client_id"`
	Category    string       `json:"category"`
	Description string       `json:"description"`
	Location    geo.Location `json:"location"`
	// ReportedAt is the device's clock when the citizen sent it; zero when unknown.
	ReportedAt time.Time `json:"reported_at,omitzero"`
	Contact    *Contact  `json:"contact,omitempty"`
}

// Contact is how the agency may reach the citizen, when given; it is shown to the units that
// handle the report, never published.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Limits of a submission.
const (
	MaxDescription = 4000 // characters
	MinDescription = 10
	MaxPhotos      = 5
	MaxContact     = 200 // characters of each contact field
)

// Rules are what a submission is checked against: the categories known, where the province
// is, and the clock.
type Rules struct {
	// Categories are the category ids known.
	Categories map[string]bool
	// Locate names the district (and commune) a position lies in: "" is outside the province.
	Locate func(geo.Location) (district, commune string)
	// Now is the server's clock; a device time more than MaxSkew ahead of it is refused.
	Now     time.Time
	MaxSkew time.Duration
}

// SubmissionError is why a submission was refused: the field and a message.
type SubmissionError struct {
	Field, Msg string
}

func (e *SubmissionError) Error() string { return e.Field + ": " + e.Msg }

func refuse(field, format string, args ...any) error {
	return &SubmissionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,64}$`)
	phonePattern    = regexp.MustCompile(`^\+?[0-9 .-]{8,20}$`)
)

// Check refuses a submission that cannot be a report, saying which field and why, and answers
// the district and commune it lies in.
func (s *Submission) Check(r Rules, photos int) (district, commune string, err error) {
	if !clientIDPattern.MatchString(s.ClientID) {
		return "", "", refuse("client_id", "want the app's id of the report: 8 to 64 letters, digits or . _ : -")
	}
	if !r.Categories[s.Category] {
		return "", "", refuse("category", "unknown category %q", clip(s.Category))
	}
	desc := strings.TrimSpace(s.Description)
	if !utf8.ValidString(desc) {
		return "", "", refuse("description", "not UTF-8 text")
	}
	if n := utf8.RuneCountInString(desc); n < MinDescription || n > MaxDescription {
		return "", "", refuse("description", "%d characters: want %d to %d", n, MinDescription, MaxDescription)
	}
	s.Description = desc
	if msg := s.Location.Problem(); msg != "" {
		return "", "", refuse("location", "%s", msg)
	}
	if r.Locate != nil {
		if district, commune = r.Locate(s.Location); district == "" {
			return "", "", refuse("location", "lat %g, lon %g lies outside the province", s.Location.Lat, s.Location.Lon)
		}
	}
	if !s.ReportedAt.IsZero() && r.MaxSkew > 0 && s.ReportedAt.After(r.Now.Add(r.MaxSkew)) {
		return "", "", refuse("reported_at", "%s is in the future", s.ReportedAt.UTC().Format(time.RFC3339))
	}
	if photos < 1 || photos > MaxPhotos {
		return "", "", refuse("photos", "%d photos: want 1 to %d", photos, MaxPhotos)
	}
	if c := s.Contact; c != nil {
		for field, v := range map[string]string{"contact.name": c.Name, "contact.phone": c.Phone, "contact.email": c.Email} {
			if utf8.RuneCountInString(v) > MaxContact || !utf8.ValidString(v) {
				return "", "", refuse(field, "want UTF-8 text of at most %d characters", MaxContact)
			}
		}
		if c.Phone != "" && !phonePattern.MatchString(c.Phone) {
			return "", "", refuse("contact.phone", "want a phone number such as 0912 345 678 or +84 912 345 678")
		}
		if c.Email != "" && (!strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " <>")) {
			return "", "", refuse("contact.email", "want an e-mail address")
		}
	}
	return district, commune, nil
}

// clip shortens what a citizen sent for a message: 40 characters at most.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
