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
	"time"

	"github.com/haidang-ioc/ioc/internal/testenv"
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

// In a real S3-compatible server (SeaweedFS's S3 gateway) through minio-go: the bucket is made
// once, and the contract holds; a wrong secret is refused, saying so.
func TestS3(t *testing.T) {
	sw := testenv.StartSeaweedFS(t)
	s, err := NewS3(S3Config{Endpoint: sw.S3, Bucket: "ioc-photos", Prefix: "test/", AccessKey: sw.AccessKey, SecretKey: sw.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testenv.WaitFor(t, "the bucket made (SeaweedFS's filer joins its S3 gateway after start)", 30*time.Second, func() bool {
		return s.EnsureBucket(ctx) == nil
	})
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("the bucket again: %v", err)
	}
	contract(t, s)
	bad, _ := NewS3(S3Config{Endpoint: sw.S3, Bucket: "ioc-photos", AccessKey: sw.AccessKey, SecretKey: "wrong"})
	data := []byte("another photo")
	if err := bad.Put(ctx, hashOf(data), data); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a wrong secret: %v", err)
	}
	if _, err := NewS3(S3Config{Endpoint: "ftp://x", Bucket: "b"}); err == nil {
		t.Error("an ftp endpoint was taken")
	}
}
