package analytics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Spool is the writer's disk queue: batches that ClickHouse could not take in time are appended
// to segment files and read back, oldest first, once it answers again. Each record carries its
// length and a CRC-32C of its bytes; a record cut short by a crash or damaged on disk is
// detected when it is read, reported, moved aside with the rest of its segment, and never
// replayed. Appends go to a new segment after every open, so that a torn tail is never written
// after. The read position is kept in a cursor file; a crash between an insert and the cursor
// update replays that record again, which the readings table's deduplication absorbs.
type Spool struct {
	dir           string
	maxBytes      int64
	segmentBytes  int64
	fsync         string
	fsyncInterval time.Duration
	log           *slog.Logger
	m             *spoolMetrics

	mu       sync.Mutex
	segments []*segment // oldest first; the last is the one being written
	w        *os.File   // the last segment, open for appending
	r        *os.File   // the segment being read
	rSeg     uint64     // which segment r is
	read     position   // where the next unread record starts
	pending  int64      // bytes appended and not yet committed
	// committed counts the bytes committed (or moved aside) since the spool was opened
	committed int64
	lastSync  time.Time
	dirty     bool // appended since the last fsync
	notify    chan struct{}
}

type segment struct {
	id   uint64
	size int64
}

// position is a place in the spool: a segment and an offset in it.
type position struct {
	seg uint64
	off int64
}

// ErrSpoolFull is returned by Append when the spool holds its maximum.
var ErrSpoolFull = errors.New("spool full")

const (
	segmentMagic  = "IOCSPL01"
	recordHeader  = 8 // uint32 length, uint32 CRC-32C
	maxRecordSize = 1 << 30
	cursorFile    = "cursor"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenSpool opens (creating if needed) the spool in dir.
func OpenSpool(dir string, maxBytes, segmentBytes int64, fsync string, fsyncInterval time.Duration, reg prometheus.Registerer, log *slog.Logger) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{
		dir: dir, maxBytes: maxBytes, segmentBytes: segmentBytes, fsync: fsync, fsyncInterval: fsyncInterval,
		log: log.With("component", "spool", "dir", dir), notify: make(chan struct{}, 1),
	}
	s.m = newSpoolMetrics(reg, s)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		num, ok := strings.CutSuffix(e.Name(), ".seg")
		id, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		s.segments = append(s.segments, &segment{id: id, size: info.Size()})
	}
	sort.Slice(s.segments, func(i, j int) bool { return s.segments[i].id < s.segments[j].id })
	// Segments that hold no record (a run that never spooled) go, except the newest, whose
	// number the next segment continues.
	kept := s.segments[:0]
	for i, seg := range s.segments {
		if seg.size <= int64(len(segmentMagic)) && i < len(s.segments)-1 {
			s.removeSegment(seg.id)
			continue
		}
		kept = append(kept, seg)
	}
	s.segments = kept
	s.read = s.loadCursor()
	// Segments wholly before the cursor were replayed; a crash kept them.
	for len(s.segments) > 0 && s.segments[0].id < s.read.seg {
		s.removeSegment(s.segments[0].id)
		s.segments = s.segments[1:]
	}
	if len(s.segments) > 0 && s.segments[0].id > s.read.seg {
		s.read = position{seg: s.segments[0].id, off: int64(len(segmentMagic))}
	}
	for _, seg := range s.segments {
		s.pending += seg.size - int64(len(segmentMagic))
	}
	if len(s.segments) > 0 && s.read.seg == s.segments[0].id {
		s.pending -= s.read.off - int64(len(segmentMagic))
	}
	if err := s.startSegment(); err != nil {
		return nil, err
	}
	if s.pending > 0 {
		s.log.Info("spool holds batches from an earlier run; they are replayed when ClickHouse answers", "bytes", s.pending, "segments", len(s.segments)-1)
	}
	return s, nil
}

// startSegment opens a new segment for appending after the last one. The caller holds mu or
// has s to itself.
func (s *Spool) startSegment() error {
	var id uint64 = 1
	if n := len(s.segments); n > 0 {
		id = s.segments[n-1].id + 1
	}
	if s.w != nil {
		if err := s.syncLocked(); err != nil {
			return err
		}
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("spool: close segment: %w", err)
		}
	}
	f, err := os.OpenFile(s.segmentPath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if _, err := f.Write([]byte(segmentMagic)); err != nil {
		f.Close()
		return fmt.Errorf("spool: new segment: %w", err)
	}
	s.w = f
	s.segments = append(s.segments, &segment{id: id, size: int64(len(segmentMagic))})
	if len(s.segments) == 1 {
		s.read = position{seg: id, off: int64(len(segmentMagic))}
	}
	return s.syncDir()
}

func (s *Spool) segmentPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", id))
}

