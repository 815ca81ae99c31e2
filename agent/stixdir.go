package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// STIXDir is a sink that writes the STIX 2.1 bundle of every alert and
// advisory that carries one to DIR/<id>.json, atomically: a temporary
// dotfile, fsync, rename, then one fsync of the directory per batch. A
// reader sees whole bundles only (it should skip dotfiles); a file that
// exists is never written again.
type STIXDir struct {
	dir string
	mu  sync.Mutex
}

// OpenSTIXDir creates dir if needed and removes temporary files a crash
// left behind.
func OpenSTIXDir(dir string) (*STIXDir, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: stix-dir: a directory is required", ErrSinkSpec)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("stix-dir sink: %w", err)
	}
	if err := removeTemps(dir); err != nil {
		return nil, fmt.Errorf("stix-dir sink: %w", err)
	}
	return &STIXDir{dir: dir}, nil
}

// Name implements Sink.
func (s *STIXDir) Name() string { return "stix-dir:" + s.dir }

// Path is the file of message id's bundle.
func (s *STIXDir) Path(id string) string { return filepath.Join(s.dir, id+".json") }

// Write implements Sink. Record ids are envelope ids ([A-Za-z0-9_-]), safe
// as file names.
func (s *STIXDir) Write(_ context.Context, recs []*Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wrote := false
	for _, r := range recs {
		if len(r.STIX) == 0 {
			continue
		}
		path := s.Path(r.ID)
		if _, err := os.Stat(path); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stix-dir sink: %w", err)
		}
		if err := replaceFile(path, r.STIX, 0o640, true); err != nil {
			return fmt.Errorf("stix-dir sink: %w", err)
		}
		wrote = true
	}
	if !wrote {
		return nil
	}
	return syncDir(s.dir)
}

// Close implements Sink.
func (s *STIXDir) Close() error { return nil }
