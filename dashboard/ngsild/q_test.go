package ngsild

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQ(t *testing.T) {
	e := &Entity{ID: "urn:ngsi-ld:WaterObserved:g1", Type: TypeWaterObserved, Attrs: map[string]Attr{
		"height":     {Type: "Property", Value: 82.4, ObservedAt: "2026-12-01T04:00:00.000Z", UnitCode: "MTR"},
		"name":       text("Trạm Lào Cai"),
		"category":   {Type: "Property", Value: []string{"sensor", "gauge"}},
		"on":         {Type: "Property", Value: true},
		"dateIssued": dateTime(mustTime("2026-12-01T03:00:00Z")),
		"address":    address("Bát Xát", "Quang Kim"),
	}}
	for q, want := range map[string]bool{
		"height":                                  true,
		"flow":                                    false,
		"height>82":                               true,
		"height>=82.4;height<=82.4":               true,
		"height<82|name==\"Trạm Lào Cai\"":        true,
		"height<82;name==\"Trạm Lào Cai\"":        false,
		"(height<82|height>90);name":              false,
		"height==80..83":                          true,
		"height!=80..83":                          false,
		"height==1,2,82.4":                        true,
		"name~=^Trạm":                             true,
		"name!~=^Trạm":                            false,
		"category==\"gauge\"":                     true,
		"on==true":                                true,
		"on==false":                               false,
		"height.unitCode==\"MTR\"":                true,
		"height.observedAt>=2026-12-01T03:30:00Z": true,
		"dateIssued<2026-12-01T03:30:00Z":         true,
		"name>5":                                  false, // a string against a number: no match, no error
		"id==\"urn:ngsi-ld:WaterObserved:g1\"":    true,
		"address[addressRegion]==\"Bát Xát\"":     true,
		"address[addressRegion]==\"Sa Pa\"":       false,
		"address[postalCode]":                     false,
		"address[addressLocality]~=^Quang":        true,
		"height[x]==1":                            false, // a number has no members
	} {
		parsed, err := ParseQ(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if got := parsed.Match(e); got != want {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	for q, msg := range map[string]string{
		"height>>1":        "not a number",
		"(height>1":        "missing )",
		"height>1)":        "unexpected",
		">1":               "attribute name",
		"height>":          "wants a value",
		"name==\"open":     "unterminated",
		"height.colour==1": "only observedAt and unitCode",
		"on>true":          "boolean",
		"name~=\"(\"":      "pattern",
		strings.Repeat("(", 9) + "a" + strings.Repeat(")", 9): "deeper",
		strings.Repeat("a;", 40) + "a":                        "terms",
		strings.Repeat("a", 1001):                             "at most",
	} {
		if _, err := ParseQ(q); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%.40s: %v, want %q", q, err, msg)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Every type the entities are built with is one config lets a partner's key name.
func TestTypesAreTheConfigs(t *testing.T) {
	for _, typ := range []string{TypeWaterObserved, TypeWeatherObserved, TypeWaterQualityObserved, TypeTrafficFlowObserved, TypeDevice, TypeCamera, TypeAlert} {
		if !slices.Contains(Types, typ) {
			t.Errorf("%s is not in config.EntityTypes", typ)
		}
	}
}

// Each type's attributes are distinct: Metric finds the one metric an attribute holds.
func TestAttributesAreDistinct(t *testing.T) {
	for typ, m := range Attribute {
		seen := map[string]string{}
		for metric, attr := range m {
			if other, dup := seen[attr]; dup {
				t.Errorf("%s: %s holds %s and %s", typ, attr, metric, other)
			}
			seen[attr] = metric
			if Metric(typ, attr) != metric {
				t.Errorf("%s: Metric(%s) = %s, want %s", typ, attr, Metric(typ, attr), metric)
			}
		}
	}
}
