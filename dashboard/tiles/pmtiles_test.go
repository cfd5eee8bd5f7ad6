package tiles

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Tile ids as PMTiles' other implementations number them.
func TestTileID(t *testing.T) {
	for _, c := range []struct {
		z    uint8
		x, y uint32
		id   uint64
	}{
		{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 2}, {1, 1, 1, 3}, {1, 1, 0, 4}, {2, 0, 0, 5},
		{2, 1, 3, 11}, {3, 3, 0, 26}, {12, 3423, 1763, 19078479},
	} {
		if got := TileID(c.z, c.x, c.y); got != c.id {
			t.Errorf("TileID(%d, %d, %d) = %d, want %d", c.z, c.x, c.y, got, c.id)
		}
	}
}

// writeArchive writes a PMTiles archive of tiles (by id) with gzip-compressed directories: the
// root holds the first tile and a leaf directory with the rest, the last two tiles one run.
func writeArchive(t *testing.T, tiles map[uint64][]byte, ids []uint64) string {
	t.Helper()
	var data []byte
	var es []entry
	for i, id := range ids {
		if i == len(ids)-1 && len(es) > 0 && bytes.Equal(tiles[id], tiles[ids[i-1]]) { // same bytes: one entry, a run of two
			es[len(es)-1].run++
			continue
		}
		es = append(es, entry{id: id, offset: uint64(len(data)), length: uint64(len(tiles[id])), run: 1})
		data = append(data, tiles[id]...)
	}
	leaf := encode(t, es[1:])
	root := encode(t, []entry{es[0], {id: es[1].id, offset: 0, length: uint64(len(leaf)), run: 0}})
	h := make([]byte, headerLen)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(off int, v uint64) { binary.LittleEndian.PutUint64(h[off:], v) }
	put(8, headerLen)
	put(16, uint64(len(root)))
	put(24, headerLen+uint64(len(root)))
	put(40, headerLen+uint64(len(root)))
	put(48, uint64(len(leaf)))
	put(56, headerLen+uint64(len(root)+len(leaf)))
	put(64, uint64(len(data)))
	h[97], h[98], h[99], h[101] = compressGzip, compressNone, 2, 3
	path := filepath.Join(t.TempDir(), "t.pmtiles")
	if err := os.WriteFile(path, bytes.Join([][]byte{h, root, leaf, data}, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// encode serializes and gzips a directory as the specification says.
func encode(t *testing.T, es []entry) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(es)))
	var last uint64
	for _, e := range es {
		b = binary.AppendUvarint(b, e.id-last)
		last = e.id
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, e.run)
	}
	for _, e := range es {
		b = binary.AppendUvarint(b, e.length)
	}
	for i, e := range es {
		if i > 0 && e.offset == es[i-1].offset+es[i-1].length {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, e.offset+1)
		}
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// Tiles come back from the root, from a leaf directory and from a run; a tile the archive
// does not hold, one outside its zoom's grid and a broken archive are refused.
func TestArchive(t *testing.T) {
	tiles := map[uint64][]byte{
		TileID(0, 0, 0): []byte("z0"), TileID(1, 1, 0): []byte("z1-1-0"),
		TileID(2, 1, 3): []byte("z2-1-3"), TileID(2, 1, 3) + 1: []byte("z2-1-3"),
	}
	path := writeArchive(t, tiles, []uint64{0, TileID(1, 1, 0), TileID(2, 1, 3), TileID(2, 1, 3) + 1})
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.ContentType() != "image/png" || a.ContentEncoding() != "" || a.MaxZoom != 3 {
		t.Errorf("type %s, encoding %q, max zoom %d", a.ContentType(), a.ContentEncoding(), a.MaxZoom)
	}
	var nx, ny uint32 // the tile after 2/1/3 on the curve: the run's second
	for x := range uint32(4) {
		for y := range uint32(4) {
			if TileID(2, x, y) == TileID(2, 1, 3)+1 {
				nx, ny = x, y
			}
		}
	}
	for _, c := range []struct {
		z    uint8
		x, y uint32
		want string
	}{{0, 0, 0, "z0"}, {1, 1, 0, "z1-1-0"}, {2, 1, 3, "z2-1-3"}, {2, nx, ny, "z2-1-3"}} {
		if b, err := a.Tile(c.z, c.x, c.y); err != nil || string(b) != c.want {
			t.Errorf("tile %d/%d/%d: %q %v, want %q", c.z, c.x, c.y, b, err, c.want)
		}
	}
	for _, c := range [][3]uint32{{1, 0, 0}, {2, 0, 0}, {3, 7, 7}} {
		if _, err := a.Tile(uint8(c[0]), c[1], c[2]); !errors.Is(err, ErrNoTile) {
			t.Errorf("tile %v: %v, want ErrNoTile", c, err)
		}
	}
	if _, err := a.Tile(1, 2, 0); !errors.Is(err, ErrOutside) {
		t.Errorf("tile 1/2/0 (outside the grid): %v", err)
	}
	broken := filepath.Join(t.TempDir(), "broken.pmtiles")
	raw, _ := os.ReadFile(path)
	for name, b := range map[string][]byte{"short": raw[:50], "magic": append([]byte("MBTiles"), raw[7:]...), "root": append(raw[:headerLen:headerLen], 0x1f, 0x8b, 1, 2)} {
		if err := os.WriteFile(broken, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(broken); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := decodeDir([]byte{2, 5, 1, 1, 1, 4, 4, 0, 0}); err == nil { // second id not after the first
		t.Error("a directory with a repeated tile id decoded")
	}
}
