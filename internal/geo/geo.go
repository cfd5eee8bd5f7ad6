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

// earthRadius is the mean radius of the earth in metres (IUGG).
const earthRadius = 6_371_008.8

// Distance is the great-circle distance from l to m in metres (haversine: within a province,
// its error against the ellipsoid is well under one percent).
func (l Location) Distance(m Location) float64 {
	rad := math.Pi / 180
	dLat, dLon := (m.Lat-l.Lat)*rad, (m.Lon-l.Lon)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(l.Lat*rad)*math.Cos(m.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(a)))
}

// In tells whether l lies inside ring, [lat, lon] pairs (even-odd rule; a point on an edge may
// fall either way).
func (l Location) In(ring [][2]float64) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		a, b := ring[i], ring[j]
		if (a[0] > l.Lat) != (b[0] > l.Lat) && l.Lon < (b[1]-a[1])*(l.Lat-a[0])/(b[0]-a[0])+a[1] {
			in = !in
		}
	}
	return in
}
