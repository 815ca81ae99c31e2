package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// QuarantineEntry is one line of the quarantine file: a message that
// failed verification, never written to a sink, acknowledged so that it is
// not retried forever.
type QuarantineEntry struct {
	// Time is when it was quarantined.
	Time time.Time `json:"time"`
	// Reason is the reason code: a rejection code name ("bad-signature",
	// "unknown-sender", ...) or one of the Reason constants.
	Reason string `json:"reason"`
	// Message says what was wrong.
	Message string `json:"message"`
	// Subject, Stream, Seq and MsgID say which copy it was.
	Subject string `json:"subject"`
	Stream  string `json:"stream"`
	Seq     uint64 `json:"seq"`
	MsgID   string `json:"msg_id,omitempty"`
	// Data is the message as received, for investigation.
	Data []byte `json:"data"`
}

// quarantine appends entries to <state>/quarantine.jsonl, fsynced before
// the messages are acknowledged.
type quarantine struct {
	path string
	mu   sync.Mutex
}

// QuarantinePath is the quarantine file of a state directory.
func QuarantinePath(stateDir string) string { return filepath.Join(stateDir, "quarantine.jsonl") }

func (q *quarantine) write(entries []QuarantineEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	f, err := os.OpenFile(q.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", q.path, err)
	}
	return nil
}

// recent keeps the last records written, for GET /alerts.
type recent struct {
	mu   sync.Mutex
	max  int
	recs []*Record
}

func (r *recent) add(recs []*Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, recs...)
	if over := len(r.recs) - r.max; over > 0 {
		r.recs = append([]*Record(nil), r.recs[over:]...)
	}
}

// last returns up to n records, newest first.
func (r *recent) last(n int) []*Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	n = min(n, len(r.recs))
	out := make([]*Record, 0, n)
	for i := len(r.recs) - 1; i >= len(r.recs)-n; i-- {
		out = append(out, r.recs[i])
	}
	return out
}

// seen is a bounded set of the ids most recently given a receipt, so that
// an alert that comes through two sectors gets one.
type seen struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newSeen(n int) *seen { return &seen{set: make(map[string]struct{}, n), ring: make([]string, n)} }

// add reports whether id is new, and remembers it.
func (s *seen) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = struct{}{}
	return true
}
