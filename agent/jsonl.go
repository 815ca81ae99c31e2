package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// JSONLOptions configures a JSONL sink.
type JSONLOptions struct {
	// Path is the file the SIEM tails. Required. Rotated files are kept
	// beside it as Path.<UTC time>.
	Path string
	// MaxBytes rotates the file before a write would take it past this
	// size. Default 100 MiB.
	MaxBytes int64
	// Remember is how far back the duplicate index reaches: rotated files
	// last written before it are not indexed, so the index (and the start-up
	// scan) stays bounded however long the agent runs. An id can come back
	// only while its stream keeps it, so the default is the sector and
	// inbox streams' 30 days plus a day.
	Remember time.Duration
}

// DefaultRemember is JSONLOptions.Remember's default.
const DefaultRemember = 31 * 24 * time.Hour

// JSONL is a sink that appends one JSON object per record and line to a
// file, fsyncing each batch before it returns. At start it indexes the ids
// already in the file and its rotated siblings, so a batch written just
// before a crash (and so never acknowledged) is not written again when it
// comes back; a line torn by the crash is cut off.
type JSONL struct {
	opts JSONLOptions

	mu   sync.Mutex
	f    *os.File
	size int64
	ids  map[string]struct{}
}

// OpenJSONL opens (or creates) the file and indexes the ids it holds.
func OpenJSONL(opts JSONLOptions) (*JSONL, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("%w: jsonl: a path is required", ErrSinkSpec)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: jsonl: MaxBytes %d is negative; use 0 for the default", ErrSinkSpec, opts.MaxBytes)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 100 << 20
	}
	if opts.Remember < 0 {
		return nil, fmt.Errorf("%w: jsonl: Remember %s is negative; use 0 for the default", ErrSinkSpec, opts.Remember)
	}
	if opts.Remember == 0 {
		opts.Remember = DefaultRemember
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	s := &JSONL{opts: opts, ids: map[string]struct{}{}}
	rotated, err := filepath.Glob(opts.Path + ".*")
	if err != nil {
		return nil, err
	}
	horizon := time.Now().Add(-opts.Remember)
	for _, p := range rotated {
		if st, err := os.Stat(p); err == nil && st.ModTime().Before(horizon) {
			continue // older than anything a stream can still deliver
		}
		if err := s.index(p, false); err != nil {
			return nil, err
		}
	}
	if err := s.index(opts.Path, true); err != nil {
		return nil, err
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// index adds the ids of the file at path; with cut, a torn last line is
// cut off.
func (s *JSONL) index(path string, cut bool) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			good += int64(len(line))
			var v struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(line, &v) == nil && v.ID != "" {
				s.ids[v.ID] = struct{}{}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("jsonl sink: read %s: %w", path, err)
		}
	}
	if st, err := f.Stat(); err == nil && cut && st.Size() > good {
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("jsonl sink: cut the torn last line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

func (s *JSONL) open() error {
	f, err := os.OpenFile(s.opts.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.size = f, st.Size()
	return syncDir(filepath.Dir(s.opts.Path))
}

// Name implements Sink.
func (s *JSONL) Name() string { return "jsonl:" + s.opts.Path }

// Write implements Sink: one write and one fsync for the new records.
func (s *JSONL) Write(_ context.Context, recs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var buf bytes.Buffer
	var added []string
	batch := map[string]bool{}
	for _, r := range recs {
		if _, ok := s.ids[r.ID]; ok || batch[r.ID] {
			continue
		}
		line, err := r.line()
		if err != nil {
			return fmt.Errorf("jsonl sink: encode %s: %w", r.ID, err)
		}
		buf.Write(line)
		batch[r.ID] = true
		added = append(added, r.ID)
	}
	if buf.Len() == 0 {
		return nil
	}
	if s.size > 0 && s.size+int64(buf.Len()) > s.opts.MaxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(buf.Bytes())
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		if n > 0 {
			// Take a partial batch back out: it is not acknowledged and
			// comes again, and a half line must not precede it.
			_ = s.f.Truncate(s.size)
		}
		return fmt.Errorf("jsonl sink: write %s: %w", s.opts.Path, err)
	}
	s.size += int64(n)
	for _, id := range added {
		s.ids[id] = struct{}{}
	}
	return nil
}

// rotate renames the current file aside and starts a new one.
func (s *JSONL) rotate() error {
	if err := s.f.Close(); err != nil {
		return err
	}
	aside := s.opts.Path + "." + time.Now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(s.opts.Path, aside); err != nil {
		return fmt.Errorf("jsonl sink: rotate %s: %w", s.opts.Path, err)
	}
	return s.open()
}

// Files lists the sink's files, oldest first (rotated ones, then the current).
func (s *JSONL) Files() ([]string, error) {
	rotated, err := filepath.Glob(s.opts.Path + ".*")
	if err != nil {
		return nil, err
	}
	sort.Strings(rotated)
	return append(rotated, s.opts.Path), nil
}

// Close implements Sink.
func (s *JSONL) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
