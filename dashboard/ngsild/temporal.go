package ngsild

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TemporalParams are the temporal query's own parameters as the URL gives them.
type TemporalParams struct {
	TimeRel, TimeAt, EndTimeAt string
	LastN                      string
	AggrMethods, AggrPeriod    string
	// Options holds the options parameter (temporalValues, aggregatedValues).
	Options string
}

// Temporal is a parsed temporal query: the window, and raw values (at most LastN of each
// attribute, newest) or aggregates over periods.
type Temporal struct {
	From, To time.Time
	LastN    int
	// Aggr lists the aggregation methods (avg, min, max, sum, totalCount); empty: values.
	Aggr   []string
	Period time.Duration
	// Simplified answers [value, time] pairs (options=temporalValues).
	Simplified bool
}

// AggrMethods are the aggregation methods served (the rollups hold them).
var AggrMethods = []string{"avg", "min", "max", "sum", "totalCount"}

// TemporalTypes are the entity types with temporal values: the observations.
var TemporalTypes = []string{TypeTrafficFlowObserved, TypeWaterObserved, TypeWaterQualityObserved, TypeWeatherObserved}

// isoDuration is the part of ISO 8601 durations aggregation periods take: days, hours, minutes,
// seconds.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// ParseDuration reads an ISO 8601 duration of days, hours, minutes and seconds (P1D, PT1H,
// PT15M).
func ParseDuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as PT1H or P1D", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, err := strconv.Atoi(m[i+1])
			if err != nil || n > 100_000 {
				return 0, fmt.Errorf("%q: a part too large", s)
			}
			d += time.Duration(n) * unit
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is no time", s)
	}
	return d, nil
}

// ParseTemporal checks a temporal query's parameters at now: timerel before, after or between
// (after runs to now; before covers the maxSpan before timeAt), lastN, the aggregation.
func ParseTemporal(p TemporalParams, now time.Time, maxSpan time.Duration) (*Temporal, error) {
	t := &Temporal{}
	at, err := time.Parse(time.RFC3339Nano, p.TimeAt)
	if p.TimeRel == "" || err != nil {
		return nil, BadRequest("timeAt", "a temporal query needs timerel (before, after, between) and timeAt as an RFC 3339 date-time")
	}
	switch p.TimeRel {
	case "before":
		t.From, t.To = at.Add(-maxSpan), at
	case "after":
		t.From, t.To = at, now
	case "between":
		end, err := time.Parse(time.RFC3339Nano, p.EndTimeAt)
		if err != nil {
			return nil, BadRequest("endTimeAt", "between needs endTimeAt as an RFC 3339 date-time")
		}
		t.From, t.To = at, end
	default:
		return nil, BadRequest("timerel", fmt.Sprintf("%q: want before, after or between", p.TimeRel))
	}
	if !t.To.After(t.From) {
		return nil, BadRequest("timeAt", "the window is empty: its end is not after its start")
	}
	if t.To.Sub(t.From) > maxSpan {
		return nil, BadRequest("endTimeAt", fmt.Sprintf("a window of %s is longer than %s", t.To.Sub(t.From).Round(time.Second), maxSpan))
	}
	if p.LastN != "" {
		if t.LastN, err = strconv.Atoi(p.LastN); err != nil || t.LastN < 1 {
			return nil, BadRequest("lastN", "want a whole number ≥ 1")
		}
	}
	opts := strings.Split(p.Options, ",")
	t.Simplified = slices.Contains(opts, "temporalValues")
	if p.AggrMethods == "" && p.AggrPeriod == "" && !slices.Contains(opts, "aggregatedValues") {
		return t, nil
	}
	for _, m := range strings.Split(p.AggrMethods, ",") {
		if !slices.Contains(AggrMethods, m) {
			return nil, &Problem{Type: ErrOperationNotSupported, Title: "Operation not supported", Status: 422,
				Detail: fmt.Sprintf("aggrMethods %q: served are %s", m, strings.Join(AggrMethods, ", "))}
		}
		t.Aggr = append(t.Aggr, m)
	}
	if t.Period, err = ParseDuration(p.AggrPeriod); err != nil {
		return nil, BadRequest("aggrPeriodDuration", err.Error())
	}
	return t, nil
}

// Sample is one stored value.
type Sample struct {
	T     time.Time
	Value float64
}

// Bucket is one aggregation period's figures.
type Bucket struct {
	From, To           time.Time
	Count              uint64
	Min, Max, Avg, Sum float64
}

// TemporalValues is an attribute's values in the temporal representation: each an instance
// with its observedAt, or [value, time] pairs when simplified.
func TemporalValues(samples []Sample, unitCode string, simplified bool) any {
	if simplified {
		pairs := make([][]any, len(samples))
		for i, s := range samples {
			pairs[i] = []any{s.Value, stamp(s.T)}
		}
		return map[string]any{"type": "Property", "values": pairs}
	}
	out := make([]Attr, len(samples))
	for i, s := range samples {
		out[i] = Attr{Type: "Property", Value: s.Value, ObservedAt: stamp(s.T), UnitCode: unitCode}
	}
	return out
}

// Aggregated is an attribute's aggregates over its periods: for each method, [value, from, to]
// triples.
func Aggregated(buckets []Bucket, methods []string) map[string]any {
	out := map[string]any{"type": "Property"}
	for _, m := range methods {
		triples := make([][]any, 0, len(buckets))
		for _, b := range buckets {
			var v any
			switch m {
			case "avg":
				v = b.Avg
			case "min":
				v = b.Min
			case "max":
				v = b.Max
			case "sum":
				v = b.Sum
			case "totalCount":
				v = b.Count
			}
			triples = append(triples, []any{v, stamp(b.From), stamp(b.To)})
		}
		out[m] = triples
	}
	return out
}

// Metric is the metric an attribute of an entity type holds ("" when none).
func Metric(typ, attr string) string {
	for metric, a := range Attribute[typ] {
		if a == attr {
			return metric
		}
	}
	return ""
}

// UnitCode is the unitCode of a unit ("" when unknown).
func UnitCode(unit string) string { return unitCodes[unit] }
