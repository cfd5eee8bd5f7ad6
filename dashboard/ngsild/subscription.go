package ngsild

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Bounds of a subscription.
const (
	// MaxSubscriptionBytes bounds a subscription's body.
	MaxSubscriptionBytes = 64 << 10
	maxSelectors         = 100
	maxReceiverInfo      = 10
	// MinInterval is the shortest timeInterval, and the longest throttling, a subscription may ask.
	MinInterval = 1.0
	maxInterval = 24 * 3600.0
)

// Subscription is an NGSI-LD subscription (ETSI GS CIM 009, 5.2.12) as a client creates it
// and reads it back; Status and Notification's status members are the server's.
type Subscription struct {
	ID                string             `json:"id"`
	Type              string             `json:"type"`
	Name              string             `json:"subscriptionName,omitempty"`
	Description       string             `json:"description,omitempty"`
	Entities          []EntitySelector   `json:"entities,omitempty"`
	WatchedAttributes []string           `json:"watchedAttributes,omitempty"`
	TimeInterval      float64            `json:"timeInterval,omitempty"`
	Q                 string             `json:"q,omitempty"`
	GeoQ              *GeoQ              `json:"geoQ,omitempty"`
	IsActive          *bool              `json:"isActive,omitempty"`
	Notification      NotificationParams `json:"notification"`
	ExpiresAt         string             `json:"expiresAt,omitempty"`
	Throttling        float64            `json:"throttling,omitempty"`
	// Status is active, paused or expired (read only).
	Status  string `json:"status,omitempty"`
	Context any    `json:"@context,omitempty"`
}

// EntitySelector names the entities a subscription is about: a type, and an id or an id
// pattern.
type EntitySelector struct {
	ID        string `json:"id,omitempty"`
	IDPattern string `json:"idPattern,omitempty"`
	Type      string `json:"type"`
}

// GeoQ is a subscription's geo-query; coordinates are the GeoJSON array or its text.
type GeoQ struct {
	GeoRel      string          `json:"georel"`
	Geometry    string          `json:"geometry"`
	Coordinates json.RawMessage `json:"coordinates"`
	GeoProperty string          `json:"geoproperty,omitempty"`
}

// NotificationParams say what a notification carries and where it goes; the status members
// are the server's account of its deliveries.
type NotificationParams struct {
	Attributes []string `json:"attributes,omitempty"`
	// Format is normalized (the default) or keyValues.
	Format   string   `json:"format,omitempty"`
	Endpoint Endpoint `json:"endpoint"`

	Status           string `json:"status,omitempty"`
	TimesSent        int    `json:"timesSent,omitempty"`
	LastNotification string `json:"lastNotification,omitempty"`
	LastFailure      string `json:"lastFailure,omitempty"`
	LastSuccess      string `json:"lastSuccess,omitempty"`
}

// Endpoint is where notifications are posted: application/json (the @context in the Link
// header, the default) or application/ld+json; receiverInfo are headers sent with each.
type Endpoint struct {
	URI          string     `json:"uri"`
	Accept       string     `json:"accept,omitempty"`
	ReceiverInfo []KeyValue `json:"receiverInfo,omitempty"`
}

// KeyValue is one header of receiverInfo.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RedactedValue stands for a receiverInfo value read back; sent back in an update, it keeps
// the value stored.
const RedactedValue = "***"

// Redacted is s as its owner reads it back: receiverInfo's values (tokens of the endpoint)
// are never shown.
func (s Subscription) Redacted() Subscription {
	info := make([]KeyValue, len(s.Notification.Endpoint.ReceiverInfo))
	for i, kv := range s.Notification.Endpoint.ReceiverInfo {
		info[i] = KeyValue{Key: kv.Key, Value: RedactedValue}
	}
	if len(info) == 0 {
		info = nil
	}
	s.Notification.Endpoint.ReceiverInfo = info
	return s
}

// reservedHeaders may not be set by receiverInfo: the notification's own.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Link", "Transfer-Encoding", "Connection", "Ngsild-Tenant"}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]{1,64}$`)

