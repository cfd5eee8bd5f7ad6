package dashboard

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/haidang-ioc/ioc/dashboard/tiles"
)

// tileArchive writes a PMTiles archive whose one entry repeats a 1×1 PNG over every tile of
// zooms 0 to 12, and opens it.
func tileArchive(t *testing.T) (*tiles.Archive, []byte) {
	t.Helper()
	var img bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 1, 1))
	m.Set(0, 0, color.RGBA{40, 80, 120, 255})
	if err := png.Encode(&img, m); err != nil {
		t.Fatal(err)
	}
	var dir []byte
	for _, v := range []uint64{1, 0, tiles.TileID(13, 0, 0), uint64(img.Len()), 1} { // one entry: id 0, a run to zoom 13, its length, offset 0 (+1)
		dir = binary.AppendUvarint(dir, v)
	}
	h := make([]byte, 127)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(h[off:], v) }
	put(8, 127)
	put(16, uint64(len(dir)))
	put(56, 127+uint64(len(dir)))
	put(64, uint64(img.Len()))
	h[97], h[98], h[99], h[101] = 1, 1, 2, 12
	path := filepath.Join(t.TempDir(), "province.pmtiles")
	if err := os.WriteFile(path, bytes.Join([][]byte{h, dir, img.Bytes()}, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := tiles.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, img.Bytes()
}

// The map's tiles from http.tiles_file: any role reads them with its token, as stored; a tile
// the archive lacks is 404, a bad address 400, no token 401; the UI is told where they are.
func TestMapTiles(t *testing.T) {
	archive, want := tileArchive(t)
	f := newFixture(t, 0, func(o *Options) { o.Tiles = archive })
	for _, c := range []struct {
		key, path string
		code      int
	}{
		{"viewer", "/tiles/9/409/226", 200}, {"police", "/tiles/0/0/0", 200}, {"viewer", "/tiles/13/0/0", 404},
		{"viewer", "/tiles/x/0/0", 400}, {"viewer", "/tiles/2/9/0", 400}, {"", "/tiles/0/0/0", 401},
	} {
		code, body := f.call(t, c.key, "GET", APIPrefix+c.path, "")
		if code != c.code || code == 200 && !bytes.Equal(body, want) {
			t.Errorf("%s as %q: %d %q, want %d", c.path, c.key, code, body, c.code)
		}
	}
	var ui UIConfig
	if code, body := f.call(t, "viewer", "GET", APIPrefix+"/ui/config", ""); code != 200 || json.Unmarshal(body, &ui) != nil || ui.TileURL != APIPrefix+"/tiles/{z}/{x}/{y}" {
		t.Errorf("ui config: %d %s", code, body)
	}
}
