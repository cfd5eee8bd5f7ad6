package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// State is where an alert is in its lifecycle.
type State string

// Alert states: pending (the condition holds, its `for` has not passed), firing, acknowledged
// (someone took it), resolved (the condition stopped, or an operator resolved it).
const (
	StatePending      State = "pending"
	StateFiring       State = "firing"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Active reports whether an alert in state s still needs someone (firing or acknowledged).
func (s State) Active() bool { return s == StateFiring || s == StateAcknowledged }

// Severity follows the Smart Data Models Alert vocabulary.
type Severity string

// Severities, mildest first.
const (
	SeverityInformational Severity = "informational"
	SeverityLow           Severity = "low"
	SeverityMedium        Severity = "medium"
	SeverityHigh          Severity = "high"
	SeverityCritical      Severity = "critical"
)

// Severities lists the severities, mildest first.
var Severities = []Severity{SeverityInformational, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities: 0 for informational up to 4 for critical, -1 when unknown.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i
		}
	}
	return -1
}

// CAP is the OASIS CAP 1.2 severity of s.
func (s Severity) CAP() string {
	switch s {
	case SeverityCritical:
		return "Extreme"
	case SeverityHigh:
		return "Severe"
	case SeverityMedium:
		return "Moderate"
	case SeverityLow, SeverityInformational:
		return "Minor"
	}
	return "Unknown"
}

// Vietnamese is how operators read s.
func (s Severity) Vietnamese() string {
	switch s {
	case SeverityCritical:
		return "Khẩn cấp"
	case SeverityHigh:
		return "Cao"
	case SeverityMedium:
		return "Trung bình"
	case SeverityLow:
		return "Thấp"
	}
	return "Thông tin"
}

// Categories are the Smart Data Models Alert categories, with their Vietnamese names.
var Categories = map[string]string{
	"traffic":          "Giao thông",
	"naturalDisaster":  "Thiên tai",
	"weather":          "Thời tiết",
	"environment":      "Môi trường",
	"health":           "Y tế",
	"security":         "An ninh",
	"agriculture":      "Nông nghiệp",
	"infrastructure":   "Hạ tầng",
	"fireAndEmergency": "Cháy nổ và cứu nạn",
}

// Sources of an alert's subject.
const (
	SourceSensor   = "sensor"
	SourceCamera   = "camera"
	SourceDistrict = "district"
)

// Alert is one occurrence of a rule's condition for one subject (a sensor, a camera or a
// district), from the moment it started to hold until it is resolved.
type Alert struct {
	// ID names this occurrence; Fingerprint names the rule and subject, shared by every
	// occurrence, so that one condition gives one alert at a time.
	ID          string `json:"id"`
	Fingerprint string `json:"fingerprint"`
	Rule        string `json:"rule"`
	Source      string `json:"source"`
	Subject     string `json:"subject"`
	// SubjectName is the sensor's, camera's or district's name from its catalog.
	SubjectName string   `json:"subject_name"`
	State       State    `json:"state"`
	Severity    Severity `json:"severity"`
	// RiskLevel is the Vietnamese disaster risk level (cấp độ rủi ro thiên tai, 1-5) the rule
	// gives this severity, 0 when the hazard has none.
	RiskLevel int `json:"risk_level,omitempty"`
	// AlarmLevel is the flood alarm level crossed (báo động I, II, III), 0 when none.
	AlarmLevel  int    `json:"alarm_level,omitempty"`
	Category    string `json:"category"`
	SubCategory string `json:"sub_category"`
	District    string `json:"district"`
	Commune     string `json:"commune,omitempty"`
	// Basin is a sensor's river basin from its catalog, empty when it names none.
	Basin string `json:"basin,omitempty"`
	// Location is the subject's position; zero for district alerts.
	Location geo.Location `json:"location"`
	// Metric and Value are what the condition saw last (the value, sum, average or rate).
	Metric string  `json:"metric,omitempty"`
	Value  float64 `json:"value"`
	// Suspect marks an alert raised by a reading ingest found implausible for its station,
	// and not yet confirmed by a plausible one: operators see it marked, and its public
	// warning waits for a person's approval.
	Suspect bool `json:"suspect,omitempty"`
	// Title and Description are the rule's Vietnamese and English texts rendered for this
	// alert.
	Title       Text `json:"title"`
	Description Text `json:"description"`
	// Instruction tells the public what to do; public warnings (CAP) carry it.
	Instruction Text `json:"instruction,omitzero"`
	// Public marks an alert the CAP feed publishes; CAPExpires is its rule's cap_expires.
	Public     bool          `json:"public"`
	CAPExpires time.Duration `json:"cap_expires,omitempty"`
	// Units are the units the route sends the alert to, escalations included.
	Units []string `json:"units"`
	// Escalation is how many escalation steps have been taken.
	Escalation int    `json:"escalation"`
	Assignee   string `json:"assignee,omitempty"`
	// Seq is the number of the alert's latest event (1 for the first).
	Seq       uint32    `json:"seq"`
	StartsAt  time.Time `json:"starts_at"`
	FiredAt   time.Time `json:"fired_at,omitzero"`
	AckedAt   time.Time `json:"acked_at,omitzero"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at"`
	// Reports are the citizen reports a citizen alert groups (source citizen), first first.
	Reports []string `json:"reports,omitempty"`
	// DueAt is when a citizen alert's reports are due to be answered (its rule's deadline in
	// working days); Overdue is set when it passed with the alert open.
	DueAt   time.Time `json:"due_at,omitzero"`
	Overdue bool      `json:"overdue,omitempty"`
	// Rejected marks a citizen alert closed as unfounded (từ chối); the resolving reason is
	// what its citizens read.
	Rejected bool `json:"rejected,omitempty"`
	// Muted says why the alert is not notified: "silenced by <id>" or "inhibited by <alert>";
	// empty when it is.
	Muted string `json:"muted,omitempty"`
}

