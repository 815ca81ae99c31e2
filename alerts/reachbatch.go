package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
)

// reachChange is one member's state of a message, from one receipt.
type reachChange struct {
	member string
	state  records.ReachState
	at     time.Time
	by     string
}

// reachBatch is what the receipts of one window change in one key.
type reachBatch struct {
	affected bool // the key is an affected set (SIGHTINGS), not a REACH set
	changes  []reachChange
	done     chan struct{}
	err      error
}

// reachBatcher writes REACH sets (and affected sets) once per window per
// key: the receipts that arrive within a window for one key are merged
// into one compare-and-set of that key, tried again when another node
// came first. A receipt is acknowledged only once the write that carries
// it has landed (wait), so a node that dies mid-window loses nothing: its
// receipts are redelivered and merged again, which changes nothing twice.
type reachBatcher struct {
	reach, sightings jetstream.KeyValue
	window           time.Duration

	mu      sync.Mutex
	pending map[string]*reachBatch // by bucket and key
}

func newReachBatcher(reach, sightings jetstream.KeyValue, window time.Duration) *reachBatcher {
	return &reachBatcher{reach: reach, sightings: sightings, window: window, pending: map[string]*reachBatch{}}
}

// add queues c for key (an affected set's when affected) and returns the
// batch that will carry it.
func (b *reachBatcher) add(key string, affected bool, c reachChange) *reachBatch {
	id := key
	if affected {
		id = "a:" + key
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bt := b.pending[id]
	if bt == nil {
		bt = &reachBatch{affected: affected, done: make(chan struct{})}
		b.pending[id] = bt
		time.AfterFunc(b.window, func() { b.flush(id, key, bt) })
	}
	bt.changes = append(bt.changes, c)
	return bt
}

// flushTimeout bounds one window's write of one key.
const flushTimeout = 15 * time.Second

// flush writes bt, the window's changes of key, and wakes its waiters.
func (b *reachBatcher) flush(id, key string, bt *reachBatch) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if bt.affected {
		bt.err = addAffected(ctx, b.sightings, key, bt.changes)
	} else {
		_, _, bt.err = updateJSON(ctx, b.reach, key, false, func() records.ReachSet { return records.ReachSet{} },
			func(s *records.ReachSet) bool { return applyReach(s, bt.changes) })
	}
	close(bt.done)
}

// applyReach merges changes into s, noting the members changed; it
// reports whether anything changed.
func applyReach(s *records.ReachSet, changes []reachChange) bool {
	s.Changed = nil
	for _, c := range changes {
		if s.Add(c.member, c.state, c.at, c.by) && !slices.Contains(s.Changed, c.member) {
			s.Changed = append(s.Changed, c.member)
		}
	}
	slices.Sort(s.Changed)
	return len(s.Changed) > 0
}

// addAffected adds the members of changes to the affected set key, when
// it exists: the router creates it only for a liaison's CSAF advisory,
// and an affected flag on a receipt of anything else is ignored.
func addAffected(ctx context.Context, kv jetstream.KeyValue, key string, changes []reachChange) error {
	for range casAttempts {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var set records.AffectedSet
		if err := json.Unmarshal(e.Value(), &set); err != nil {
			return fmt.Errorf("%s %s is corrupt: %w", kv.Bucket(), key, err)
		}
		n := len(set.Members)
		for _, c := range changes {
			if !slices.Contains(set.Members, c.member) {
				set.Members = append(set.Members, c.member)
			}
		}
		if len(set.Members) == n {
			return nil
		}
		slices.Sort(set.Members)
		data, _ := json.Marshal(set)
		_, err = kv.Update(ctx, key, data, e.Revision())
		if err == nil {
			return nil
		}
		if !isWrongRevision(err) {
			return err
		}
	}
	return fmt.Errorf("%s %s: too much contention", kv.Bucket(), key)
}

// wait returns once every batch of bts has been written, with their
// errors, or when ctx ends.
func waitBatches(ctx context.Context, bts []*reachBatch) error {
	var errs []error
	for _, bt := range bts {
		select {
		case <-bt.done:
			errs = append(errs, bt.err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}
