package ngsild

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bounds of a q expression: longer or deeper ones are refused, never run.
const (
	maxQLen   = 1000
	maxQTerms = 32
	maxQDepth = 8
)

// Query is a parsed q expression (ETSI GS CIM 009, 4.9): terms joined by ";" (and) and "|"
// (or), ";" binding tighter, grouped by parentheses.
type Query struct{ root qnode }

type qnode interface{ match(e *Entity) bool }

type qand []qnode

func (n qand) match(e *Entity) bool {
	for _, c := range n {
		if !c.match(e) {
			return false
		}
	}
	return true
}

type qor []qnode

func (n qor) match(e *Entity) bool {
	for _, c := range n {
		if c.match(e) {
			return true
		}
	}
	return false
}

// qterm is one comparison: attr (and optionally its observedAt or unitCode, or a path into its
// structured value: attr[key][key]…) op value; op "" asks only that the attribute exists.
type qterm struct {
	attr, sub string
	path      []string
	op        string
	values    []qvalue // one, or a list for == and !=
	lo, hi    *qvalue  // a range for == and !=
	re        *regexp.Regexp
}

// qvalue is a literal: a number, a string, a boolean or a date-time.
type qvalue struct {
	num  *float64
	str  *string
	b    *bool
	time *time.Time
}

// ParseQ parses a q expression, or says what is wrong with it.
func ParseQ(s string) (*Query, error) {
	if len(s) > maxQLen {
		return nil, fmt.Errorf("q is %d bytes long: at most %d", len(s), maxQLen)
	}
	p := &qparser{s: s}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(s) {
		return nil, fmt.Errorf("q: unexpected %q at %d", s[p.pos:], p.pos)
	}
	return &Query{root: n}, nil
}

// Match tells whether e satisfies q.
func (q *Query) Match(e *Entity) bool { return q.root.match(e) }

type qparser struct {
	s     string
	pos   int
	terms int
}

// or parses terms joined by "|".
func (p *qparser) or(depth int) (qnode, error) {
	return p.joined(depth, '|', p.and, func(n []qnode) qnode { return qor(n) })
}

// and parses terms joined by ";".
func (p *qparser) and(depth int) (qnode, error) {
	return p.joined(depth, ';', p.factor, func(n []qnode) qnode { return qand(n) })
}

// joined parses items joined by sep, each by next: one item is itself, several are join's.
func (p *qparser) joined(depth int, sep byte, next func(int) (qnode, error), join func([]qnode) qnode) (qnode, error) {
	var out []qnode
	for {
		n, err := next(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if p.pos < len(p.s) && p.s[p.pos] == sep {
			p.pos++
			continue
		}
		if len(out) == 1 {
			return out[0], nil
		}
		return join(out), nil
	}
}

func (p *qparser) factor(depth int) (qnode, error) {
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		if depth >= maxQDepth {
			return nil, fmt.Errorf("q: parentheses nest deeper than %d", maxQDepth)
		}
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, fmt.Errorf("q: missing ) at %d", p.pos)
		}
		p.pos++
		return n, nil
	}
	return p.term()
}