// ParseSubscription reads and checks a subscription as a client sends it, giving it an id
// when it has none; allowed tells whether notifications may go to an endpoint. A wrong
// member is a *Problem naming it.
func ParseSubscription(body []byte, now time.Time, allowed func(*url.URL) bool) (*Subscription, *Filter, error) {
	if len(body) > MaxSubscriptionBytes {
		return nil, nil, BadRequest("body", fmt.Sprintf("%d bytes: at most %d", len(body), MaxSubscriptionBytes))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var s Subscription
	if err := dec.Decode(&s); err != nil {
		return nil, nil, BadRequest("body", "not a subscription: "+err.Error())
	}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(body, &members) // it decoded as a subscription: an object
	for _, m := range []string{"entities", "watchedAttributes"} {
		var list []json.RawMessage
		if raw, ok := members[m]; ok && (json.Unmarshal(raw, &list) != nil || len(list) == 0) {
			return nil, nil, BadRequest(m, "an empty list: leave it out instead")
		}
	}
	if s.Status != "" || s.Notification.Status != "" || s.Notification.TimesSent != 0 || s.Notification.LastNotification != "" ||
		s.Notification.LastSuccess != "" || s.Notification.LastFailure != "" {
		return nil, nil, BadRequest("status", "the status members are the server's")
	}
	if s.ID == "" {
		s.ID = NewSubscriptionID()
	}
	if err := s.Check(now, allowed); err != nil {
		return nil, nil, err
	}
	f, err := s.Compile()
	if err != nil {
		return nil, nil, err
	}
	return &s, f, nil
}

// ClearStatus drops the members that are the server's account, not the owner's choice.
func (s *Subscription) ClearStatus() {
	s.Status = ""
	n := &s.Notification
	n.Status, n.TimesSent, n.LastNotification, n.LastFailure, n.LastSuccess = "", 0, "", "", ""
}

// NewSubscriptionID is a fresh subscription URN with 96 random bits.
func NewSubscriptionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "urn:ngsi-ld:Subscription:" + hex.EncodeToString(b)
}

// Check checks every member of s but the query's (Compile checks those).
func (s *Subscription) Check(now time.Time, allowed func(*url.URL) bool) error {
	switch {
	case s.Type != "Subscription":
		return BadRequest("type", fmt.Sprintf("want Subscription, got %q", s.Type))
	case !isURI(s.ID):
		return BadRequest("id", fmt.Sprintf("%q is not a URI", s.ID))
	case len(s.Entities) == 0 && len(s.WatchedAttributes) == 0:
		return BadRequest("entities", "a subscription needs entities or watchedAttributes")
	case len(s.Entities) > maxSelectors:
		return BadRequest("entities", fmt.Sprintf("%d selectors: at most %d", len(s.Entities), maxSelectors))
	case s.TimeInterval != 0 && len(s.WatchedAttributes) > 0:
		return BadRequest("timeInterval", "timeInterval and watchedAttributes exclude each other")
	case s.TimeInterval != 0 && s.Throttling != 0:
		return BadRequest("throttling", "throttling and timeInterval exclude each other")
	case s.TimeInterval != 0 && (s.TimeInterval < MinInterval || s.TimeInterval > maxInterval):
		return BadRequest("timeInterval", fmt.Sprintf("want %g to %g seconds", MinInterval, maxInterval))
	case s.Throttling < 0 || s.Throttling > maxInterval:
		return BadRequest("throttling", fmt.Sprintf("want 0 to %g seconds", maxInterval))
	case len(s.Name) > 256 || len(s.Description) > 1024:
		return BadRequest("description", "subscriptionName is at most 256 bytes, description 1,024")
	}
	for _, attrs := range [][]string{s.WatchedAttributes, s.Notification.Attributes} {
		for _, a := range attrs {
			if a == "" || len(a) > 128 || strings.ContainsAny(a, " ,;\"'") {
				return BadRequest("attributes", fmt.Sprintf("%q is not an attribute name", a))
			}
		}
	}
	if s.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, s.ExpiresAt)
		if err != nil {
			return BadRequest("expiresAt", "want a date-time such as 2027-01-01T00:00:00Z")
		}
		if !t.After(now) {
			return BadRequest("expiresAt", "in the past")
		}
	}
	switch s.Notification.Format {
	case "", "normalized", "keyValues", "simplified":
	default:
		return BadRequest("notification.format", fmt.Sprintf("%q: want normalized or keyValues", s.Notification.Format))
	}
	ep := s.Notification.Endpoint
	switch ep.Accept {
	case "", "application/json", "application/ld+json":
	default:
		return BadRequest("notification.endpoint.accept", fmt.Sprintf("%q: want application/json or application/ld+json", ep.Accept))
	}
	u, err := url.Parse(ep.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return BadRequest("notification.endpoint.uri", "want an http:// or https:// URL without credentials")
	}
	if !allowed(u) {
		return &Problem{Type: ErrBadRequestData, Title: "Endpoint not allowed", Status: 400,
			Detail: "notification.endpoint.uri: notifications go only where ngsild.notify_to allows (ask the IOC to add your endpoint)"}
	}
	if len(ep.ReceiverInfo) > maxReceiverInfo {
		return BadRequest("notification.endpoint.receiverInfo", fmt.Sprintf("at most %d headers", maxReceiverInfo))
	}
	for _, kv := range ep.ReceiverInfo {
		if !headerName.MatchString(kv.Key) || slices.Contains(reservedHeaders, http.CanonicalHeaderKey(kv.Key)) ||
			strings.ContainsAny(kv.Value, "\r\n") || len(kv.Value) > 4096 {
			return BadRequest("notification.endpoint.receiverInfo", fmt.Sprintf("%q: not a header a notification may carry", kv.Key))
		}
	}
	return nil
}