// Append stores one record. With fsync always it is on disk when Append returns.
func (s *Spool) Append(rec []byte) error {
	if len(rec) > maxRecordSize {
		return fmt.Errorf("spool: record of %d bytes is over %d", len(rec), maxRecordSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(recordHeader + len(rec))
	if s.pending+n > s.maxBytes {
		s.m.full.Inc()
		return ErrSpoolFull
	}
	last := s.segments[len(s.segments)-1]
	if last.size > int64(len(segmentMagic)) && last.size+n > s.segmentBytes {
		if err := s.startSegment(); err != nil {
			return err
		}
		last = s.segments[len(s.segments)-1]
	}
	buf := make([]byte, recordHeader, recordHeader+len(rec))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(rec)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(rec, castagnoli))
	buf = append(buf, rec...)
	if _, err := s.w.Write(buf); err != nil {
		// The segment may now end in a partial record: never append after it.
		s.m.errors.Inc()
		_ = s.startSegment()
		return fmt.Errorf("spool: append: %w", err)
	}
	last.size += n
	s.pending += n
	s.dirty = true
	switch {
	case s.fsync == "always", s.fsync == "interval" && time.Since(s.lastSync) >= s.fsyncInterval:
		if err := s.syncLocked(); err != nil {
			return err
		}
	}
	s.m.appended.Inc()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// Sync writes appended records to disk (the interval policy's periodic fsync).
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	if !s.dirty || s.fsync == "never" {
		return nil
	}
	if err := s.w.Sync(); err != nil {
		s.m.errors.Inc()
		return fmt.Errorf("spool: fsync: %w", err)
	}
	s.dirty, s.lastSync = false, time.Now()
	return nil
}

func (s *Spool) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: fsync folder: %w", err)
	}
	return nil
}

// Pending is the number of bytes appended and not yet committed.
func (s *Spool) Pending() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// appendedTo is how many bytes have been appended since the spool was opened (with those it
// held then): a mark that Stored waits for the commits to reach.
func (s *Spool) appendedTo() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed + s.pending
}

// reached tells whether every byte appended before mark (appendedTo) is committed (stored in
// ClickHouse, or moved aside as damaged).
func (s *Spool) reached(mark int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed >= mark
}

// Check reports the spool for /healthz: an error while batches wait on disk for ClickHouse
// (they are safe there; the state says the data is not queryable yet).
func (s *Spool) Check(context.Context) error {
	if p := s.Pending(); p > 0 {
		return fmt.Errorf("%d bytes of batches wait on disk to be replayed into ClickHouse", p)
	}
	return nil
}

// Appended is signalled after each append, for a reader waiting for work.
func (s *Spool) Appended() <-chan struct{} { return s.notify }

// Read returns up to maxBytes of the oldest records not yet committed (at least one record if
// any is there) and the position after them, to hand to Commit once they are stored. A damaged
// record ends its segment: it and the rest of the segment are moved aside and reported.
func (s *Spool) Read(maxBytes int) (recs [][]byte, next position, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := s.read
	total := 0
	for total < maxBytes {
		seg := s.segment(pos.seg)
		if seg == nil {
			break
		}
		if pos.off >= seg.size {
			if seg == s.segments[len(s.segments)-1] {
				break // caught up with the writer
			}
			pos = position{seg: s.nextSegment(pos.seg), off: int64(len(segmentMagic))}
			continue
		}
		rec, err := s.readAt(pos, seg.size)
		if err != nil {
			s.quarantine(seg, pos, err)
			if seg == s.segments[len(s.segments)-1] {
				break
			}
			pos = position{seg: s.nextSegment(pos.seg), off: int64(len(segmentMagic))}
			continue
		}
		recs = append(recs, rec)
		total += len(rec)
		pos.off += int64(recordHeader + len(rec))
	}
	return recs, pos, nil
}

func (s *Spool) segment(id uint64) *segment {
	for _, seg := range s.segments {
		if seg.id == id {
			return seg
		}
	}
	return nil
}

func (s *Spool) nextSegment(id uint64) uint64 {
	for _, seg := range s.segments {
		if seg.id > id {
			return seg.id
		}
	}
	return id + 1
}

