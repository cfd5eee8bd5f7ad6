package ingest

import (
	"math"
	"testing"
)

// TestAlarmLevelsLevel checks every boundary of the báo động rule: reaching a level is being at
// it, just under it is the level below.
func TestAlarmLevelsLevel(t *testing.T) {
	a := &AlarmLevels{I: 80, II: 82, III: 83.5}
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{-5, 0}, {79.999, 0}, {80, 1}, {80.001, 1}, {81.999, 1}, {82, 2}, {83.499, 2}, {83.5, 3}, {120, 3},
		{math.NaN(), 0},
	} {
		if got := a.Level(tc.v); got != tc.want {
			t.Errorf("Level(%g) = %d, want %d", tc.v, got, tc.want)
		}
	}
	var none *AlarmLevels
	if got := none.Level(100); got != 0 {
		t.Errorf("a station without levels: Level = %d, want 0", got)
	}
}
