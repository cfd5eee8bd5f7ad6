package citizen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"

	"github.com/haidang-ioc/ioc/internal/geo"
)

// PhotoLimits bound what one photo may cost; every check runs before the photo is decoded.
type PhotoLimits struct {
	// MaxBytes bounds the file (default 10 MiB).
	MaxBytes int
	// MaxPixels bounds width × height as the header declares them (default 40 megapixels):
	// a 50,000 × 50,000 PNG of a few kilobytes is refused unread.
	MaxPixels int
	// MaxSide bounds either side (default 12,000 pixels).
	MaxSide int
	// Thumb is the longer side of the thumbnail (default 320).
	Thumb int
}

func (l PhotoLimits) withDefaults() PhotoLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 10 << 20
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = 40_000_000
	}
	if l.MaxSide <= 0 {
		l.MaxSide = 12_000
	}
	if l.Thumb <= 0 {
		l.Thumb = 320
	}
	return l
}

// Why a photo was refused.
const (
	RefusedPhotoTooLarge   = "photo_too_large"
	RefusedPhotoType       = "photo_type"
	RefusedPhotoTooManyPix = "photo_too_many_pixels"
	RefusedPhotoBroken     = "photo_broken"
)

// PhotoError is why a photo was refused: Reason is one of the RefusedPhoto* codes.
type PhotoError struct {
	Reason string
	Msg    string
}

func (e *PhotoError) Error() string { return e.Msg }

func refusePhoto(reason, format string, args ...any) error {
	return &PhotoError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Photo is a photo as kept: re-encoded from its pixels (so nothing of the file but the picture
// remains: no EXIF, no location, no maker notes), turned upright, with a thumbnail, both named
// by the SHA-256 of their bytes.
type Photo struct {
	JPEG, Thumb     []byte
	Hash, ThumbHash string // hex SHA-256
	Width, Height   int
	Format          string // of the file received: jpeg or png
	Received        int    // its size in bytes
	EXIF            EXIF   // what its EXIF said (JPEG), before it was stripped
	EXIFProblem     string // why its EXIF could not be read, when broken ("" otherwise)
	// DistanceFromReportM is how far the EXIF position lies from the report's (CheckAgainst).
	DistanceFromReportM float64
}

// ProcessPhoto checks a photo and makes what is kept of it. It accepts JPEG and PNG only; the
// size, the declared pixels and each side are checked before any decoding.
func ProcessPhoto(data []byte, lim PhotoLimits) (*Photo, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, refusePhoto(RefusedPhotoTooLarge, "photo of %d bytes: at most %d", len(data), lim.MaxBytes)
	}
	var format string
	var cfg image.Config
	var err error
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		format = "jpeg"
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format = "png"
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	default:
		return nil, refusePhoto(RefusedPhotoType, "want a JPEG or PNG photo, got %s", http.DetectContentType(data))
	}
	if err != nil {
		return nil, refusePhoto(RefusedPhotoBroken, "broken %s header: %v", format, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || cfg.Width*cfg.Height > lim.MaxPixels {
		return nil, refusePhoto(RefusedPhotoTooManyPix, "photo of %d × %d pixels: at most %d pixels, %d a side", cfg.Width, cfg.Height, lim.MaxPixels, lim.MaxSide)
	}
	p := &Photo{Format: format, Received: len(data)}
	if format == "jpeg" {
		if p.EXIF, err = ReadEXIF(data); err != nil && !errors.Is(err, errNoEXIF) {
			p.EXIFProblem = err.Error() // the photo may still be good: its metadata is dropped anyway
		}
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, refusePhoto(RefusedPhotoBroken, "broken %s: %v", format, err)
	}
	img = upright(img, p.EXIF.Orientation)
	b := img.Bounds()
	p.Width, p.Height = b.Dx(), b.Dy()
	if p.JPEG, err = encodeJPEG(img, 85); err != nil {
		return nil, err
	}
	if p.Thumb, err = encodeJPEG(thumbnail(img, lim.Thumb), 80); err != nil {
		return nil, err
	}
	p.Hash, p.ThumbHash = Hash(p.JPEG), Hash(p.Thumb)
	return p, nil
}

// Hash names content: the hex SHA-256 of its bytes.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CheckAgainst notes how far the photo's EXIF position is from the report's.
func (p *Photo) CheckAgainst(at geo.Location) {
	if p.EXIF.Location != nil {
		p.DistanceFromReportM = p.EXIF.Location.Distance(at)
	}
}

func encodeJPEG(img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode the photo: %w", err)
	}
	return buf.Bytes(), nil
}

// upright turns img as its EXIF orientation says (2-8: mirrored and turned), so the kept
// photo, which has no EXIF, shows as the camera meant. A JPEG's picture (YCbCr) is turned plane
// by plane, sample by sample; others pixel by pixel through the image interface.
func upright(img image.Image, orientation int) image.Image {
	if orientation <= 1 || orientation > 8 {
		return img
	}
	if y, ok := img.(*image.YCbCr); ok {
		if out := uprightYCbCr(y, orientation); out != nil {
			return out
		}
	}
	return uprightAny(img, orientation)
}

// turned is where the sample at (x, y) of a w × h plane goes under an EXIF orientation.
func turned(orientation, x, y, w, h int) (int, int) {
	switch orientation {
	case 2:
		return w - 1 - x, y
	case 3:
		return w - 1 - x, h - 1 - y
	case 4:
		return x, h - 1 - y
	case 5:
		return y, x
	case 6:
		return h - 1 - y, x
	case 7:
		return h - 1 - y, w - 1 - x
	case 8:
		return y, w - 1 - x
	}
	return x, y
}

// turnPlane turns a plane of w × h one-byte samples.
func turnPlane(src []byte, stride, w, h, orientation int) (dst []byte, dstStride int) {
	dw := w
	if orientation >= 5 {
		dw = h
	}
	dst = make([]byte, w*h)
	for y := range h {
		row := src[y*stride : y*stride+w]
		for x, v := range row {
			dx, dy := turned(orientation, x, y, w, h)
			dst[dy*dw+dx] = v
		}
	}
	return dst, dw
}

// uprightYCbCr turns a YCbCr picture plane by plane; nil for a subsampling it does not turn.
func uprightYCbCr(src *image.YCbCr, orientation int) *image.YCbCr {
	ratio := src.SubsampleRatio
	if orientation >= 5 { // a quarter turn swaps the subsampling's directions
		switch ratio {
		case image.YCbCrSubsampleRatio422:
			ratio = image.YCbCrSubsampleRatio440
		case image.YCbCrSubsampleRatio440:
			ratio = image.YCbCrSubsampleRatio422
		case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420:
		default:
			return nil
		}
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if b.Min != (image.Point{}) || w%2 != 0 || h%2 != 0 { // odd sides leave chroma samples half-covered
		return nil
	}
	cw, ch := chromaSize(src.SubsampleRatio, w, h)
	ow, oh := w, h
	if orientation >= 5 {
		ow, oh = h, w
	}
	out := &image.YCbCr{SubsampleRatio: ratio, Rect: image.Rect(0, 0, ow, oh)}
	out.Y, out.YStride = turnPlane(src.Y, src.YStride, w, h, orientation)
	out.Cb, out.CStride = turnPlane(src.Cb, src.CStride, cw, ch, orientation)
	out.Cr, _ = turnPlane(src.Cr, src.CStride, cw, ch, orientation)
	return out
}

// chromaSize is the size of a w × h picture's chroma planes.
func chromaSize(r image.YCbCrSubsampleRatio, w, h int) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	}
	return w, h
}

