package ngsild

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

func anyEndpoint(*url.URL) bool { return true }

func TestParseSubscription(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// The specification's example (ETSI GS CIM 009, 5.2.12), on this server's types.
	spec := `{"id": "urn:ngsi-ld:Subscription:mySubscription", "type": "Subscription",
		"entities": [{"type": "TrafficFlowObserved"}], "watchedAttributes": ["averageVehicleSpeed"], "q": "averageVehicleSpeed>50",
		"geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": [103.97, 22.48]},
		"notification": {"attributes": ["averageVehicleSpeed"], "format": "keyValues", "endpoint": {"uri": "http://my.endpoint.org/notify", "accept": "application/json"}},
		"@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]}`
	s, f, err := ParseSubscription([]byte(spec), now, anyEndpoint)
	if err != nil || s.ID != "urn:ngsi-ld:Subscription:mySubscription" || !f.KeyValues || f.Watched[0] != "averageVehicleSpeed" {
		t.Fatalf("the specification's example: %v %+v", err, s)
	}
	near := &Entity{ID: "urn:ngsi-ld:TrafficFlowObserved:a", Type: TypeTrafficFlowObserved, Attrs: map[string]Attr{
		"averageVehicleSpeed": {Type: "Property", Value: 62.0}, "location": point(geo.Location{Lat: 22.481, Lon: 103.971})}}
	far := &Entity{ID: "urn:ngsi-ld:TrafficFlowObserved:b", Type: TypeTrafficFlowObserved, Attrs: map[string]Attr{
		"averageVehicleSpeed": {Type: "Property", Value: 62.0}, "location": point(geo.Location{Lat: 22.6, Lon: 103.9})}}
	slow := &Entity{ID: "urn:ngsi-ld:TrafficFlowObserved:c", Type: TypeTrafficFlowObserved, Attrs: map[string]Attr{
		"averageVehicleSpeed": {Type: "Property", Value: 30.0}, "location": point(geo.Location{Lat: 22.481, Lon: 103.971})}}
	if !f.Matches(near) || f.Matches(far) || f.Matches(slow) {
		t.Errorf("matches: near %v far %v slow %v", f.Matches(near), f.Matches(far), f.Matches(slow))
	}
	// Coordinates may come as text; no id gets one.
	s, _, err = ParseSubscription([]byte(`{"type": "Subscription", "entities": [{"type": "Alert", "idPattern": "^urn:ngsi-ld:Alert:.*"}],
		"geoQ": {"georel": "within", "geometry": "Polygon", "coordinates": "[[[103,22],[104,22],[104,23],[103,22]]]"},
		"notification": {"endpoint": {"uri": "https://x.gov.vn/n"}}}`), now, anyEndpoint)
	if err != nil || !strings.HasPrefix(s.ID, "urn:ngsi-ld:Subscription:") {
		t.Fatalf("generated id: %v %+v", err, s)
	}

	for name, body := range map[string]string{
		"not json":           `{`,
		"wrong type":         `{"type": "Sub", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"nothing selected":   `{"type": "Subscription", "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"no endpoint":        `{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {}}`,
		"ftp endpoint":       `{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": "ftp://a/"}}}`,
		"bad accept":         `{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": "http://a/", "accept": "text/xml"}}}`,
		"bad format":         `{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"format": "concise", "endpoint": {"uri": "http://a/"}}}`,
		"bad idPattern":      `{"type": "Subscription", "entities": [{"type": "Alert", "idPattern": "("}], "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"unsupported georel": `{"type": "Subscription", "entities": [{"type": "Alert"}], "geoQ": {"georel": "overlaps", "geometry": "Point", "coordinates": [1,2]}, "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"short interval":     `{"type": "Subscription", "entities": [{"type": "Alert"}], "timeInterval": 0.1, "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"negative throttle":  `{"type": "Subscription", "entities": [{"type": "Alert"}], "throttling": -1, "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"status given":       `{"type": "Subscription", "entities": [{"type": "Alert"}], "status": "active", "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"header injection":   `{"type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": "http://a/", "receiverInfo": [{"key": "X-A", "value": "a\r\nHost: b"}]}}}`,
		"empty entities":     `{"type": "Subscription", "entities": [], "watchedAttributes": ["a"], "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"null watched":       `{"type": "Subscription", "entities": [{"type": "Alert"}], "watchedAttributes": null, "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"isActive not bool":  `{"type": "Subscription", "entities": [{"type": "Alert"}], "isActive": "abcde", "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"selector no type":   `{"type": "Subscription", "entities": [{"id": "urn:ngsi-ld:Alert:a"}], "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"id not a URI":       `{"id": "1234", "type": "Subscription", "entities": [{"type": "Alert"}], "notification": {"endpoint": {"uri": "http://a/"}}}`,
		"bad attribute":      `{"type": "Subscription", "entities": [{"type": "Alert"}], "watchedAttributes": ["a b"], "notification": {"endpoint": {"uri": "http://a/"}}}`,
	} {
		_, _, err := ParseSubscription([]byte(body), now, anyEndpoint)
		var p *Problem
		if !asProblem(err, &p) || p.Type != ErrBadRequestData || p.Status != 400 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := ParseSubscription([]byte(spec), now, func(*url.URL) bool { return false }); err == nil || !strings.Contains(err.Error(), "notify_to") {
		t.Errorf("an endpoint not allowed: %v", err)
	}
	if _, _, err := ParseSubscription([]byte(strings.Repeat(" ", MaxSubscriptionBytes+1)), now, anyEndpoint); err == nil {
		t.Error("an oversized body is taken")
	}
}

func asProblem(err error, p **Problem) bool {
	if q, ok := err.(*Problem); ok {
		*p = q
		return true
	}
	return false
}

func TestSubscriptionState(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	off := false
	for _, c := range []struct {
		s    Subscription
		want string
	}{
		{Subscription{}, "active"},
		{Subscription{IsActive: &off}, "paused"},
		{Subscription{ExpiresAt: "2026-11-30T23:59:59Z"}, "expired"},
		{Subscription{ExpiresAt: "2026-12-02T00:00:00Z", IsActive: &off}, "paused"},
	} {
		if got := c.s.State(now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.s, got, c.want)
		}
	}
	s := Subscription{Notification: NotificationParams{Endpoint: Endpoint{ReceiverInfo: []KeyValue{{"Authorization", "Bearer x"}}}}}
	if r := s.Redacted(); r.Notification.Endpoint.ReceiverInfo[0].Value != "***" || s.Notification.Endpoint.ReceiverInfo[0].Value != "Bearer x" {
		t.Errorf("redacted: %+v, original %+v", r, s)
	}
}

// A change is a change of a watched attribute: the fingerprint follows those only, and
// Modified the latest time the entity tells.
func TestFingerprintAndModified(t *testing.T) {
	e := &Entity{ID: "urn:ngsi-ld:WaterObserved:a", Type: TypeWaterObserved, Attrs: map[string]Attr{
		"height":       {Type: "Property", Value: 1.5, ObservedAt: "2026-12-01T01:00:00.000Z"},
		"flow":         {Type: "Property", Value: 30.0, ObservedAt: "2026-12-01T01:00:05.000Z"},
		"dateObserved": dateTime(time.Date(2026, 12, 1, 1, 0, 5, 0, time.UTC)),
	}}
	watched, all := &Filter{Watched: []string{"height"}}, &Filter{}
	fw, fa := watched.Fingerprint(PrintsOf(e)), all.Fingerprint(PrintsOf(e))
	e.Attrs["flow"] = Attr{Type: "Property", Value: 31.0, ObservedAt: "2026-12-01T01:00:10.000Z"}
	if watched.Fingerprint(PrintsOf(e)) != fw || all.Fingerprint(PrintsOf(e)) == fa {
		t.Error("a change of flow: the height's fingerprint must stay, the whole entity's change")
	}
	e.Attrs["height"] = Attr{Type: "Property", Value: 1.6, ObservedAt: "2026-12-01T01:00:10.000Z"}
	if watched.Fingerprint(PrintsOf(e)) == fw {
		t.Error("a change of height: the fingerprint must change")
	}
	swapped := &Entity{Attrs: map[string]Attr{"height": e.Attrs["flow"], "flow": e.Attrs["height"]}}
	if all.Fingerprint(PrintsOf(swapped)) == all.Fingerprint(PrintsOf(e)) {
		t.Error("two attributes' values swapped: the fingerprint must change")
	}
	if m := Modified(e); !m.Equal(time.Date(2026, 12, 1, 1, 0, 10, 0, time.UTC)) {
		t.Errorf("modified %s", m)
	}
	if !Modified(&Entity{Attrs: map[string]Attr{"name": text("x")}}).IsZero() {
		t.Error("an entity without times has no modification time")
	}
}
