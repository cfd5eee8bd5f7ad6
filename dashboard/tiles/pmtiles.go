// Package tiles reads map tiles from a PMTiles archive (version 3): one file holding a whole
// tile pyramid, read in place, so that ioc serves the map's base layer on a closed network
// without a tile server. The archive's directories may be uncompressed or gzip-compressed;
// tiles are served as stored (with their Content-Encoding).
package tiles

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// Errors of Tile: a tile the archive does not hold, an address outside its zoom's grid.
var (
	ErrNoTile  = errors.New("no such tile")
	ErrOutside = errors.New("outside the zoom's grid")
)

// Bounds on what an archive may ask of the reader.
const (
	headerLen  = 127
	maxDirLen  = 16 << 20 // a directory, compressed or not
	maxTileLen = 16 << 20
	maxDepth   = 4 // root and leaf directories
	maxLeaves  = 256
)

// Compression codes of the header (internal and tile compression).
const (
	compressNone = 1
	compressGzip = 2
)

// Archive is an open PMTiles file. It is safe for concurrent use.
type Archive struct {
	f                         *os.File
	root                      []entry
	leafOff, dataOff          uint64
	internal, tileCompression uint8
	tileType                  uint8
	MinZoom, MaxZoom          uint8

	mu     sync.Mutex
	leaves map[[2]uint64][]entry // leaf directories read, by offset and length
}

type entry struct {
	id, offset, length, run uint64
}

// Open opens the archive at path and reads its header and root directory.
func Open(path string) (*Archive, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("map tiles: %w", err)
	}
	a, err := open(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map tiles %s: %w", path, err)
	}
	return a, nil
}

func open(f *os.File) (*Archive, error) {
	h := make([]byte, headerLen)
	if _, err := io.ReadFull(f, h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(h[:7]) != "PMTiles" || h[7] != 3 {
		return nil, errors.New("not a PMTiles version 3 archive")
	}
	u := func(off int) uint64 { return binary.LittleEndian.Uint64(h[off:]) }
	a := &Archive{f: f, leafOff: u(40), dataOff: u(56), internal: h[97], tileCompression: h[98], tileType: h[99],
		MinZoom: h[100], MaxZoom: h[101], leaves: map[[2]uint64][]entry{}}
	if a.internal != compressNone && a.internal != compressGzip {
		return nil, fmt.Errorf("directories compressed with code %d: only none (1) and gzip (2) are read", a.internal)
	}
	root, err := a.dir(u(8), u(16))
	if err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	a.root = root
	return a, nil
}

// Close closes the file.
func (a *Archive) Close() error { return a.f.Close() }

// ContentType is the tiles' media type.
func (a *Archive) ContentType() string {
	switch a.tileType {
	case 1:
		return "application/vnd.mapbox-vector-tile"
	case 2:
		return "image/png"
	case 3:
		return "image/jpeg"
	case 4:
		return "image/webp"
	case 5:
		return "image/avif"
	}
	return "application/octet-stream"
}

// ContentEncoding is the tiles' HTTP Content-Encoding: gzip, or "" when stored plain.
func (a *Archive) ContentEncoding() string {
	if a.tileCompression == compressGzip {
		return "gzip"
	}
	return ""
}

// Tile returns tile z/x/y as stored: ErrNoTile when the archive does not hold it, ErrOutside
// for an address outside zoom z's grid, another error when the archive cannot be read.
func (a *Archive) Tile(z uint8, x, y uint32) ([]byte, error) {
	if z > 31 || uint64(x) >= 1<<z || uint64(y) >= 1<<z {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, ErrOutside)
	}
	id := TileID(z, x, y)
	dir := a.root
	for depth := 0; depth < maxDepth; depth++ {
		i := sort.Search(len(dir), func(i int) bool { return dir[i].id > id }) - 1
		if i < 0 {
			return nil, ErrNoTile
		}
		e := dir[i]
		if e.run > 0 {
			if id >= e.id+e.run {
				return nil, ErrNoTile
			}
			if e.length > maxTileLen {
				return nil, fmt.Errorf("tile %d/%d/%d: %d bytes, more than %d", z, x, y, e.length, maxTileLen)
			}
			b := make([]byte, e.length)
			if _, err := a.f.ReadAt(b, int64(a.dataOff+e.offset)); err != nil {
				return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
			}
			return b, nil
		}
		leaf, err := a.leaf(e.offset, e.length)
		if err != nil {
			return nil, err
		}
		dir = leaf
	}
	return nil, fmt.Errorf("tile %d/%d/%d: directories nested deeper than %d", z, x, y, maxDepth)
}

