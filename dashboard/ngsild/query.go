package ngsild

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// Limits of a query.
const (
	// DefaultLimit is the page size when the query names none.
	DefaultLimit = 20
	// MaxLimit is the largest page: a larger limit is TooManyResults.
	MaxLimit = 1000
	maxIDs   = 100
)

// Params are a query's parameters as the URL gives them.
type Params struct {
	Type, ID, IDPattern, Q, Attrs string
	GeoRel, Geometry, Coordinates string
	GeoProperty                   string
	Limit, Offset                 string
	Count                         bool
	// Options holds the options parameter (keyValues / concise), Format the format one.
	Options, Format string
}

// Request is a parsed query: what it selects, what it returns.
type Request struct {
	Types     []string
	IDs       []string
	IDPattern *regexp.Regexp
	Q         *Query
	Attrs     []string
	geo       *geoQuery
	Limit     int
	Offset    int
	Count     bool
	KeyValues bool
}

// geoQuery is a georel: near a point (within maxDistance or beyond minDistance metres), or
// within a polygon.
type geoQuery struct {
	rel      string
	min, max float64
	point    geo.Location
	ring     [][2]float64 // [lat, lon], as geo.Location.In takes it
}

// Parse checks a query's parameters; a wrong one is a *Problem naming it.
func Parse(p Params) (*Request, error) {
	r := &Request{Limit: DefaultLimit, Count: p.Count}
	var err error
	if p.Type != "" {
		for _, t := range strings.Split(p.Type, ",") {
			if !slices.Contains(Types, t) {
				return nil, BadRequest("type", fmt.Sprintf("unknown entity type %q (served: %s)", t, strings.Join(Types, ", ")))
			}
			r.Types = append(r.Types, t)
		}
	}
	if p.ID != "" {
		r.IDs = strings.Split(p.ID, ",")
		if len(r.IDs) > maxIDs {
			return nil, BadRequest("id", fmt.Sprintf("%d ids: at most %d", len(r.IDs), maxIDs))
		}
		for _, id := range r.IDs {
			if !isURI(id) {
				return nil, BadRequest("id", fmt.Sprintf("%q is not a URI", id))
			}
		}
	}
	if p.IDPattern != "" {
		if len(p.IDPattern) > 256 {
			return nil, BadRequest("idPattern", "longer than 256 bytes")
		}
		if r.IDPattern, err = regexp.Compile(p.IDPattern); err != nil {
			return nil, BadRequest("idPattern", err.Error())
		}
	}
	if p.Q != "" {
		if r.Q, err = ParseQ(p.Q); err != nil {
			return nil, BadRequest("q", err.Error())
		}
	}
	if p.Attrs != "" {
		r.Attrs = strings.Split(p.Attrs, ",")
	}
	if p.GeoRel != "" || p.Geometry != "" || p.Coordinates != "" {
		if r.geo, err = parseGeo(p); err != nil {
			return nil, err
		}
	}
	if r.Limit, err = number("limit", p.Limit, DefaultLimit); err != nil {
		return nil, err
	}
	if r.Limit > MaxLimit {
		return nil, &Problem{Type: ErrTooManyResults, Title: "Too many results", Status: 403,
			Detail: fmt.Sprintf("limit %d is over the maximum %d: page with offset", r.Limit, MaxLimit)}
	}
	if r.Limit == 0 && !r.Count {
		return nil, BadRequest("limit", "limit=0 only with count=true")
	}
	if r.Offset, err = number("offset", p.Offset, 0); err != nil {
		return nil, err
	}
	r.KeyValues = KeyValues(p.Options, p.Format)
	if len(r.Types) == 0 && len(r.IDs) == 0 && r.IDPattern == nil && r.Q == nil && len(r.Attrs) == 0 && r.geo == nil {
		return nil, BadRequest("type", "a query needs at least one of type, id, idPattern, q, attrs or georel")
	}
	return r, nil
}

// KeyValues tells whether the options and format parameters ask for the simplified
// representation (options=keyValues, format=keyValues or simplified).
func KeyValues(options, format string) bool {
	return slices.Contains(strings.Split(options, ","), "keyValues") || format == "keyValues" || format == "simplified"
}

func isURI(s string) bool {
	i := strings.IndexByte(s, ':')
	return i > 0 && i < len(s)-1 && !strings.ContainsAny(s, " <>\"{}|\\^`")
}

func number(name, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, BadRequest(name, fmt.Sprintf("want a whole number ≥ 0, got %q", s))
	}
	return n, nil
}