// Expires is when s stops (zero: never).
func (s *Subscription) Expires() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s.ExpiresAt)
	return t
}

// Active tells whether s is not paused (isActive false).
func (s *Subscription) Active() bool { return s.IsActive == nil || *s.IsActive }

// State is s's status at now: active, paused or expired.
func (s *Subscription) State(now time.Time) string {
	switch exp := s.Expires(); {
	case !exp.IsZero() && !now.Before(exp):
		return "expired"
	case !s.Active():
		return "paused"
	}
	return "active"
}

// Filter selects the entities a subscription (or a push) is about, and says what of them a
// notification carries.
type Filter struct {
	sels []selector
	q    *Query
	geo  *geoQuery
	// Watched are the attributes whose change triggers a notification (none: any).
	Watched []string
	// Attrs are the attributes a notification carries (none: all).
	Attrs     []string
	KeyValues bool
}

type selector struct {
	typ, id string
	re      *regexp.Regexp
}

// Compile builds the filter of s, checking its selectors, q and geoQ.
func (s *Subscription) Compile() (*Filter, error) {
	f := &Filter{Watched: s.WatchedAttributes, Attrs: s.Notification.Attributes,
		KeyValues: s.Notification.Format == "keyValues" || s.Notification.Format == "simplified"}
	for i, es := range s.Entities {
		param := fmt.Sprintf("entities[%d]", i)
		if !slices.Contains(Types, es.Type) {
			return nil, BadRequest(param+".type", fmt.Sprintf("unknown entity type %q (served: %s)", es.Type, strings.Join(Types, ", ")))
		}
		sel := selector{typ: es.Type, id: es.ID}
		if es.ID != "" && !isURI(es.ID) {
			return nil, BadRequest(param+".id", fmt.Sprintf("%q is not a URI", es.ID))
		}
		if es.IDPattern != "" {
			if len(es.IDPattern) > 256 {
				return nil, BadRequest(param+".idPattern", "longer than 256 bytes")
			}
			re, err := regexp.Compile(es.IDPattern)
			if err != nil {
				return nil, BadRequest(param+".idPattern", err.Error())
			}
			sel.re = re
		}
		f.sels = append(f.sels, sel)
	}
	if s.Q != "" {
		q, err := ParseQ(s.Q)
		if err != nil {
			return nil, BadRequest("q", err.Error())
		}
		f.q = q
	}
	if g := s.GeoQ; g != nil {
		coords := string(g.Coordinates)
		var text string
		if json.Unmarshal(g.Coordinates, &text) == nil { // the coordinates as a string
			coords = text
		}
		geo, err := parseGeo(Params{GeoRel: g.GeoRel, Geometry: g.Geometry, Coordinates: coords, GeoProperty: g.GeoProperty})
		if err != nil {
			return nil, err
		}
		f.geo = geo
	}
	return f, nil
}