// leaf returns a leaf directory, read once.
func (a *Archive) leaf(off, length uint64) ([]entry, error) {
	k := [2]uint64{off, length}
	a.mu.Lock()
	d, ok := a.leaves[k]
	a.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := a.dir(a.leafOff+off, length)
	if err != nil {
		return nil, fmt.Errorf("leaf directory at %d: %w", off, err)
	}
	a.mu.Lock()
	if len(a.leaves) >= maxLeaves {
		clear(a.leaves)
	}
	a.leaves[k] = d
	a.mu.Unlock()
	return d, nil
}

// dir reads and decodes the directory at off.
func (a *Archive) dir(off, length uint64) ([]entry, error) {
	if length == 0 || length > maxDirLen {
		return nil, fmt.Errorf("%d bytes", length)
	}
	b := make([]byte, length)
	if _, err := a.f.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	if a.internal == compressGzip {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if b, err = io.ReadAll(io.LimitReader(zr, maxDirLen+1)); err != nil {
			return nil, err
		}
		if len(b) > maxDirLen {
			return nil, fmt.Errorf("more than %d bytes once decompressed", maxDirLen)
		}
	}
	return decodeDir(b)
}

// decodeDir decodes a serialized directory: the number of entries, then the tile ids (each as
// its difference from the previous), the run lengths, the lengths and the offsets (0: right
// after the previous entry's bytes, else offset+1), all varints.
func decodeDir(b []byte) ([]entry, error) {
	r := bytes.NewReader(b)
	n, err := binary.ReadUvarint(r)
	if err != nil || n == 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("bad entry count %d (%v)", n, err)
	}
	es := make([]entry, n)
	var id uint64
	for i := range es {
		d, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, fmt.Errorf("tile id %d: %w", i, err)
		}
		if i > 0 && d == 0 {
			return nil, fmt.Errorf("tile id %d: not after the previous one", i)
		}
		id += d
		es[i].id = id
	}
	for _, field := range []func(*entry) *uint64{
		func(e *entry) *uint64 { return &e.run }, func(e *entry) *uint64 { return &e.length }, func(e *entry) *uint64 { return &e.offset },
	} {
		for i := range es {
			v, err := binary.ReadUvarint(r)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			*field(&es[i]) = v
		}
	}
	for i := range es {
		switch {
		case es[i].length == 0:
			return nil, fmt.Errorf("entry %d: length 0", i)
		case es[i].offset == 0 && i == 0:
			return nil, errors.New("entry 0: offset 0 (no previous entry to follow)")
		case es[i].offset == 0:
			es[i].offset = es[i-1].offset + es[i-1].length
		default:
			es[i].offset--
		}
	}
	return es, nil
}

// TileID is tile z/x/y's position on PMTiles' series of Hilbert curves: every tile of the
// zooms below z, then the tile's index on zoom z's curve.
func TileID(z uint8, x, y uint32) uint64 {
	id := (uint64(1)<<(2*uint(z)) - 1) / 3
	tx, ty := uint64(x), uint64(y)
	for s := uint64(1) << z >> 1; s > 0; s >>= 1 {
		var rx, ry uint64
		if tx&s != 0 {
			rx = 1
		}
		if ty&s != 0 {
			ry = 1
		}
		id += s * s * ((3 * rx) ^ ry)
		if ry == 0 { // rotate the quadrant
			if rx == 1 {
				tx, ty = s-1-tx, s-1-ty
			}
			tx, ty = ty, tx
		}
	}
	return id
}
