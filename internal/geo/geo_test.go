package geo

import (
	"math"
	"testing"
)

// The distances the citizen reports' grouping and checks rely on: Hồ Gươm to the Hà Nội
// Opera House (about 710 m), a point to itself, 50 m north.
func TestDistance(t *testing.T) {
	hoGuom, opera := Location{Lat: 21.0287, Lon: 105.8524}, Location{Lat: 21.0245, Lon: 105.8576}
	if d := hoGuom.Distance(opera); math.Abs(d-712) > 15 {
		t.Errorf("Hồ Gươm to the Opera House: %.0f m", d)
	}
	if d := hoGuom.Distance(hoGuom); d != 0 {
		t.Errorf("a point to itself: %g m", d)
	}
	north := Location{Lat: hoGuom.Lat + 50/111_195.0, Lon: hoGuom.Lon}
	if d := hoGuom.Distance(north); math.Abs(d-50) > 0.1 {
		t.Errorf("50 m north: %.2f m", d)
	}
}
