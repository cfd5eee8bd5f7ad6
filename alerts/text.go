package alerts

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// templateFuncs are the functions rule texts may call.
var templateFuncs = template.FuncMap{
	// num prints a value with up to two decimals, the Vietnamese way (comma as decimal mark).
	"num": func(v float64) string {
		s := strconv.FormatFloat(v, 'f', 2, 64)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return strings.Replace(s, ".", ",", 1)
	},
	// dec prints a value with up to two decimals and a decimal point.
	"dec": func(v float64) string {
		s := strconv.FormatFloat(v, 'f', 2, 64)
		return strings.TrimRight(strings.TrimRight(s, "0"), ".")
	},
	// roman prints an alarm level as I, II, III.
	"roman": func(level int) string {
		switch level {
		case 1:
			return "I"
		case 2:
			return "II"
		case 3:
			return "III"
		}
		return strconv.Itoa(level)
	},
}

// parseTemplate compiles one rule text; the empty text is valid.
func parseTemplate(s string) (*template.Template, error) {
	t, err := template.New("").Option("missingkey=error").Funcs(templateFuncs).Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return t, nil
}

// textTemplate is a Text compiled.
type textTemplate struct{ vi, en *template.Template }

func compileText(t Text) textTemplate {
	// validate has compiled them once already: an error here cannot happen.
	vi, _ := parseTemplate(t.VI)
	en, _ := parseTemplate(t.EN)
	return textTemplate{vi, en}
}

// render renders the text for a; a template that fails at run time leaves its raw text, so
// the alert still says something.
func (tt textTemplate) render(a *Alert, raw Text) Text {
	exec := func(t *template.Template, fallback string) string {
		if fallback == "" {
			return ""
		}
		var b strings.Builder
		if err := t.Execute(&b, a); err != nil {
			return fallback
		}
		return b.String()
	}
	return Text{VI: exec(tt.vi, raw.VI), EN: exec(tt.en, raw.EN)}
}

// hours is a daily window in local time (Asia/Ho_Chi_Minh), such as 22:00-05:00; the zero
// value is the whole day.
type hours struct {
	from, to int // minutes after midnight
	set      bool
}

var hoursRE = regexp.MustCompile(`^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$`)

func parseHours(s string) (hours, error) {
	if s == "" {
		return hours{}, nil
	}
	m := hoursRE.FindStringSubmatch(s)
	if m == nil {
		return hours{}, fmt.Errorf("want HH:MM-HH:MM in local time (e.g. 22:00-05:00), got %q", s)
	}
	at := func(h, mm string) int { a, _ := strconv.Atoi(h); b, _ := strconv.Atoi(mm); return a*60 + b }
	h := hours{from: at(m[1], m[2]), to: at(m[3], m[4]), set: true}
	if h.from == h.to {
		return hours{}, fmt.Errorf("%q is an empty window", s)
	}
	return h, nil
}

// Local is the operators' time zone (geo.Zone).
var Local = geo.Zone

// contains reports whether t falls in the window, in local time.
func (h hours) contains(t time.Time) bool {
	if !h.set {
		return true
	}
	lt := t.In(Local)
	m := lt.Hour()*60 + lt.Minute()
	if h.from < h.to {
		return m >= h.from && m < h.to
	}
	return m >= h.from || m < h.to // across midnight
}

// globRegexp compiles a glob (* and ?) matched against a camera event's rule name.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// MaxText bounds what people write in the operations floor's free text (a duty log line, a
// handover's notes, an incident's note or summary), in characters.
const MaxText = 4000

// CheckText refuses a person's text for field with invalid (the caller's sentinel) saying what
// is wrong: not UTF-8, empty when required, or longer than MaxText; nil when nothing is.
func CheckText(field, s string, required bool, invalid error) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not valid UTF-8", invalid, field)
	case required && n == 0:
		return fmt.Errorf("%w: %s is empty", invalid, field)
	case n > MaxText:
		return fmt.Errorf("%w: %s has %d characters, at most %d", invalid, field, n, MaxText)
	}
	return nil
}

// NewID is a random id of 16 hex digits (silences, duty log lines, handovers, incidents).
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
