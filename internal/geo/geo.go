// Package geo holds the facts of place that every part shares: the WGS 84 position of sensor
// and camera catalogs, with its check, and Việt Nam's time zone, the operators'.
package geo

import (
	"fmt"
	"math"
	"time"
)

// ZoneName is Việt Nam's time zone by its IANA name, as the UI and the documents name it.
const ZoneName = "Asia/Ho_Chi_Minh"

// Zone is Việt Nam's time: UTC+7, without daylight saving since 1975, so fixed here rather
// than read from tzdata, which a closed network's servers may lack. Operators read every time
// in it (alerts, CAP, mail, the simulated seasons, device times without a zone); storage is
// UTC.
var Zone = time.FixedZone("ICT", 7*3600)

// Location is a WGS 84 position.
type Location struct {
	Lat float64 `yaml:"lat" json:"lat"`
	Lon float64 `yaml:"lon" json:"lon"`
}

// Problem says what is wrong with l, or "" when it is a position in Vietnam. Swapped latitude
// and longitude, the commonest catalog mistake, is named as such.
func (l Location) Problem() string {
	switch {
	case l.Lat == 0 && l.Lon == 0:
		return "missing"
	case math.Abs(l.Lat) > 90 || math.Abs(l.Lon) > 180:
		hint := ""
		if math.Abs(l.Lon) <= 90 && math.Abs(l.Lat) <= 180 {
			hint = " (lat and lon swapped?)"
		}
		return fmt.Sprintf("lat %g, lon %g is not a position%s", l.Lat, l.Lon, hint)
	// Vietnam, with its islands, lies within 8-24°N and 102-118°E: anything else is most
	// often a swapped pair.
	case l.Lat < 6 || l.Lat > 24 || l.Lon < 102 || l.Lon > 118:
		return fmt.Sprintf("lat %g, lon %g lies outside Vietnam (lat and lon swapped?)", l.Lat, l.Lon)
	}
	return ""
}
