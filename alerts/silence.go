package alerts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Silence mutes the alerts its matchers select between StartsAt and EndsAt: they keep their
// lifecycle and events but are not notified.
type Silence struct {
	ID       string    `json:"id"`
	Matchers Matchers  `json:"matchers"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Author   string    `json:"author"`
	Reason   string    `json:"reason"`
	// UpdatedAt orders the stored versions of a silence; expiring one early stores a new
	// version with an earlier EndsAt.
	UpdatedAt time.Time `json:"updated_at"`
}

// ActiveAt reports whether the silence mutes at t.
func (s *Silence) ActiveAt(t time.Time) bool { return !t.Before(s.StartsAt) && t.Before(s.EndsAt) }

// maxSilence bounds a silence, so that a forgotten one does not hide a province's alerts
// forever.
const maxSilence = 90 * 24 * time.Hour

// ErrInvalid marks a request the engine refuses as wrong (a bad silence, an unknown alert
// state change); the dashboard answers 400 or 409 to it.
var ErrInvalid = errors.New("invalid")

// validate checks a silence before the engine takes it.
func (s *Silence) validate() error {
	var probs []string
	if len(s.Matchers) == 0 {
		probs = append(probs, "no matcher: a silence must say which alerts it mutes")
	}
	for name, values := range s.Matchers {
		if !slices.Contains(LabelNames, name) {
			probs = append(probs, fmt.Sprintf("unknown label %q", name))
		}
		if len(values) == 0 {
			probs = append(probs, fmt.Sprintf("label %q has no value", name))
		}
	}
	if !s.EndsAt.After(s.StartsAt) {
		probs = append(probs, "ends_at must come after starts_at")
	}
	if s.EndsAt.Sub(s.StartsAt) > maxSilence {
		probs = append(probs, fmt.Sprintf("longer than %d days", int(maxSilence.Hours()/24)))
	}
	if strings.TrimSpace(s.Author) == "" || strings.TrimSpace(s.Reason) == "" {
		probs = append(probs, "author and reason are required")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w silence: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return nil
}
