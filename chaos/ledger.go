package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Publisher log events, one JSON line each.
const (
	// evAttempt is written before the first publish of an alert.
	evAttempt = "attempt"
	// evAck is written when the PubAck arrived: the alert is promised.
	evAck = "ack"
	// evGaveUp is written when no PubAck came in time: not promised.
	evGaveUp = "gave-up"
)

// PubEvent is one line of a publisher's log: what the checker reads.
type PubEvent struct {
	// Event is "attempt", "ack" or "gave-up".
	Event string `json:"event"`
	// Publisher is the member that published.
	Publisher string `json:"publisher"`
	// N is the alert's place in its publisher's order, from 1.
	N int `json:"n"`
	// ID is the envelope id.
	ID string `json:"id"`
	// At is when the event happened.
	At time.Time `json:"at"`
	// Spec is the alert's addressing (attempt lines).
	Spec *Spec `json:"spec,omitempty"`
	// Seq is the INGEST stream sequence of the PubAck (ack lines).
	Seq uint64 `json:"seq,omitempty"`
	// Duplicate is set when the PubAck said a retry found the alert
	// already stored.
	Duplicate bool `json:"duplicate,omitempty"`
	// Tries is how many publishes it took (ack and gave-up lines).
	Tries int `json:"tries,omitempty"`
	// Err is the last publish error (gave-up lines).
	Err string `json:"err,omitempty"`
	// Via is "site" when the alert was published at the publisher's site
	// (its PubAck is the site's outbox's), empty when at the hub
	// (attempt lines).
	Via string `json:"via,omitempty"`
}

// viaSite marks an alert published at its publisher's site.
const viaSite = "site"

// Published is one alert a publisher tried to publish, as the checker
// sees it.
type Published struct {
	Publisher string
	N         int
	ID        string
	Spec      Spec
	Attempted time.Time
	// Acked is the PubAck's time; zero when none came.
	Acked time.Time
	Seq   uint64
	// Via is "site" for an alert published at a site.
	Via string
}

// ledger is the publishers' logs, on disk and in memory (the nemesis asks
// it what was acknowledged before a heal).
type ledger struct {
	mu     sync.Mutex
	files  map[string]*pubLog
	alerts map[string]*Published
}

type pubLog struct {
	f *os.File
	w *bufio.Writer
}

func newLedger() *ledger {
	return &ledger{files: map[string]*pubLog{}, alerts: map[string]*Published{}}
}

// open creates a publisher's log at path.
func (l *ledger) open(publisher, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.files[publisher] = &pubLog{f: f, w: bufio.NewWriter(f)}
	l.mu.Unlock()
	return nil
}

// record writes e to its publisher's log and notes it in memory.
func (l *ledger) record(e PubEvent) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Event {
	case evAttempt:
		l.alerts[e.ID] = &Published{Publisher: e.Publisher, N: e.N, ID: e.ID, Spec: *e.Spec, Attempted: e.At, Via: e.Via}
	case evAck:
		if a := l.alerts[e.ID]; a != nil {
			a.Acked, a.Seq = e.At, e.Seq
		}
	}
	pl := l.files[e.Publisher]
	if pl == nil {
		return fmt.Errorf("no log open for publisher %s", e.Publisher)
	}
	_, err = pl.w.Write(append(line, '\n'))
	return err
}

// ackedBy lists the alerts acknowledged at or before t.
func (l *ledger) ackedBy(t time.Time) []*Published {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Published
	for _, a := range l.alerts {
		if !a.Acked.IsZero() && !a.Acked.After(t) {
			c := *a
			out = append(out, &c)
		}
	}
	return out
}

// Close flushes and closes every log.
func (l *ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, pl := range l.files {
		errs = append(errs, pl.w.Flush(), pl.f.Close())
	}
	l.files = map[string]*pubLog{}
	return errors.Join(errs...)
}

// ReadPublished reads publisher logs into one alert per id, ordered by
// publisher and N. An ack without its attempt line is an error: the logs
// are the checker's ground truth.
func ReadPublished(paths []string) ([]*Published, error) {
	byID := map[string]*Published{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = eachLine(f, func(line []byte) error {
			var e PubEvent
			if err := json.Unmarshal(line, &e); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			switch e.Event {
			case evAttempt:
				if e.Spec == nil {
					return fmt.Errorf("%s: attempt of %s without its spec", p, e.ID)
				}
				byID[e.ID] = &Published{Publisher: e.Publisher, N: e.N, ID: e.ID, Spec: *e.Spec, Attempted: e.At, Via: e.Via}
			case evAck:
				a := byID[e.ID]
				if a == nil {
					return fmt.Errorf("%s: ack of %s without its attempt", p, e.ID)
				}
				a.Acked, a.Seq = e.At, e.Seq
			}
			return nil
		})
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	out := make([]*Published, 0, len(byID))
	for _, a := range byID {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Publisher != out[j].Publisher {
			return out[i].Publisher < out[j].Publisher
		}
		return out[i].N < out[j].N
	})
	return out, nil
}

// eachLine calls f with every complete line of r (a torn last line is
// skipped).
func eachLine(r io.Reader, f func([]byte) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if ferr := f(line[:len(line)-1]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
