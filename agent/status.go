package agent

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// State is the agent's state as GET /healthz shows it.
type State struct {
	// Member is the member id the agent acts for.
	Member string `json:"member"`
	// State is "starting", "disconnected", "waiting" (a consumer is not
	// bound), "catching-up" or "live".
	State string `json:"state"`
	// Pending is how many messages the consumers still hold for the agent.
	Pending uint64 `json:"pending"`
	// Consumers are the consumers read, with their positions.
	Consumers []ConsumerState `json:"consumers"`
	// Outbox is the bytes of receipts and sightings not yet acknowledged.
	Outbox int64 `json:"outbox_bytes"`
	// Written and Quarantined count messages since start.
	Written     int64 `json:"written"`
	Quarantined int64 `json:"quarantined"`
	// Inventory is the member's inventory in use (Options.Inventory);
	// absent without one.
	Inventory *InventoryState `json:"inventory,omitempty"`
}

// ConsumerState is one consumer's position.
type ConsumerState struct {
	Name    string `json:"name"`
	Bound   bool   `json:"bound"`
	LastSeq uint64 `json:"last_seq"`
	Pending uint64 `json:"pending"`
}

// tracker follows the agent's state and reports each change of it on the
// logger and the status writer.
type tracker struct {
	member string
	out    io.Writer
	log    *zap.Logger

	mu          sync.Mutex
	connected   bool
	consumers   map[string]*ConsumerState
	line        string // the state last reported
	written     int64
	quarantined int64
	stopped     bool // Run is returning: nothing more is reported
}

func newTracker(member string, out io.Writer, log *zap.Logger) *tracker {
	return &tracker{member: member, out: out, log: log, consumers: map[string]*ConsumerState{}, line: "starting"}
}

// say prints a status line: on the status writer when there is one (the
// log then has it at debug only, so a terminal that shows both shows it
// once), else on the log.
func (t *tracker) say(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if t.out == nil {
		t.log.Info(msg)
		return
	}
	t.log.Debug(msg)
	fmt.Fprintf(t.out, "%s %s\n", time.Now().Format(time.RFC3339), msg)
}

// stop reports that the agent stopped, with what it wrote; the connection
// closing afterwards is not reported as a loss.
func (t *tracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	t.say("stopped: %d messages written, %d quarantined since the start", t.written, t.quarantined)
}

func (t *tracker) setConnected(ok bool, url string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok == t.connected || t.stopped {
		return
	}
	t.connected = ok
	if ok {
		t.say("connected to %s as %s", url, t.member)
	} else {
		t.say("disconnected; reconnecting")
	}
	t.update()
}

func (t *tracker) consumer(name string) *ConsumerState {
	c, ok := t.consumers[name]
	if !ok {
		c = &ConsumerState{Name: name}
		t.consumers[name] = c
	}
	return c
}

// bound records that a consumer is read, with what it still holds.
func (t *tracker) bound(name string, ok bool, pending uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.consumer(name)
	c.Bound, c.Pending = ok, pending
	t.update()
}

// progress records a consumer's position after a batch.
func (t *tracker) progress(name string, last, pending uint64, written, quarantined int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.consumer(name)
	c.LastSeq, c.Pending = last, pending
	t.written += int64(written)
	t.quarantined += int64(quarantined)
	t.update()
}

// update prints the state when it changed (catching up is reported once,
// with the count when it starts). Called with mu held.
func (t *tracker) update() {
	st, pending := t.stateLocked()
	if st == t.line {
		return
	}
	t.line = st
	switch st {
	case "catching-up":
		t.say("catching up %d messages", pending)
	case "live":
		t.say("live: every message so far is in the sinks")
	case "waiting":
		t.say("waiting for a consumer")
	}
}

func (t *tracker) stateLocked() (string, uint64) {
	var pending uint64
	bound := len(t.consumers) > 0
	for _, c := range t.consumers {
		pending += c.Pending
		bound = bound && c.Bound
	}
	switch {
	case !t.connected:
		return "disconnected", pending
	case !bound:
		return "waiting", pending
	case pending > 0 && t.line != "live":
		// Once live, a message arriving is not a backlog.
		return "catching-up", pending
	}
	return "live", 0
}

// snapshot returns the state for /healthz.
func (t *tracker) snapshot() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, pending := t.stateLocked()
	s := State{Member: t.member, State: st, Pending: pending, Written: t.written, Quarantined: t.quarantined}
	for _, c := range t.consumers {
		s.Consumers = append(s.Consumers, *c)
	}
	sort.Slice(s.Consumers, func(i, j int) bool { return s.Consumers[i].Name < s.Consumers[j].Name })
	return s
}