// NewFilter is the filter of a push: every entity of types (nil: all).
func NewFilter(types []string) *Filter {
	f := &Filter{}
	for _, t := range types {
		f.sels = append(f.sels, selector{typ: t})
	}
	return f
}

// Types are the entity types the filter's selectors name (nil: any type).
func (f *Filter) Types() []string {
	var out []string
	for _, s := range f.sels {
		if !slices.Contains(out, s.typ) {
			out = append(out, s.typ)
		}
	}
	return out
}

// Matches tells whether e is one the filter is about.
func (f *Filter) Matches(e *Entity) bool {
	if len(f.sels) > 0 && !slices.ContainsFunc(f.sels, func(s selector) bool {
		return s.typ == e.Type && (s.id == "" || s.id == e.ID) && (s.re == nil || s.re.MatchString(e.ID))
	}) {
		return false
	}
	if len(f.Watched) > 0 && !slices.ContainsFunc(f.Watched, func(a string) bool { _, ok := e.Attrs[a]; return ok }) {
		return false
	}
	if f.q != nil && !f.q.Match(e) {
		return false
	}
	return f.geo == nil || f.geo.match(e)
}

// Prints are an entity's attributes summed up, each with its name: a notification is due
// when the sum of the watched ones differs from the last one sent.
type Prints struct {
	attrs map[string]uint64
	all   uint64
}

// PrintsOf sums up each attribute of e (once per entity, whatever the subscriptions).
func PrintsOf(e *Entity) Prints {
	p := Prints{attrs: make(map[string]uint64, len(e.Attrs))}
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	for name, a := range e.Attrs {
		h.Reset()
		h.Write([]byte(name))
		_ = enc.Encode(a) // an Attr always encodes
		sum := h.Sum64()
		p.attrs[name] = sum
		p.all += sum // order-free: the attributes come in no order
	}
	return p
}

// Fingerprint is the sum of the attributes a change is watched on (f.Watched, or all).
func (f *Filter) Fingerprint(p Prints) uint64 {
	if len(f.Watched) == 0 {
		return p.all
	}
	var sum uint64
	for _, name := range f.Watched {
		sum += p.attrs[name]
	}
	return sum
}

// Modified is when e last changed, as its attributes tell (their observedAt, its
// dateObserved, dateModified or dateLastValueReported); zero when none tells.
func Modified(e *Entity) time.Time {
	var last time.Time
	for name, a := range e.Attrs {
		if a.ObservedAt != "" {
			if t, err := time.Parse(time.RFC3339Nano, a.ObservedAt); err == nil {
				last = maxTime(last, t)
			}
		}
		switch name {
		case "dateObserved", "dateModified", "dateLastValueReported":
			if v, _ := a.Value.(map[string]any); v != nil {
				s, _ := v["@value"].(string)
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					last = maxTime(last, t)
				}
			}
		}
	}
	return last
}

// Notification is what a subscription's endpoint receives.
type Notification struct {
	ID             string           `json:"id"`
	Type           string           `json:"type"`
	SubscriptionID string           `json:"subscriptionId"`
	NotifiedAt     string           `json:"notifiedAt"`
	Data           []map[string]any `json:"data"`
	Context        string           `json:"@context,omitempty"`
}

// NewNotification is the notification of subscription sub at at, carrying data; context, for
// application/ld+json, is its @context.
func NewNotification(sub string, at time.Time, data []map[string]any, context string) Notification {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return Notification{ID: "urn:ngsi-ld:Notification:" + hex.EncodeToString(b), Type: "Notification", SubscriptionID: sub,
		NotifiedAt: stamp(at), Data: data, Context: context}
}

// Stamp is t as NGSI-LD writes a date-time (UTC, milliseconds).
func Stamp(t time.Time) string { return stamp(t) }
