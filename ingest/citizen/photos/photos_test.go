package photos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// contract is what every Store does: a photo put is got back whole, putting it again is a
// no-op, an unknown hash is ErrNotFound, and what is not a hash is refused before any I/O.
func contract(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	data := []byte("\xff\xd8\xff\xe0 a photo of rubbish at the corner of ngõ 12")
	h := hashOf(data)
	for range 2 {
		if err := s.Put(ctx, h, data); err != nil {
			t.Fatal(err)
		}
	}
	r, n, err := s.Get(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != string(data) || n != int64(len(data)) {
		t.Errorf("got %q (%d bytes), want %q", got, n, data)
	}
	if _, _, err := s.Get(ctx, hashOf([]byte("never put"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown photo: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"../../etc/passwd", strings.Repeat("A", 64), "", h[:63]} {
		if err := s.Put(ctx, bad, data); err == nil || !strings.Contains(err.Error(), "want a hex SHA-256") {
			t.Errorf("Put(%q): %v", bad, err)
		}
		if _, _, err := s.Get(ctx, bad); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", bad, err)
		}
	}
}

// On disk, a photo is one file named by its hash, with no temporary file left beside it.
func TestDisk(t *testing.T) {
	dir := t.TempDir()
	contract(t, &Disk{Dir: dir})
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, _ error) error {
		if !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	h := hashOf([]byte("\xff\xd8\xff\xe0 a photo of rubbish at the corner of ngõ 12"))
	if len(files) != 1 || files[0] != "/"+h[:2]+"/"+h[2:4]+"/"+h+".jpg" {
		t.Errorf("files in the store: %v", files)
	}
}
