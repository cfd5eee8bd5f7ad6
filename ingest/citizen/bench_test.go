package citizen

import (
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/sim/citizensim"
)

// BenchmarkProcessPhoto: a 12-megapixel phone photo (4000 × 3000, turned a quarter by its EXIF):
// decoded, turned, re-encoded, thumbnailed.
func BenchmarkProcessPhoto(b *testing.B) {
	raw := citizensim.WithEXIF(encode(b, scene(4000, 3000)), citizensim.EXIF(6, geo.Location{Lat: 22.5, Lon: 103.9}, time.Now()))
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ProcessPhoto(raw, PhotoLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}