// DefaultCAPExpires is how long a public message of each category stays valid when its rule
// sets no cap_expires: a flood or storm warning outlives a traffic notice. Categories not
// listed take DefaultCAPExpiresOther. A warning still active is sent again with each change.
var DefaultCAPExpires = map[string]time.Duration{
	"naturalDisaster":  24 * time.Hour,
	"weather":          12 * time.Hour,
	"environment":      12 * time.Hour,
	"agriculture":      24 * time.Hour,
	"fireAndEmergency": 6 * time.Hour,
	"security":         6 * time.Hour,
	"health":           12 * time.Hour,
	"traffic":          2 * time.Hour,
	"infrastructure":   6 * time.Hour,
}

// DefaultCAPExpiresOther is the validity of a public message of a category DefaultCAPExpires
// does not list.
const DefaultCAPExpiresOther = 6 * time.Hour

// capValidity is how long a's public messages stay valid: its rule's cap_expires, else its
// category's default.
func (a *Alert) capValidity() time.Duration {
	if a.CAPExpires > 0 {
		return a.CAPExpires
	}
	if d, ok := DefaultCAPExpires[a.Category]; ok {
		return d
	}
	return DefaultCAPExpiresOther
}

// Text is a message in Vietnamese and, where written, English.
type Text struct {
	VI string `json:"vi" yaml:"vi"`
	EN string `json:"en,omitempty" yaml:"en"`
}

// Lang returns the text in lang ("vi" or "en"), falling back to Vietnamese.
func (t Text) Lang(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.VI
}

// Label returns the alert's value of a label, for matchers (routes, silences, inhibition):
// rule, source, subject, severity, category, sub_category, district, commune, state, public,
// metric.
func (a *Alert) Label(name string) string {
	switch name {
	case "rule":
		return a.Rule
	case "source":
		return a.Source
	case "subject", "sensor", "camera":
		if name != "subject" && name != a.Source {
			return ""
		}
		return a.Subject
	case "severity":
		return string(a.Severity)
	case "category":
		return a.Category
	case "sub_category":
		return a.SubCategory
	case "district":
		return a.District
	case "commune":
		return a.Commune
	case "basin":
		return a.Basin
	case "state":
		return string(a.State)
	case "public":
		return strconv.FormatBool(a.Public)
	case "metric":
		return a.Metric
	}
	return ""
}

// LabelNames are the labels matchers may name.
var LabelNames = []string{"rule", "source", "subject", "sensor", "camera", "severity", "category", "sub_category", "district", "commune", "basin", "state", "public", "metric"}

// fingerprint names a rule's condition on one subject.
func fingerprint(rule, source, subject string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + source + "\x00" + subject))
	return hex.EncodeToString(h[:8])
}

// alertID names the occurrence of fingerprint fp that started at t.
func alertID(fp string, t time.Time) string {
	h := sha256.Sum256([]byte(fp + "\x00" + strconv.FormatInt(t.UnixNano(), 10)))
	return hex.EncodeToString(h[:10])
}
