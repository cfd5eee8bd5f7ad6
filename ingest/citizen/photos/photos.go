// Package photos keeps citizen reports' photos by content address (the hex SHA-256 of their
// bytes): on local disk by default, each file written in full and synced before it is named,
// or in S3-compatible object storage through minio-go. Putting a photo already kept is a no-op,
// so a resubmitted report stores nothing twice.
package photos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// Store keeps photos by their hash.
type Store interface {
	// Put keeps data under hash, the hex SHA-256 of data (checked by the caller).
	Put(ctx context.Context, hash string, data []byte) error
	// Get opens the photo kept under hash and tells its size; ErrNotFound when none is.
	Get(ctx context.Context, hash string) (io.ReadCloser, int64, error)
}

// ErrNotFound is a hash no photo is kept under.
var ErrNotFound = errors.New("no such photo")

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkHash refuses what is not a content address (and so no path can be smuggled in).
func checkHash(hash string) error {
	if !hashPattern.MatchString(hash) {
		return fmt.Errorf("photo %.80q: want a hex SHA-256", hash)
	}
	return nil
}

// Disk keeps photos in a directory, as <dir>/ab/cd/abcd….jpg.
type Disk struct {
	Dir string
}

func (d *Disk) path(hash string) string {
	return filepath.Join(d.Dir, hash[:2], hash[2:4], hash+".jpg")
}

// Put writes the photo to a temporary file beside its place, syncs it, renames it into place
// and syncs the directory: after Put returns, a crash loses nothing, and a reader never sees
// half a photo.
func (d *Disk) Put(_ context.Context, hash string, data []byte) error {
	if err := checkHash(hash); err != nil {
		return err
	}
	p := d.path(hash)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("photo store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return fmt.Errorf("photo store: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("photo store: write %s: %w", hash, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("photo store: sync %s: %w", hash, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("photo store: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("photo store: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("photo store: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("photo store: sync %s: %w", dir, err)
	}
	return nil
}

// Get opens a kept photo.
func (d *Disk) Get(_ context.Context, hash string) (io.ReadCloser, int64, error) {
	if err := checkHash(hash); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(d.path(hash))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("photo store: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("photo store: %w", err)
	}
	return f, st.Size(), nil
}
