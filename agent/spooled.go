package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// spool is the durable half of a sink that delivers in the background
// (syslog, HEC): Write encodes each new record and appends it to a queue
// on disk, fsynced, and returns; a sender takes the queue from the front
// and advances it only once the receiver has what it took. An id is queued
// once: the ids file and the queue's own frames remember which ids were.
// Bodies the receiver refuses for good go to the dead-letter file.
type spool struct {
	q    *queue
	dead string

	mu      sync.Mutex
	ids     map[string]struct{}
	idsFile *os.File
}

// spoolName is the file name prefix of the spool of a sink kind and target:
// one spool per receiver, so two sinks never share one.
func spoolName(kind, target string) string {
	sum := sha256.Sum256([]byte(target))
	return kind + "-" + hex.EncodeToString(sum[:4])
}

// openSpool opens (or creates) the spool name in dir.
func openSpool(dir, name string) (*spool, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: %s: a spool directory is required", ErrSinkSpec, name)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s spool: %w", name, err)
	}
	s := &spool{ids: map[string]struct{}{}, dead: filepath.Join(dir, name+".dead.jsonl")}
	idsPath := filepath.Join(dir, name+".ids")
	data, err := os.ReadFile(idsPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s spool: %w", name, err)
	}
	for _, id := range strings.Split(string(data), "\n") {
		if id != "" {
			s.ids[id] = struct{}{}
		}
	}
	if s.idsFile, err = os.OpenFile(idsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("%s spool: %w", name, err)
	}
	if s.q, err = openQueue(dir, name, true); err != nil {
		s.idsFile.Close()
		return nil, err
	}
	// The ids file is written without fsync; before the queue drops frames
	// it must hold their ids durably.
	s.q.beforeCompact = s.idsFile.Sync
	items, _, err := s.q.peekFrom(0, -1)
	if err != nil {
		s.close()
		return nil, err
	}
	for _, it := range items {
		id, _ := splitItem(it)
		s.ids[id] = struct{}{}
	}
	return s, nil
}

// splitItem splits a queued item into the record id and the body.
func splitItem(it []byte) (id string, body []byte) {
	i, b, _ := bytes.Cut(it, []byte{'\n'})
	return string(i), b
}

// add queues the records not queued before, durably; encode makes a body
// (nil: nothing to send for that record).
func (s *spool) add(recs []*Record, encode func(*Record) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items [][]byte
	var ids bytes.Buffer
	added := map[string]bool{}
	for _, r := range recs {
		if _, ok := s.ids[r.ID]; ok || added[r.ID] {
			continue
		}
		body, err := encode(r)
		if err != nil {
			return fmt.Errorf("encode %s: %w", r.ID, err)
		}
		added[r.ID] = true
		ids.WriteString(r.ID + "\n")
		if body != nil {
			items = append(items, append([]byte(r.ID+"\n"), body...))
		}
	}
	if len(added) == 0 {
		return nil
	}
	if err := s.q.append(items...); err != nil {
		return err
	}
	if _, err := s.idsFile.Write(ids.Bytes()); err != nil {
		return err
	}
	for id := range added {
		s.ids[id] = struct{}{}
	}
	return nil
}

// deadLetter appends a body the receiver at url refused for good, or after
// attempts tries, to the dead-letter file, durably, with why.
func (s *spool) deadLetter(id, url string, attempts int, body []byte, cause error) error {
	var raw json.RawMessage
	if json.Valid(body) {
		raw = body
	} else {
		raw, _ = json.Marshal(string(body))
	}
	line, err := json.Marshal(struct {
		ID       string          `json:"id"`
		URL      string          `json:"url"`
		Attempts int             `json:"attempts"`
		Error    string          `json:"error"`
		Time     time.Time       `json:"time"`
		Body     json.RawMessage `json:"body"`
	}{id, url, attempts, cause.Error(), time.Now().UTC(), raw})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(s.dead, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	bw.Write(line)
	bw.WriteByte('\n')
	err = bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.idsFile.Sync()
	if cerr := s.idsFile.Close(); err == nil {
		err = cerr
	}
	if cerr := s.q.close(); err == nil {
		err = cerr
	}
	return err
}

// idle waits for more to send: an append to q, a tick, or ctx's end (false).
func idle(ctx context.Context, q *queue, tick time.Duration) bool {
	select {
	case <-q.wait():
		return true
	case <-time.After(tick):
		return true
	case <-ctx.Done():
		return false
	}
}
