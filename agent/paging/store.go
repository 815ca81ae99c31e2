package paging

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// keepDone is how long a finished page is remembered, so that the same
// message delivered again (a redelivery, a catch-up) does not page again.
const keepDone = 7 * 24 * time.Hour

// page is one message's escalation as the state directory keeps it.
type page struct {
	Message Message `json:"message"`
	// Created is when the pager took it.
	Created time.Time `json:"created"`
	// Steps are the policy's steps as they were when the page was taken.
	Steps []stepState `json:"steps"`
	// Acked is when a person acknowledged it, and By who.
	Acked time.Time `json:"acked,omitzero"`
	By    string    `json:"by,omitempty"`
	// Resolved is when it was actioned or revoked.
	Resolved time.Time `json:"resolved,omitzero"`
	// Done is when nothing more is to be sent for it.
	Done time.Time `json:"done,omitzero"`
}

// stepState is one step of a page.
type stepState struct {
	Channel string        `json:"channel"`
	After   time.Duration `json:"after"`
	// Due is when it fires (zero until the step before was sent).
	Due time.Time `json:"due,omitzero"`
	// Sent is when its channel accepted the page; Failed when the channel
	// refused it for good (the next step then fires at once).
	Sent   time.Time `json:"sent,omitzero"`
	Failed string    `json:"failed,omitempty"`
	// Attempts counts the sends tried; NextTry is when the next may be.
	Attempts int       `json:"attempts,omitempty"`
	NextTry  time.Time `json:"next_try,omitzero"`
	// AckSent and ResolveSent say the acknowledgement and the resolution
	// reached this step's channel.
	AckSent     bool `json:"ack_sent,omitempty"`
	ResolveSent bool `json:"resolve_sent,omitempty"`
}

// store keeps one file per page in dir.
type store struct{ dir string }

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("paging: state directory: %w", err)
	}
	return &store{dir: dir}, nil
}

func (s *store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// save writes p durably: a temporary file, fsynced, renamed over the old
// one, and the directory fsynced.
func (s *store) save(p *page) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".page-*")
	if err != nil {
		return fmt.Errorf("paging: save page %s: %w", p.Message.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(p.Message.ID))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("paging: save page %s: %w", p.Message.ID, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load reads every page; finished pages older than keepDone are removed.
func (s *store) load(now time.Time) (map[string]*page, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("paging: state directory: %w", err)
	}
	pages := map[string]*page{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil {
			return nil, fmt.Errorf("paging: read %s: %w", name, err)
		}
		var p page
		if err := json.Unmarshal(data, &p); err != nil || p.Message.ID == "" {
			return nil, fmt.Errorf("paging: %s in %s does not decode (%v); move it away to start without it", name, s.dir, errors.Join(err))
		}
		if !p.Done.IsZero() && now.Sub(p.Done) > keepDone {
			_ = os.Remove(filepath.Join(s.dir, name))
			continue
		}
		pages[p.Message.ID] = &p
	}
	return pages, nil
}
