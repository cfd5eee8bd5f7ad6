package citizen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// EXIF is what a photo's EXIF block says that the report needs: where and when it was taken,
// and how it must be turned to be upright. Everything else in it is dropped with it.
type EXIF struct {
	Location *geo.Location
	// Taken is DateTimeOriginal, in its own offset when given, else Vietnam's time; zero if absent.
	Taken time.Time
	// Orientation is the TIFF orientation, 1 (upright) to 8; 0 if absent.
	Orientation int
}

// maxIFDEntries bounds the entries read from one directory: a hostile block costs nothing.
const maxIFDEntries = 512

// errNoEXIF is a JPEG without an EXIF block: not an error for the report.
var errNoEXIF = errors.New("no EXIF")

// ReadEXIF finds a JPEG's EXIF block (APP1 "Exif") and reads it. A photo without one answers
// errNoEXIF; a broken one an error saying where it broke.
func ReadEXIF(jpeg []byte) (EXIF, error) {
	tiff, err := exifSegment(jpeg)
	if err != nil {
		return EXIF{}, err
	}
	return parseTIFF(tiff)
}

// exifSegment is the TIFF structure of a JPEG's EXIF APP1 segment.
func exifSegment(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, errors.New("not a JPEG")
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xff {
			return nil, fmt.Errorf("marker expected at byte %d", i)
		}
		marker := b[i+1]
		if marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 || marker == 0xff {
			i += 2
			continue
		}
		if marker == 0xda || marker == 0xd9 { // the image data: metadata comes before it
			return nil, errNoEXIF
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, fmt.Errorf("segment %#x at byte %d overruns the file", marker, i)
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:], nil
		}
		i += 2 + n
	}
	return nil, errNoEXIF
}

// tiffReader reads a TIFF structure's directories, every offset checked.
type tiffReader struct {
	b     []byte
	order binary.ByteOrder
}

// entry is one directory entry: its tag, type, count, and the bytes of its value.
type entry struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

// typeSize is the size of one value of each TIFF type used here (0: a type not read).
func typeSize(typ uint16) int {
	switch typ {
	case 1, 2, 7: // BYTE, ASCII, UNDEFINED
		return 1
	case 3: // SHORT
		return 2
	case 4, 9: // LONG, SLONG
		return 4
	case 5, 10: // RATIONAL, SRATIONAL
		return 8
	}
	return 0
}

func (r *tiffReader) ifd(off uint32) (map[uint16]entry, error) {
	if int64(off)+2 > int64(len(r.b)) {
		return nil, fmt.Errorf("directory at %d outside the block", off)
	}
	n := int(r.order.Uint16(r.b[off:]))
	if n > maxIFDEntries {
		return nil, fmt.Errorf("directory of %d entries", n)
	}
	if int64(off)+2+int64(n)*12 > int64(len(r.b)) {
		return nil, fmt.Errorf("directory at %d overruns the block", off)
	}
	out := make(map[uint16]entry, n)
	for i := range n {
		e := r.b[int(off)+2+i*12:]
		en := entry{tag: r.order.Uint16(e), typ: r.order.Uint16(e[2:]), count: r.order.Uint32(e[4:])}
		size := typeSize(en.typ)
		if size == 0 || en.count > 1<<16 {
			continue // a type or size not read here
		}
		total := size * int(en.count)
		if total <= 4 {
			en.value = e[8 : 8+total]
		} else {
			vo := int64(r.order.Uint32(e[8:]))
			if vo+int64(total) > int64(len(r.b)) {
				return nil, fmt.Errorf("tag %#x's value overruns the block", en.tag)
			}
			en.value = r.b[vo : vo+int64(total)]
		}
		out[en.tag] = en
	}
	return out, nil
}

func (r *tiffReader) long(e entry) (uint32, bool) {
	switch {
	case e.typ == 4 && len(e.value) >= 4:
		return r.order.Uint32(e.value), true
	case e.typ == 3 && len(e.value) >= 2:
		return uint32(r.order.Uint16(e.value)), true
	}
	return 0, false
}

