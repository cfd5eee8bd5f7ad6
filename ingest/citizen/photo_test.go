package citizen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/haidang-ioc/ioc/internal/geo"
	"github.com/haidang-ioc/ioc/sim/citizensim"
)

// scene is a w × h picture whose left half is red and right half blue.
func scene(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 220, G: 20, B: 20, A: 255}
			if x >= w/2 {
				c = color.RGBA{R: 20, G: 20, B: 220, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encode(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A phone photo turned a quarter (orientation 6), with its position and time in EXIF: both are
// read, then dropped; what is kept is upright (the red left half now on top), without EXIF,
// named by its hash, with a thumbnail of at most 320 pixels a side.
func TestPhotoKeepsThePictureAndDropsItsMetadata(t *testing.T) {
	coc := geo.Location{Lat: 22.4979, Lon: 103.9688}
	raw := citizensim.WithEXIF(encode(t, scene(640, 480)), citizensim.EXIF(6, coc, time.Date(2026, 11, 30, 8, 15, 0, 0, geo.Zone)))
	p, err := ProcessPhoto(raw, PhotoLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.EXIFProblem != "" || p.EXIF.Location == nil || p.EXIF.Location.Distance(coc) > 1 || p.EXIF.Orientation != 6 ||
		!p.EXIF.Taken.Equal(time.Date(2026, 11, 30, 1, 15, 0, 0, time.UTC)) {
		t.Fatalf("EXIF read: %+v (%s)", p.EXIF, p.EXIFProblem)
	}
	if p.Width != 480 || p.Height != 640 || p.Format != "jpeg" || p.Received != len(raw) {
		t.Errorf("kept %dx%d of a %s of %d bytes", p.Width, p.Height, p.Format, p.Received)
	}
	kept, err := jpeg.Decode(bytes.NewReader(p.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if r, _, b, _ := kept.At(240, 100).RGBA(); r>>8 < 150 || b>>8 > 100 {
		t.Errorf("the top of the upright photo is not red: r %d b %d", r>>8, b>>8)
	}
	if r, _, b, _ := kept.At(240, 540).RGBA(); b>>8 < 150 || r>>8 > 100 {
		t.Errorf("the bottom of the upright photo is not blue: r %d b %d", r>>8, b>>8)
	}
	if _, err := ReadEXIF(p.JPEG); !errors.Is(err, errNoEXIF) || bytes.Contains(p.JPEG, []byte("Exif")) {
		t.Errorf("the kept photo still has EXIF: %v", err)
	}
	thumb, err := jpeg.DecodeConfig(bytes.NewReader(p.Thumb))
	if err != nil || thumb.Width != 240 || thumb.Height != 320 {
		t.Errorf("thumbnail %dx%d %v", thumb.Width, thumb.Height, err)
	}
	if p.Hash != Hash(p.JPEG) || p.ThumbHash != Hash(p.Thumb) || len(p.Hash) != 64 {
		t.Errorf("hashes %s %s", p.Hash, p.ThumbHash)
	}
	p.CheckAgainst(geo.Location{Lat: coc.Lat + 0.01, Lon: coc.Lon})
	if math.Abs(p.DistanceFromReportM-1112) > 5 {
		t.Errorf("the photo lies %.0f m from the report, want about 1,112", p.DistanceFromReportM)
	}
	// a PNG is taken too, and has no EXIF to read
	var buf bytes.Buffer
	_ = png.Encode(&buf, scene(64, 48))
	if p, err := ProcessPhoto(buf.Bytes(), PhotoLimits{}); err != nil || p.Format != "png" || p.Width != 64 || p.EXIF.Location != nil {
		t.Errorf("a PNG: %+v %v", p, err)
	}
}

// pngHeader is a PNG signature and IHDR chunk declaring w × h, and nothing else: a
// decompression bomb's first 33 bytes.
func pngHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	out := append([]byte("\x89PNG\r\n\x1a\n"), binary.BigEndian.AppendUint32(nil, uint32(len(ihdr)))...)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

// Refused with their reasons, before decoding: not an image, a GIF, a 50,000 × 50,000 PNG, a
// file over the size limit; a truncated JPEG when decoded. A broken EXIF block is no reason to
// refuse the picture.
func TestPhotoRefusals(t *testing.T) {
	var g bytes.Buffer
	_ = gif.Encode(&g, scene(8, 8), nil)
	good := encode(t, scene(64, 48))
	for _, tc := range []struct {
		name   string
		data   []byte
		reason string
		msg    string
	}{
		{"text", []byte("<html>not a photo</html>"), RefusedPhotoType, "text/html"},
		{"gif", g.Bytes(), RefusedPhotoType, "image/gif"},
		{"bomb", pngHeader(50_000, 50_000), RefusedPhotoTooManyPix, "50000 × 50000"},
		{"too wide", pngHeader(20_000, 10), RefusedPhotoTooManyPix, "20000 × 10"},
		{"too large", append(append([]byte{}, good...), make([]byte, 2<<20)...), RefusedPhotoTooLarge, "at most 2097152"},
		{"truncated", good[:len(good)/2], RefusedPhotoBroken, "broken jpeg"},
		{"empty", nil, RefusedPhotoType, "want a JPEG or PNG"},
	} {
		_, err := ProcessPhoto(tc.data, PhotoLimits{MaxBytes: 2 << 20})
		var pe *PhotoError
		if !errors.As(err, &pe) || pe.Reason != tc.reason || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%s: %v, want %s (%q)", tc.name, err, tc.reason, tc.msg)
		}
	}
	broken := citizensim.WithEXIF(good, []byte("II*\x00\xff\xff\xff\x7f"))
	p, err := ProcessPhoto(broken, PhotoLimits{})
	if err != nil || p.EXIFProblem == "" || p.EXIF.Location != nil {
		t.Errorf("a photo with a broken EXIF block: %v, problem %q", err, p.EXIFProblem)
	}
}

// Whatever the bytes, ReadEXIF answers without panicking or reading out of bounds.
func FuzzReadEXIF(f *testing.F) {
	good := citizensim.EXIF(1, geo.Location{Lat: 22.5, Lon: 103.9}, time.Date(2026, 11, 30, 8, 15, 0, 0, geo.Zone))
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x01"))
	f.Fuzz(func(t *testing.T, block []byte) {
		jpg := citizensim.WithEXIF([]byte{0xff, 0xd8, 0xff, 0xd9}, block)
		e, err := ReadEXIF(jpg)
		if err == nil && e.Location != nil && (math.Abs(e.Location.Lat) > 90 || math.Abs(e.Location.Lon) > 180) {
			t.Errorf("a position out of range: %+v", e.Location)
		}
	})
}

// The YCbCr fast paths agree with the picture-by-pixel ones: turning a JPEG's planes gives the
// same pixels for every orientation (4:2:0, 4:2:2 and 4:4:4), and the thumbnail averaged in
// YCbCr is within a step or two of the one averaged in RGB.
func TestUprightAndThumbnailFastPaths(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio444} {
		src := image.NewYCbCr(image.Rect(0, 0, 10, 6), ratio)
		for i := range src.Y {
			src.Y[i] = uint8(i * 7)
		}
		for i := range src.Cb {
			src.Cb[i], src.Cr[i] = uint8(i*13), uint8(255-i*11)
		}
		for o := 2; o <= 8; o++ {
			fast, slow := uprightYCbCr(src, o), uprightAny(src, o)
			if fast == nil || fast.Bounds() != slow.Bounds() {
				t.Fatalf("%v orientation %d: %v against %v", ratio, o, fast, slow.Bounds())
			}
			for y := range slow.Bounds().Dy() {
				for x := range slow.Bounds().Dx() {
					if a, b := color.RGBAModel.Convert(fast.At(x, y)), color.RGBAModel.Convert(slow.At(x, y)); a != b {
						t.Fatalf("%v orientation %d at %d,%d: %v, want %v", ratio, o, x, y, a, b)
					}
				}
			}
		}
	}
	big := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
	for i := range big.Y { // a picture's values, far from what RGB clips
		big.Y[i] = uint8(60 + i%131)
	}
	for i := range big.Cb {
		big.Cb[i], big.Cr[i] = uint8(110+i%7*5), uint8(115+i%5*6)
	}
	fast := thumbnail(big, 320)
	rgba := image.NewRGBA(big.Bounds())
	for y := range 480 {
		for x := range 640 {
			rgba.Set(x, y, big.At(x, y))
		}
	}
	slow := thumbnail(rgba, 320)
	for y := range 240 {
		for x := range 320 {
			a, b := color.RGBAModel.Convert(fast.At(x, y)).(color.RGBA), slow.At(x, y).(color.RGBA)
			if d := max(diff(a.R, b.R), diff(a.G, b.G), diff(a.B, b.B)); d > 4 {
				t.Fatalf("thumbnail at %d,%d: %v, want about %v", x, y, a, b)
			}
		}
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
