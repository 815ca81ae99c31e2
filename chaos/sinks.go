package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// SinkLine is what the checker reads of one line of an agent's JSONL sink.
type SinkLine struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Sender     string    `json:"sender"`
	Verified   bool      `json:"verified"`
	TLP        string    `json:"tlp"`
	Lane       string    `json:"lane"`
	Sectors    []string  `json:"sectors"`
	Recipients []string  `json:"recipients"`
	Exercise   bool      `json:"exercise"`
	Subject    string    `json:"subject"`
	Seq        uint64    `json:"seq"`
	Routed     time.Time `json:"routed"`
	Received   time.Time `json:"received"`
	Delivery   uint64    `json:"delivery"`
}

// sinkReader reads an agent's JSONL sink as it grows, following rotated
// files by inode: each complete line is read once.
type sinkReader struct {
	path string

	mu      sync.Mutex
	offsets map[uint64]int64
	lines   []SinkLine
	count   map[string]int
	bad     []string
}

func newSinkReader(path string) *sinkReader {
	return &sinkReader{path: path, offsets: map[uint64]int64{}, count: map[string]int{}}
}

// Poll reads what was appended to the sink and its rotated files since
// the last Poll.
func (s *sinkReader) Poll() error {
	rotated, err := filepath.Glob(s.path + ".*")
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range append(rotated, s.path) {
		if err := s.readFrom(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *sinkReader) readFrom(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	off := s.offsets[ino]
	if st.Size() < off {
		// The agent cut a torn line we never read: keep our place.
		return nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	err = eachLine(f, func(line []byte) error {
		off += int64(len(line)) + 1
		var l SinkLine
		if err := json.Unmarshal(line, &l); err != nil || l.ID == "" {
			s.bad = append(s.bad, fmt.Sprintf("%s: a line that is not a record: %.120q", path, line))
			return nil
		}
		s.lines = append(s.lines, l)
		s.count[l.ID]++
		return nil
	})
	s.offsets[ino] = off
	return err
}

// Has reports whether the sink holds id.
func (s *sinkReader) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[id] > 0
}

// Lines returns every line read so far, and the lines that were not records.
func (s *sinkReader) Lines() ([]SinkLine, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkLine(nil), s.lines...), append([]string(nil), s.bad...)
}