var (
	attrPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?`)
	pathPattern = regexp.MustCompile(`^\[([A-Za-z_][A-Za-z0-9_]*)\]`)
	operators   = []string{"==", "!=", ">=", "<=", "!~=", "~=", ">", "<"}
)

func (p *qparser) term() (qnode, error) {
	if p.terms++; p.terms > maxQTerms {
		return nil, fmt.Errorf("q has more than %d terms", maxQTerms)
	}
	name := attrPattern.FindString(p.s[p.pos:])
	if name == "" {
		return nil, fmt.Errorf("q: want an attribute name at %d, got %q", p.pos, rest(p.s[p.pos:]))
	}
	p.pos += len(name)
	t := &qterm{attr: name}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		t.attr, t.sub = name[:i], name[i+1:]
		if t.sub != "observedAt" && t.sub != "unitCode" {
			return nil, fmt.Errorf("q: %s: only observedAt and unitCode may follow an attribute", name)
		}
	}
	for t.sub == "" { // a path into the attribute's structured value: address[addressRegion]
		m := pathPattern.FindStringSubmatch(p.s[p.pos:])
		if m == nil {
			break
		}
		if len(t.path) == maxQDepth {
			return nil, fmt.Errorf("q: %s: a path deeper than %d", name, maxQDepth)
		}
		t.path = append(t.path, m[1])
		p.pos += len(m[0])
	}
	for _, op := range operators {
		if strings.HasPrefix(p.s[p.pos:], op) {
			t.op = op
			p.pos += len(op)
			break
		}
	}
	if t.op == "" {
		return t, nil // the attribute exists
	}
	end := p.pos
	inQuote := false
	for end < len(p.s) && (inQuote || !strings.ContainsRune(";|()", rune(p.s[end]))) {
		if p.s[end] == '"' {
			inQuote = !inQuote
		}
		end++
	}
	if inQuote {
		return nil, fmt.Errorf("q: unterminated string at %d", p.pos)
	}
	raw := p.s[p.pos:end]
	p.pos = end
	if raw == "" {
		return nil, fmt.Errorf("q: %s%s wants a value", name, t.op)
	}
	return t, t.parseValue(raw)
}

func rest(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func (t *qterm) parseValue(raw string) error {
	if t.op == "~=" || t.op == "!~=" {
		if len(raw) > 256 {
			return fmt.Errorf("q: the pattern of %s is longer than 256 bytes", t.attr)
		}
		re, err := regexp.Compile(strings.Trim(raw, `"`))
		if err != nil {
			return fmt.Errorf("q: the pattern of %s: %v", t.attr, err)
		}
		t.re = re
		return nil
	}
	if t.op == "==" || t.op == "!=" {
		if lo, hi, ok := strings.Cut(raw, ".."); ok && !strings.HasPrefix(raw, `"`) {
			l, err := literal(lo)
			if err != nil {
				return err
			}
			h, err := literal(hi)
			if err != nil {
				return err
			}
			t.lo, t.hi = &l, &h
			return nil
		}
		for _, part := range splitList(raw) {
			v, err := literal(part)
			if err != nil {
				return err
			}
			t.values = append(t.values, v)
		}
		return nil
	}
	v, err := literal(raw)
	if err != nil {
		return err
	}
	if v.b != nil {
		return fmt.Errorf("q: %s%s%s: a boolean is only compared with == or !=", t.attr, t.op, raw)
	}
	t.values = []qvalue{v}
	return nil
}

// splitList splits a value list at the commas outside quotes.
func splitList(s string) []string {
	var out []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func literal(s string) (qvalue, error) {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		v := s[1 : len(s)-1]
		return qvalue{str: &v}, nil
	case s == "true" || s == "false":
		b := s == "true"
		return qvalue{b: &b}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return qvalue{num: &f}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return qvalue{time: &t}, nil
		}
	}
	return qvalue{}, fmt.Errorf("q: %q is not a number, a quoted string, true, false or a date-time", s)
}

func (t *qterm) match(e *Entity) bool {
	a, ok := e.Attrs[t.attr]
	if t.attr == "id" {
		a, ok = Attr{Value: e.ID}, true
	}
	if !ok {
		return false
	}
	var v any = a.Value
	switch t.sub {
	case "observedAt":
		if a.ObservedAt == "" {
			return false
		}
		v = a.ObservedAt
	case "unitCode":
		if a.UnitCode == "" {
			return false
		}
		v = a.UnitCode
	}
	for _, key := range t.path {
		m, _ := v.(map[string]any)
		if v, ok = m[key]; !ok {
			return false
		}
	}
	if m, ok := v.(map[string]any); ok && m["@type"] == "DateTime" {
		v = m["@value"]
	}
	switch t.op {
	case "":
		return true
	case "~=", "!~=":
		s, ok := v.(string)
		return ok && t.re.MatchString(s) == (t.op == "~=")
	case "==", "!=":
		hit := false
		if t.lo != nil {
			lo, hi := compare(v, *t.lo), compare(v, *t.hi)
			hit = lo != incomparable && hi != incomparable && lo >= 0 && hi <= 0
		} else {
			for _, want := range t.values {
				if anyEqual(v, want) {
					hit = true
				}
			}
		}
		return hit == (t.op == "==")
	}
	c := compare(v, t.values[0])
	if c == incomparable {
		return false
	}
	switch t.op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	}
	return c <= 0
}

// incomparable is compare's answer for values of different kinds.
const incomparable = 2

// anyEqual tells whether v (a value or a list of values) equals want.
func anyEqual(v any, want qvalue) bool {
	if list, ok := v.([]string); ok {
		for _, s := range list {
			if compare(s, want) == 0 {
				return true
			}
		}
		return false
	}
	return compare(v, want) == 0
}

// compare orders v against a literal: -1, 0, 1, or incomparable.
func compare(v any, want qvalue) int {
	switch x := v.(type) {
	case float64:
		if want.num != nil {
			return cmp3(x, *want.num)
		}
	case int:
		if want.num != nil {
			return cmp3(float64(x), *want.num)
		}
	case bool:
		if want.b != nil && x == *want.b {
			return 0
		} else if want.b != nil {
			return 1
		}
	case string:
		switch {
		case want.str != nil:
			return strings.Compare(x, *want.str)
		case want.time != nil:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.Compare(*want.time)
			}
		}
	}
	return incomparable
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