// rationals reads RATIONAL values; a zero denominator is an error.
func (r *tiffReader) rationals(e entry) ([]float64, error) {
	if e.typ != 5 {
		return nil, fmt.Errorf("tag %#x: want RATIONAL, got type %d", e.tag, e.typ)
	}
	out := make([]float64, e.count)
	for i := range out {
		num, den := r.order.Uint32(e.value[i*8:]), r.order.Uint32(e.value[i*8+4:])
		if den == 0 {
			return nil, fmt.Errorf("tag %#x: a zero denominator", e.tag)
		}
		out[i] = float64(num) / float64(den)
	}
	return out, nil
}

func ascii(e entry) string { return strings.TrimRight(string(e.value), "\x00 ") }

// TIFF and EXIF tags read here.
const (
	tagOrientation       = 0x0112
	tagExifIFD           = 0x8769
	tagGPSIFD            = 0x8825
	tagDateTimeOriginal  = 0x9003
	tagOffsetTimeOrignal = 0x9011
	tagGPSLatRef         = 0x0001
	tagGPSLat            = 0x0002
	tagGPSLonRef         = 0x0003
	tagGPSLon            = 0x0004
)

func parseTIFF(b []byte) (EXIF, error) {
	var out EXIF
	if len(b) < 8 {
		return out, errors.New("EXIF: block too short")
	}
	r := &tiffReader{b: b}
	switch string(b[:2]) {
	case "II":
		r.order = binary.LittleEndian
	case "MM":
		r.order = binary.BigEndian
	default:
		return out, errors.New("EXIF: unknown byte order")
	}
	if r.order.Uint16(b[2:]) != 42 {
		return out, errors.New("EXIF: not a TIFF structure")
	}
	ifd0, err := r.ifd(r.order.Uint32(b[4:]))
	if err != nil {
		return out, fmt.Errorf("EXIF: %w", err)
	}
	if e, ok := ifd0[tagOrientation]; ok {
		if v, ok := r.long(e); ok && v >= 1 && v <= 8 {
			out.Orientation = int(v)
		}
	}
	if e, ok := ifd0[tagExifIFD]; ok {
		if off, ok := r.long(e); ok {
			exif, err := r.ifd(off)
			if err != nil {
				return out, fmt.Errorf("EXIF: %w", err)
			}
			if e, ok := exif[tagDateTimeOriginal]; ok {
				zone := geo.Zone
				if o, ok := exif[tagOffsetTimeOrignal]; ok {
					if t, err := time.Parse("-07:00", ascii(o)); err == nil {
						_, secs := t.Zone()
						zone = time.FixedZone(ascii(o), secs)
					}
				}
				if t, err := time.ParseInLocation("2006:01:02 15:04:05", ascii(e), zone); err == nil {
					out.Taken = t.UTC()
				}
			}
		}
	}
	if e, ok := ifd0[tagGPSIFD]; ok {
		if off, ok := r.long(e); ok {
			gps, err := r.ifd(off)
			if err != nil {
				return out, fmt.Errorf("EXIF GPS: %w", err)
			}
			if loc, err := r.gpsLocation(gps); err != nil {
				return out, fmt.Errorf("EXIF GPS: %w", err)
			} else {
				out.Location = loc
			}
		}
	}
	return out, nil
}

// gpsLocation reads the GPS directory's position; nil when it holds none.
func (r *tiffReader) gpsLocation(gps map[uint16]entry) (*geo.Location, error) {
	latE, ok1 := gps[tagGPSLat]
	lonE, ok2 := gps[tagGPSLon]
	if !ok1 || !ok2 {
		return nil, nil
	}
	lat, err := r.degrees(latE)
	if err != nil {
		return nil, err
	}
	lon, err := r.degrees(lonE)
	if err != nil {
		return nil, err
	}
	if ascii(gps[tagGPSLatRef]) == "S" {
		lat = -lat
	}
	if ascii(gps[tagGPSLonRef]) == "W" {
		lon = -lon
	}
	if math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return nil, fmt.Errorf("position %g, %g out of range", lat, lon)
	}
	return &geo.Location{Lat: lat, Lon: lon}, nil
}

// degrees reads degrees, minutes and seconds.
func (r *tiffReader) degrees(e entry) (float64, error) {
	v, err := r.rationals(e)
	if err != nil {
		return 0, err
	}
	if len(v) != 3 {
		return 0, fmt.Errorf("tag %#x: want degrees, minutes, seconds", e.tag)
	}
	return v[0] + v[1]/60 + v[2]/3600, nil
}
