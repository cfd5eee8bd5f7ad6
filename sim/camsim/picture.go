package camsim

import (
	"hash/fnv"
	"image"
	"image/color"
	"strings"
	"time"
)

// A drawn picture instead of flat grey: a street scene of the camera's own colours under an
// on-screen display with the camera's id and a clock, as real cameras overlay. It is coded
// losslessly as I_PCM macroblocks (raw samples, 384 bytes a macroblock), so it is meant for
// small streams: 320×180 costs 92 KB an IDR picture. Each second a P picture recodes the
// clock's macroblock row and skips the rest, so a viewer sees the time move.

// osdZone is the clock shown on screen (Vietnam's, UTC+7, without a time zone database).
var osdZone = time.FixedZone("ICT", 7*3600)

// glyphs is a 5×7 font of what camera ids and clocks use; other characters draw as '?'.
var glyphs = map[rune][7]string{
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"####.", "....#", "....#", ".###.", "....#", "....#", "####."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	':': {".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	'/': {"....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'?': {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
}

// Text is drawn twice the font's size: 10×14 pixels a character on a 12-pixel pitch, one
// line per macroblock row.
const (
	textScale = 2
	textPitch = 6 * textScale
)

// picture draws one camera's frames.
type picture struct {
	p     videoParams
	id    string
	scene *image.YCbCr // the frame without its clock
}

func newPicture(p videoParams, id string) *picture {
	pic := &picture{p: p, id: strings.ToUpper(id)}
	// frames are drawn macroblock-aligned; the SPS crops what lies beyond the picture
	w, h := p.mbWidth()*16, p.mbHeight()*16
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	drawScene(rgba, id)
	pic.scene = image.NewYCbCr(rgba.Rect, image.YCbCrSubsampleRatio420)
	toYCbCr(pic.scene, rgba)
	fillRows(pic.scene, 0, 16, 16, 128, 128) // the id's line, dark
	drawText(pic.scene, 0, pic.id)
	return pic
}

// clockLine is the macroblock row of the clock.
const clockLine = 1

// frame is the picture at t: the scene with the clock of t.
func (pic *picture) frame(t time.Time) *image.YCbCr {
	f := &image.YCbCr{Y: append([]byte(nil), pic.scene.Y...), Cb: append([]byte(nil), pic.scene.Cb...), Cr: append([]byte(nil), pic.scene.Cr...),
		YStride: pic.scene.YStride, CStride: pic.scene.CStride, SubsampleRatio: pic.scene.SubsampleRatio, Rect: pic.scene.Rect}
	fillRows(f, clockLine*16, 16, 16, 128, 128)
	drawText(f, clockLine, clockText(t))
	return f
}

// clockText is what the clock shows at t.
func clockText(t time.Time) string { return t.In(osdZone).Format("2006-01-02 15:04:05") }

// drawScene paints a road under hills and sky, in colours and a layout of the camera's own.
func drawScene(img *image.RGBA, id string) {
	h := fnv.New32a()
	h.Write([]byte(id))
	seed := h.Sum32()
	b := img.Bounds()
	w, ht := b.Dx(), b.Dy()
	horizon := ht * (40 + int(seed%15)) / 100
	skyTop := color.RGBA{R: 70 + uint8(seed>>4%60), G: 120 + uint8(seed>>8%50), B: 200, A: 255}
	hill := color.RGBA{R: 40 + uint8(seed>>12%40), G: 110 + uint8(seed>>16%60), B: 50, A: 255}
	vanish := w/3 + int(seed>>20%uint32(w/3))
	for y := range ht {
		for x := range w {
			var c color.RGBA
			switch {
			case y < horizon:
				f := float64(y) / float64(horizon)
				c = color.RGBA{R: mix(skyTop.R, 225, f), G: mix(skyTop.G, 230, f), B: mix(skyTop.B, 240, f), A: 255}
			default:
				c = hill
				// the road widens from the vanishing point to the bottom edge
				d := float64(y-horizon) / float64(ht-horizon)
				half := int(d * float64(w) * 0.45)
				if x > vanish-half && x < vanish+half {
					c = color.RGBA{R: 70, G: 72, B: 76, A: 255}
					// a dashed centre line
					if abs(x-vanish) <= 1+int(d*3) && (y/8)%2 == 0 {
						c = color.RGBA{R: 240, G: 240, B: 235, A: 255}
					}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
}

func mix(a, b uint8, f float64) uint8 { return uint8(float64(a)*(1-f) + float64(b)*f) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// toYCbCr converts an RGBA picture to 4:2:0, each chroma sample the mean of its four pixels.
func toYCbCr(dst *image.YCbCr, src *image.RGBA) {
	b := src.Bounds()
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := src.RGBAAt(x, y)
			yy, _, _ := color.RGBToYCbCr(c.R, c.G, c.B)
			dst.Y[y*dst.YStride+x] = yy
		}
	}
	for cy := range b.Dy() / 2 {
		for cx := range b.Dx() / 2 {
			var sb, sr int
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				c := src.RGBAAt(2*cx+d[0], 2*cy+d[1])
				_, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				sb, sr = sb+int(cb), sr+int(cr)
			}
			dst.Cb[cy*dst.CStride+cx], dst.Cr[cy*dst.CStride+cx] = uint8(sb/4), uint8(sr/4)
		}
	}
}

// fillRows paints rows [y0, y0+n) one colour.
func fillRows(f *image.YCbCr, y0, n int, yy, cb, cr uint8) {
	for y := y0; y < y0+n && y < f.Rect.Dy(); y++ {
		row := f.Y[y*f.YStride : y*f.YStride+f.Rect.Dx()]
		for i := range row {
			row[i] = yy
		}
	}
	for y := y0 / 2; y < (y0+n)/2 && y < f.Rect.Dy()/2; y++ {
		for x := range f.Rect.Dx() / 2 {
			f.Cb[y*f.CStride+x], f.Cr[y*f.CStride+x] = cb, cr
		}
	}
}

// drawText writes s in white on macroblock row line, from a 4-pixel margin; what does not fit
// is cut.
func drawText(f *image.YCbCr, line int, s string) {
	x0, y0 := 4, line*16+1
	for i, r := range s {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for gy, row := range g {
			for gx, px := range row {
				if px != '#' {
					continue
				}
				for dy := range textScale {
					for dx := range textScale {
						x, y := x0+i*textPitch+gx*textScale+dx, y0+gy*textScale+dy
						if x < f.Rect.Dx() && y < f.Rect.Dy() {
							f.Y[y*f.YStride+x] = 235
						}
					}
				}
			}
		}
	}
}

// pcmMacroblock writes macroblock (mx, my) of f as I_PCM samples, after the mb_type the
// caller wrote.
func pcmMacroblock(w *bitWriter, f *image.YCbCr, mx, my int) {
	w.align()
	for y := range 16 {
		off := (my*16+y)*f.YStride + mx*16
		w.bytes(f.Y[off : off+16])
	}
	for _, plane := range [2][]byte{f.Cb, f.Cr} {
		for y := range 8 {
			off := (my*8+y)*f.CStride + mx*8
			w.bytes(plane[off : off+8])
		}
	}
}

// mbTypeIPCM is I_PCM's mb_type in an I slice; in a P slice it is 5 more.
const mbTypeIPCM = 25

// pcmIDRSlice is an IDR picture of f, every macroblock I_PCM.
func pcmIDRSlice(p videoParams, f *image.YCbCr, idrPicID uint64) []byte {
	var w bitWriter
	iSliceHeader(&w, idrPicID)
	for my := range p.mbHeight() {
		for mx := range p.mbWidth() {
			w.ue(mbTypeIPCM)
			pcmMacroblock(&w, f, mx, my)
		}
	}
	return nalu(3, naluIDR, w.trailing())
}

// pcmRowSlice is a P picture that recodes macroblock row my of f as I_PCM and skips the rest.
func pcmRowSlice(p videoParams, f *image.YCbCr, frameNum uint64, my int) []byte {
	var w bitWriter
	pSliceHeader(&w, frameNum)
	w.ue(uint64(my * p.mbWidth())) // mb_skip_run up to the row
	for mx := range p.mbWidth() {
		if mx > 0 {
			w.ue(0)
		}
		w.ue(5 + mbTypeIPCM)
		pcmMacroblock(&w, f, mx, my)
	}
	if rest := (p.mbHeight() - my - 1) * p.mbWidth(); rest > 0 {
		w.ue(uint64(rest))
	}
	return nalu(2, naluNonIDR, w.trailing())
}
