package citizensim

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// EXIF writes the EXIF block a phone camera puts in its photos, as far as the reports use it:
// a little-endian TIFF structure with the orientation, DateTimeOriginal with its offset (Vietnam's
// time), and the GPS position.
func EXIF(orientation uint16, at geo.Location, taken time.Time) []byte {
	le := binary.LittleEndian
	var b []byte
	u16 := func(v uint16) { b = le.AppendUint16(b, v) }
	u32 := func(v uint32) { b = le.AppendUint32(b, v) }
	entry := func(tag, typ uint16, count, value uint32) { u16(tag); u16(typ); u32(count); u32(value) }
	b = append(b, "II"...)
	u16(42)
	u32(8)
	// IFD0 at 8: orientation and the Exif and GPS directories' offsets
	const exifAt = 8 + 2 + 3*12 + 4
	const gpsAt = exifAt + 2 + 2*12 + 4
	const dataAt = gpsAt + 2 + 4*12 + 4
	u16(3)
	entry(0x0112, 3, 1, uint32(orientation))
	entry(0x8769, 4, 1, exifAt)
	entry(0x8825, 4, 1, gpsAt)
	u32(0)
	// Exif: DateTimeOriginal (20 bytes) and OffsetTimeOriginal (7 bytes) in the data after GPS
	u16(2)
	entry(0x9003, 2, 20, dataAt)
	entry(0x9011, 2, 7, dataAt+20)
	u32(0)
	// GPS: the references inline, each position three rationals after the strings
	lat, lon := at.Lat, at.Lon
	latRef, lonRef := 'N', 'E'
	if lat < 0 {
		lat, latRef = -lat, 'S'
	}
	if lon < 0 {
		lon, lonRef = -lon, 'W'
	}
	u16(4)
	entry(0x0001, 2, 2, uint32(latRef))
	entry(0x0002, 5, 3, dataAt+27)
	entry(0x0003, 2, 2, uint32(lonRef))
	entry(0x0004, 5, 3, dataAt+27+24)
	u32(0)
	b = append(b, taken.In(geo.Zone).Format("2006:01:02 15:04:05")+"\x00"...)
	b = append(b, "+07:00\x00"...)
	dms := func(v float64) {
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		u32(uint32(d))
		u32(1)
		u32(uint32(m))
		u32(1)
		u32(uint32(math.Round(s * 1000)))
		u32(1000)
	}
	dms(lat)
	dms(lon)
	return b
}

// WithEXIF puts an APP1 EXIF segment holding block right after a JPEG's SOI marker.
func WithEXIF(jpg, block []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), block...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xff, 0xe1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
