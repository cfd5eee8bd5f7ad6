package ingest

import (
	"strconv"
	"time"
)

// scanPack is SenMLDecoder's fast path: it reads a pack of flat records (string, number and
// boolean values; strings without escapes; no field ending in "_") straight from the bytes,
// without reflection and with few allocations. ok is false for anything else, valid or not,
// and the caller then takes the careful path, which reads every JSON and names every error.
func scanPack(body []byte, topicSensor string, now time.Time) (readings []Reading, rejections []Rejection, ok bool) {
	s := jsonScanner{b: body}
	if !s.consume('[') || s.peek() == ']' {
		return nil, nil, false
	}
	var res senmlResolver
	readings = make([]Reading, 0, countByte(body, '{'))
	var prevN string
	for i := 0; ; i++ {
		var rec senmlRecord
		if !s.consume('{') {
			return nil, nil, false
		}
		for first := true; !s.consume('}'); first = false {
			if !first && !s.consume(',') {
				return nil, nil, false
			}
			key, isStr := s.str()
			if !isStr || len(key) == 0 || key[len(key)-1] == '_' || !s.consume(':') {
				return nil, nil, false
			}
			switch string(key) {
			case "bn", "bu", "n", "u", "vs", "vd":
				raw, isStr := s.str()
				if !isStr {
					return nil, nil, false
				}
				if string(key) == "n" { // a pack's records mostly repeat their name: share it
					if string(raw) != prevN {
						prevN = string(raw)
					}
					rec.N = prevN
				} else {
					rec.setString(string(key), string(raw))
				}
			case "vb":
				b, isBool := s.boolean()
				if !isBool {
					return nil, nil, false
				}
				rec.VB, rec.has = b, rec.has|hasVB
			default: // a number, or an unknown field's scalar
				raw, isNum := s.number()
				if !isNum {
					switch string(key) {
					case "bt", "bv", "bs", "t", "v", "s": // a known number field that is not one
						return nil, nil, false
					}
					if !s.skipScalar() {
						return nil, nil, false
					}
					continue
				}
				f, err := strconv.ParseFloat(string(raw), 64)
				if err != nil {
					return nil, nil, false
				}
				rec.setNumber(string(key), f)
			}
		}
		r, hasValue, rej := res.resolve(&rec, topicSensor, now)
		if rej != nil {
			rej.Detail = "record " + strconv.Itoa(i) + ": " + rej.Detail
			rej.Record = body
			rejections = append(rejections, *rej)
		} else if hasValue {
			readings = append(readings, r)
		}
		if s.consume(']') {
			break
		}
		if !s.consume(',') {
			return nil, nil, false
		}
	}
	s.ws()
	return readings, rejections, s.i == len(s.b)
}

func countByte(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

// jsonScanner walks JSON bytes for scanPack; every method skips leading white space.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\r' || s.b[s.i] == '\t') {
		s.i++
	}
}

func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters and returns its bytes.
func (s *jsonScanner) str() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// number reads the bytes of a JSON number, by the grammar of RFC 8259 §6 (on failure it
// reads nothing):
// -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.at('-') {
		s.i++
	}
	switch {
	case s.at('0'):
		s.i++
	case s.digits() == 0:
		s.i = start
		return nil, false
	}
	if s.at('.') {
		s.i++
		if s.digits() == 0 {
			s.i = start
			return nil, false
		}
	}
	if s.at('e') || s.at('E') {
		s.i++
		if s.at('+') || s.at('-') {
			s.i++
		}
		if s.digits() == 0 {
			s.i = start
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *jsonScanner) at(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// digits skips a run of decimal digits and says how many there were.
func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *jsonScanner) boolean() (bool, bool) {
	s.ws()
	switch {
	case hasPrefixAt(s.b, s.i, "true"):
		s.i += 4
		return true, true
	case hasPrefixAt(s.b, s.i, "false"):
		s.i += 5
		return false, true
	}
	return false, false
}

// skipScalar skips a string, boolean or null; objects and arrays are left to the careful path.
func (s *jsonScanner) skipScalar() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case 't', 'f':
		_, ok := s.boolean()
		return ok
	case 'n':
		if hasPrefixAt(s.b, s.i, "null") {
			s.i += 4
			return true
		}
	}
	return false
}

func hasPrefixAt(b []byte, i int, word string) bool {
	return len(b)-i >= len(word) && string(b[i:i+len(word)]) == word
}
