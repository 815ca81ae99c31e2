package demo

import (
	"context"
	"sync"
	"time"

	"github.com/tocsin-project/tocsin/agent"
)

// ledger records, per member, the message ids a sink has taken and when,
// and wakes whoever waits for one.
type ledger struct {
	mu      sync.Mutex
	by      map[string]map[string]entry
	changed chan struct{}
}

// entry is one message a member's sink has: what the agent's record says
// of it (nil for the webhook receiver, which sees only the id), when the
// sink first had it and how many times it was handed.
type entry struct {
	rec   *agent.Record
	at    time.Time
	times int
}

func newLedger() *ledger {
	return &ledger{by: map[string]map[string]entry{}, changed: make(chan struct{})}
}

func (l *ledger) add(member, id string, rec *agent.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.by[member]
	if m == nil {
		m = map[string]entry{}
		l.by[member] = m
	}
	e, ok := m[id]
	if !ok {
		e = entry{rec: rec, at: time.Now()}
	}
	e.times++
	m[id] = e
	close(l.changed)
	l.changed = make(chan struct{})
}

// get returns member's entry of id.
func (l *ledger) get(member, id string) (entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.by[member][id]
	return e, ok
}

// all returns a copy of member's entries.
func (l *ledger) all(member string) map[string]entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]entry, len(l.by[member]))
	for id, e := range l.by[member] {
		out[id] = e
	}
	return out
}

// wait returns once done reports true, checking it after every change,
// or ctx's error.
func (l *ledger) wait(ctx context.Context, done func() bool) error {
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if done() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// last is the latest time any of members' sinks first had id; ok is false
// when one of them does not have it.
func (l *ledger) last(id string, members []string) (time.Time, bool) {
	var t time.Time
	for _, m := range members {
		e, ok := l.get(m, id)
		if !ok {
			return time.Time{}, false
		}
		if e.at.After(t) {
			t = e.at
		}
	}
	return t, true
}