// uprightAny turns any picture pixel by pixel.
func uprightAny(img image.Image, orientation int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if orientation >= 5 { // turned a quarter: the sides swap
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			dx, dy := turned(orientation, x, y, w, h)
			out.Set(dx, dy, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// thumbnail scales img down so that its longer side is at most side pixels, each thumbnail
// pixel the mean of the source pixels it covers.
func thumbnail(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	tw, th := side, max(1, h*side/w)
	if h > w {
		tw, th = max(1, w*side/h), side
	}
	if y, ok := img.(*image.YCbCr); ok {
		return thumbYCbCr(y, tw, th)
	}
	out := image.NewRGBA(image.Rect(0, 0, tw, th))
	for ty := range th {
		y0, y1 := span(ty, th, h)
		for tx := range tw {
			x0, x1 := span(tx, tw, w)
			var r, g, bl, n uint64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					r, g, bl, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), n+1
				}
			}
			i := out.PixOffset(tx, ty)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(r/n>>8), uint8(g/n>>8), uint8(bl/n>>8), 255
		}
	}
	return out
}

// span is the source samples [lo, hi) that thumbnail sample i of n covers in a side of size
// samples: at least one.
func span(i, n, size int) (lo, hi int) {
	lo = i * size / n
	return lo, max(lo+1, (i+1)*size/n)
}

// thumbYCbCr scales a YCbCr picture down to tw × th, each sample the mean of those it covers,
// without converting a pixel to RGB.
func thumbYCbCr(src *image.YCbCr, tw, th int) *image.YCbCr {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewYCbCr(image.Rect(0, 0, tw, th), image.YCbCrSubsampleRatio444)
	for ty := range th {
		y0, y1 := span(ty, th, h)
		for tx := range tw {
			x0, x1 := span(tx, tw, w)
			var sy, sb, sr, n int
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					yi, ci := src.YOffset(b.Min.X+x, b.Min.Y+y), src.COffset(b.Min.X+x, b.Min.Y+y)
					sy, sb, sr, n = sy+int(src.Y[yi]), sb+int(src.Cb[ci]), sr+int(src.Cr[ci]), n+1
				}
			}
			i := ty*out.YStride + tx
			out.Y[i], out.Cb[i], out.Cr[i] = uint8(sy/n), uint8(sb/n), uint8(sr/n)
		}
	}
	return out
}
