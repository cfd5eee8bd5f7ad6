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

// States of a report, as the citizen sees them.
const (
	StateReceived   = "received"    // tiếp nhận
	StateInProgress = "in_progress" // đang xử lý
	StateResolved   = "resolved"    // đã xử lý
	StateRejected   = "rejected"    // từ chối
)

// Report is an accepted citizen report.
type Report struct {
	ID     string `json:"id"`
	Ticket string `json:"ticket"`
	// App is the app key's id; Device the device's id as the app sent it, hashed.
	App    string `json:"app"`
	Device string `json:"device"`
	// ClientID is the app's id of the report; ClientKey the hash of app, device and client id
	// that finds a resubmission.
	ClientID    string       `json:"client_id"`
	ClientKey   string       `json:"client_key"`
	Category    string       `json:"category"`
	Description string       `json:"description"`
	Location    geo.Location `json:"location"`
	District    string       `json:"district"`
	Commune     string       `json:"commune,omitempty"`
	ReportedAt  time.Time    `json:"reported_at,omitzero"`
	Received    time.Time    `json:"received"`
	Contact     *Contact     `json:"contact,omitempty"`
	Photos      []PhotoRef   `json:"photos"`
	// Camera is the nearest camera of the catalog within CameraRadiusM, when one is;
	// CameraDistanceM how far it is.
	Camera          string  `json:"camera,omitempty"`
	CameraDistanceM float64 `json:"camera_distance_m,omitempty"`
	Triage
}

// Triage is what the agencies did with a report so far: its state, the units it is routed to,
// the alert that routes it with the others of its group, its deadline and the answer.
type Triage struct {
	State string `json:"state"`
	// Answer is the agency's answer (or why the report was rejected), shown to the citizen by
	// ticket.
	Answer string `json:"answer,omitempty"`
	// Units are the units the report is routed to.
	Units []string `json:"units,omitempty"`
	// Alert is the alert that routes the report; Group how many reports it groups (reports of
	// one category within 50 m and 2 h).
	Alert string `json:"alert,omitempty"`
	Group int    `json:"group,omitempty"`
	// DueAt is when the answer is due (the category's deadline in working days); Overdue is
	// set once it passed unanswered.
	DueAt   time.Time `json:"due_at,omitzero"`
	Overdue bool      `json:"overdue,omitempty"`
}

// CameraRadiusM is how near a camera must be to a report for the report to link to it.
const CameraRadiusM = 150.0

// PhotoRef is a kept photo of a report: its content hash and its thumbnail's, and what its
// EXIF said of where and when it was taken.
type PhotoRef struct {
	Hash      string        `json:"hash"`
	Thumb     string        `json:"thumb"`
	Width     int           `json:"width"`
	Height    int           `json:"height"`
	Taken     time.Time     `json:"taken,omitzero"`
	Location  *geo.Location `json:"location,omitempty"`
	DistanceM float64       `json:"distance_m,omitempty"`
}

// Ref is what a report keeps of p.
func (p *Photo) Ref() PhotoRef {
	return PhotoRef{Hash: p.Hash, Thumb: p.ThumbHash, Width: p.Width, Height: p.Height, Taken: p.EXIF.Taken,
		Location: p.EXIF.Location, DistanceM: p.DistanceFromReportM}
}

// ClientKey is the key of an app's report from one device: the same app, device and client id
// are the same report.
func ClientKey(app, device, clientID string) string {
	return Hash([]byte(app + "\x00" + device + "\x00" + clientID))
}

// ticketAlphabet is Crockford's base 32: no I, L, O or U to misread on a phone.
const ticketAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewTicket is a public ticket number, PA-<yymmdd>-<six characters>, from random bytes (at
// least six): short enough to read over the phone, and a billion a day apart.
func NewTicket(day time.Time, random []byte) string {
	b := make([]byte, 6)
	for i := range b {
		b[i] = ticketAlphabet[random[i]%32]
	}
	return "PA-" + day.In(geo.Zone).Format("060102") + "-" + string(b)
}

// ticketPattern is the form of a ticket.
var ticketPattern = regexp.MustCompile(`^PA-[0-9]{6}-[0-9A-HJKMNP-TV-Z]{6}$`)

// ValidTicket tells whether s has a ticket's form.
func ValidTicket(s string) bool { return ticketPattern.MatchString(s) }

// Category is a kind of report the citizens send and who first takes it.
type Category struct {
	ID string `json:"id"`
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Categories are the report categories of the citizen apps of the sources (Lâm Đồng's and the
// other provinces' smart-city apps).
var Categories = []Category{
	{"public_order", "Trật tự, an ninh", "Public order and security"},
	{"traffic", "Giao thông", "Traffic"},
	{"illegal_construction", "Xây dựng trái phép", "Illegal construction"},
	{"encroachment", "Lấn chiếm vỉa hè, lòng đường", "Encroachment on pavements and roads"},
	{"sanitation", "Vệ sinh môi trường, rác thải", "Sanitation and waste"},
	{"flooding", "Ngập úng", "Flooding"},
	{"street_lighting", "Chiếu sáng, hạ tầng đô thị", "Street lighting and urban infrastructure"},
	{"water_supply", "Cấp nước, thoát nước", "Water supply and drainage"},
	{"market_prices", "Giá cả, thị trường", "Market prices"},
	{"other", "Khác", "Other"},
}

// CategoryIDs is the set of category ids, as Rules takes them.
func CategoryIDs() map[string]bool {
	out := make(map[string]bool, len(Categories))
	for _, c := range Categories {
		out[c.ID] = true
	}
	return out
}