// readAt reads and checks the record at pos of a segment of size bytes.
func (s *Spool) readAt(pos position, size int64) ([]byte, error) {
	if s.r == nil || s.rSeg != pos.seg {
		if s.r != nil {
			s.r.Close()
			s.r = nil
		}
		f, err := os.Open(s.segmentPath(pos.seg))
		if err != nil {
			return nil, err
		}
		magic := make([]byte, len(segmentMagic))
		if _, err := io.ReadFull(f, magic); err != nil || string(magic) != segmentMagic {
			f.Close()
			return nil, fmt.Errorf("not a spool segment (bad header)")
		}
		s.r, s.rSeg = f, pos.seg
	}
	if size-pos.off < recordHeader {
		return nil, fmt.Errorf("torn record header at offset %d: %d bytes left", pos.off, size-pos.off)
	}
	var hdr [recordHeader]byte
	if _, err := s.r.ReadAt(hdr[:], pos.off); err != nil {
		return nil, fmt.Errorf("read record header at offset %d: %w", pos.off, err)
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	if n > maxRecordSize || pos.off+recordHeader+n > size {
		return nil, fmt.Errorf("torn record at offset %d: %d bytes announced, %d left", pos.off, n, size-pos.off-recordHeader)
	}
	rec := make([]byte, n)
	if _, err := s.r.ReadAt(rec, pos.off+recordHeader); err != nil {
		return nil, fmt.Errorf("read record at offset %d: %w", pos.off, err)
	}
	if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return nil, fmt.Errorf("checksum mismatch in the record at offset %d (%d bytes)", pos.off, n)
	}
	return rec, nil
}

// quarantine moves the damaged part of seg (from pos on) into a .corrupt file for inspection
// and shortens the segment to what was good. The damaged bytes leave the pending count.
func (s *Spool) quarantine(seg *segment, pos position, cause error) {
	s.m.corrupt.Inc()
	lost := seg.size - pos.off
	aside := fmt.Sprintf("%s.%d.corrupt", s.segmentPath(seg.id), pos.off)
	s.log.Error("spool: damaged record; the rest of the segment is moved aside and not replayed",
		"segment", filepath.Base(s.segmentPath(seg.id)), "offset", pos.off, "bytes", lost, "kept_in", aside, "err", cause)
	if err := copyTail(s.segmentPath(seg.id), pos.off, aside); err != nil {
		s.log.Error("spool: could not keep the damaged bytes", "err", err)
	}
	if seg != s.segments[len(s.segments)-1] {
		if err := os.Truncate(s.segmentPath(seg.id), pos.off); err != nil {
			s.log.Error("spool: could not cut the damaged segment", "err", err)
		}
	}
	seg.size = pos.off
	s.pending -= lost
	s.committed += lost
}

func copyTail(path string, off int64, dst string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(in, off, 1<<62)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Commit marks everything before next as stored: fully read segments are deleted and the
// cursor is saved.
func (s *Spool) Commit(next position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done int64
	for len(s.segments) > 1 && s.segments[0].id < next.seg {
		seg := s.segments[0]
		from := int64(len(segmentMagic))
		if seg.id == s.read.seg {
			from = s.read.off
		}
		done += seg.size - from
		if s.r != nil && s.rSeg == seg.id {
			s.r.Close()
			s.r = nil
		}
		s.removeSegment(seg.id)
		s.segments = s.segments[1:]
		s.read = position{seg: s.segments[0].id, off: int64(len(segmentMagic))}
	}
	if next.seg == s.read.seg {
		done += next.off - s.read.off
	}
	s.read = next
	s.pending -= done
	s.committed += done
	s.m.replayed.Inc()
	return s.saveCursor()
}

func (s *Spool) removeSegment(id uint64) {
	if err := os.Remove(s.segmentPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("spool: could not remove a replayed segment", "err", err)
	}
}

func (s *Spool) saveCursor() error {
	tmp := filepath.Join(s.dir, cursorFile+".tmp")
	data := fmt.Sprintf("%d %d\n", s.read.seg, s.read.off)
	if err := os.WriteFile(tmp, []byte(data), 0o640); err != nil {
		return fmt.Errorf("spool: save cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, cursorFile)); err != nil {
		return fmt.Errorf("spool: save cursor: %w", err)
	}
	return nil
}

func (s *Spool) loadCursor() position {
	data, err := os.ReadFile(filepath.Join(s.dir, cursorFile))
	if err != nil {
		return position{off: int64(len(segmentMagic))}
	}
	var p position
	if _, err := fmt.Sscanf(string(data), "%d %d", &p.seg, &p.off); err != nil || p.off < int64(len(segmentMagic)) {
		s.log.Warn("spool: unreadable cursor; replaying from the oldest segment", "err", err)
		return position{off: int64(len(segmentMagic))}
	}
	if seg := s.segment(p.seg); seg != nil && p.off > seg.size {
		s.log.Warn("spool: cursor past the end of its segment; replaying the segment", "segment", p.seg)
		p.off = int64(len(segmentMagic))
	}
	return p
}

// Close syncs and closes the spool's files; a nil spool has nothing to close.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.syncLocked()
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	if s.w != nil {
		err = errors.Join(err, s.w.Close())
		s.w = nil
	}
	return err
}