// parseGeo reads georel, geometry and coordinates: near;maxDistance==m or near;minDistance==m
// with a Point, within with a Polygon.
func parseGeo(p Params) (*geoQuery, error) {
	if p.GeoRel == "" || p.Geometry == "" || p.Coordinates == "" {
		return nil, BadRequest("georel", "a geo-query needs georel, geometry and coordinates")
	}
	if p.GeoProperty != "" && p.GeoProperty != "location" {
		return nil, &Problem{Type: ErrOperationNotSupported, Title: "Operation not supported", Status: 422,
			Detail: fmt.Sprintf("geoproperty %q: the entities have only location", p.GeoProperty)}
	}
	g := &geoQuery{}
	rel, mod, _ := strings.Cut(p.GeoRel, ";")
	g.rel = rel
	switch rel {
	case "near":
		name, v, ok := strings.Cut(mod, "==")
		d, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || d < 0 || math.IsInf(d, 0) || (name != "maxDistance" && name != "minDistance") {
			return nil, BadRequest("georel", "near wants ;maxDistance==<metres> or ;minDistance==<metres>")
		}
		if name == "maxDistance" {
			g.max = d
		} else {
			g.min, g.max = d, math.Inf(1)
		}
		if p.Geometry != "Point" {
			return nil, BadRequest("geometry", "near takes a Point")
		}
		var c []float64
		if err := json.Unmarshal([]byte(p.Coordinates), &c); err != nil || len(c) != 2 {
			return nil, BadRequest("coordinates", "a Point is [longitude, latitude]")
		}
		g.point = geo.Location{Lon: c[0], Lat: c[1]}
		if prob := g.point.Problem(); prob != "" {
			return nil, BadRequest("coordinates", prob)
		}
	case "within":
		if p.Geometry != "Polygon" {
			return nil, BadRequest("geometry", "within takes a Polygon")
		}
		var rings [][][2]float64
		if err := json.Unmarshal([]byte(p.Coordinates), &rings); err != nil || len(rings) == 0 || len(rings[0]) < 4 || len(rings[0]) > 1000 {
			return nil, BadRequest("coordinates", "a Polygon is [[[lon, lat], …]]: one closed ring of 4 to 1000 positions")
		}
		for _, pos := range rings[0] { // GeoJSON's [lon, lat] as geo's [lat, lon]
			g.ring = append(g.ring, [2]float64{pos[1], pos[0]})
		}
	default:
		return nil, BadRequest("georel", fmt.Sprintf("georel %q is not supported: near;maxDistance==, near;minDistance== or within", rel))
	}
	return g, nil
}

func (g *geoQuery) match(e *Entity) bool {
	a, ok := e.Attrs["location"]
	if !ok {
		return false
	}
	m, _ := a.Value.(map[string]any)
	c, _ := m["coordinates"].([]float64)
	if len(c) != 2 {
		return false
	}
	l := geo.Location{Lon: c[0], Lat: c[1]}
	if g.rel == "within" {
		return l.In(g.ring)
	}
	d := g.point.Distance(l)
	return d >= g.min && d <= g.max
}

// Scope narrows what a caller sees: the entity types and districts of a partner's key (nil:
// every one).
type Scope struct {
	Types, Districts []string
}

// Allows tells whether the scope lets its caller read e.
func (s Scope) Allows(e *Entity) bool {
	return (s.Types == nil || slices.Contains(s.Types, e.Type)) && (s.Districts == nil || slices.Contains(s.Districts, e.District))
}

// Select answers r over entities as scope allows: the page of matches and how many match in
// all.
func (r *Request) Select(entities []Entity, scope Scope) ([]Entity, int) {
	var hits []Entity
	for i := range entities {
		e := &entities[i]
		if !scope.Allows(e) || !r.matches(e) {
			continue
		}
		hits = append(hits, *e)
	}
	total := len(hits)
	if r.Offset >= len(hits) {
		return nil, total
	}
	hits = hits[r.Offset:]
	if len(hits) > r.Limit {
		hits = hits[:r.Limit]
	}
	return hits, total
}

func (r *Request) matches(e *Entity) bool {
	if len(r.Types) > 0 && !slices.Contains(r.Types, e.Type) {
		return false
	}
	if len(r.IDs) > 0 && !slices.Contains(r.IDs, e.ID) {
		return false
	}
	if r.IDPattern != nil && !r.IDPattern.MatchString(e.ID) {
		return false
	}
	if len(r.Attrs) > 0 && !slices.ContainsFunc(r.Attrs, func(a string) bool { _, ok := e.Attrs[a]; return ok }) {
		return false
	}
	if r.Q != nil && !r.Q.Match(e) {
		return false
	}
	return r.geo == nil || r.geo.match(e)
}

// Render is e as the answer carries it: normalized, or keyValues; only attrs when named;
// with context, the "@context" member (application/ld+json).
func Render(e *Entity, attrs []string, keyValues bool, context string) map[string]any {
	out := map[string]any{"id": e.ID, "type": e.Type}
	for name, a := range e.Attrs {
		if len(attrs) > 0 && !slices.Contains(attrs, name) {
			continue
		}
		if keyValues {
			switch v, _ := a.Value.(map[string]any); {
			case a.Type == "Relationship":
				out[name] = a.Object
			case v["@type"] == "DateTime":
				out[name] = v["@value"]
			default:
				out[name] = a.Value
			}
			continue
		}
		out[name] = a
	}
	if context != "" {
		out["@context"] = context
	}
	return out
}
