package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
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
	own      bool // the key is this batcher's own (writerKey): no one else writes it
	changes  []reachChange
	done     chan struct{}
	err      error
}

// reachBatcher writes REACH sets (and affected sets) once per window per
// key: the receipts that arrive within a window for one key are merged
// into one compare-and-set of that key, tried again when another writer
// came first. A receipt is acknowledged only once the write that carries
// it has landed (wait), so a node that dies mid-window loses nothing: its
// receipts are redelivered and merged again, which changes nothing twice.
//
// A sector's sets are written by one writer each: every router writes
// its own part of each set, under its own key (writerKey), which readers
// merge with the others' as they merge shards, so the routers' windows
// never collide on a key. One key's windows are written one after
// another (a window whose write is slow holds the next, which gathers
// meanwhile), and an own key's last value and revision are kept, so its
// next write is one compare-and-set with no read.
type reachBatcher struct {
	reach, sightings jetstream.KeyValue
	window           time.Duration
	// writer is this batcher's token in its own keys (writerKey).
	writer string

	mu      sync.Mutex
	pending map[string]*reachBatch // by bucket and key
	writing map[string]*keyWrite   // by bucket and key: one write at a time
	known   map[string]*knownSet   // own keys' last written value; guarded by their keyWrite
}

// keyWrite serialises the writes of one key.
type keyWrite struct {
	mu   sync.Mutex // held while the key is written
	refs int        // flushes holding or waiting for mu; guarded by reachBatcher.mu
}

// knownSet is an own key's value as last written, and its revision.
type knownSet struct {
	set records.ReachSet
	rev uint64
}

// knownMax bounds the own keys whose last value is kept; past it the
// cache is emptied (a key not known is read before its write).
const knownMax = 4096

func newReachBatcher(reach, sightings jetstream.KeyValue, window time.Duration, writer string) *reachBatcher {
	return &reachBatcher{reach: reach, sightings: sightings, window: window, writer: writer,
		pending: map[string]*reachBatch{}, writing: map[string]*keyWrite{}, known: map[string]*knownSet{}}
}

// writerKey is this batcher's own part of the REACH set key: the set's
// key with the writer's token on its last token ("<sender>.<message>.
// <sector>.0-<writer>", "....<sector>.3-<writer>" for shard 3), which
// the readers' patterns of the set (records.ReachSectorPatterns, and
// records.ReachMessagePattern) match.
func (b *reachBatcher) writerKey(sender, id, sector string, shard int) string {
	return records.ReachSetKey(sender, id, sector, 0) + "." + strconv.Itoa(shard) + "-" + b.writer
}

// newWriterToken is a router's token in its own REACH keys: random, so
// that no two routers, nor one restarted, share a key.
func newWriterToken() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	t := make([]byte, 8)
	for i := range t {
		t[i] = letters[rand.IntN(len(letters))]
	}
	return string(t)
}

// add queues c for key (an affected set's when affected; one of this
// batcher's own keys, writerKey, when own) and returns the batch that
// will carry it.
func (b *reachBatcher) add(key string, affected, own bool, c reachChange) *reachBatch {
	id := key
	if affected {
		id = "a:" + key
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	bt := b.pending[id]
	if bt == nil {
		bt = &reachBatch{affected: affected, own: own, done: make(chan struct{})}
		b.pending[id] = bt
		time.AfterFunc(b.window, func() { b.flush(id, key, bt) })
	}
	bt.changes = append(bt.changes, c)
	return bt
}

// flushTimeout bounds one window's write of one key.
const flushTimeout = 15 * time.Second

// flush writes bt, the window's changes of key, after any earlier
// window's write of key, and wakes its waiters.
func (b *reachBatcher) flush(id, key string, bt *reachBatch) {
	b.mu.Lock()
	delete(b.pending, id)
	w := b.writing[id]
	if w == nil {
		w = &keyWrite{}
		b.writing[id] = w
	}
	w.refs++
	b.mu.Unlock()
	w.mu.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	switch {
	case bt.affected:
		bt.err = addAffected(ctx, b.sightings, key, bt.changes)
	case bt.own:
		bt.err = b.writeOwn(ctx, id, key, bt.changes)
	default:
		_, _, bt.err = updateJSON(ctx, b.reach, key, false, func() records.ReachSet { return records.ReachSet{} },
			func(s *records.ReachSet) bool { return applyReach(s, bt.changes) })
	}
	cancel()
	w.mu.Unlock()
	b.mu.Lock()
	if w.refs--; w.refs == 0 {
		delete(b.writing, id)
	}
	b.mu.Unlock()
	close(bt.done)
}

// writeOwn merges changes into the own key key (its keyWrite held): into
// its last written value, when known, with one compare-and-set; else, or
// when the revision was not the last (a write that timed out but landed),
// read first.
func (b *reachBatcher) writeOwn(ctx context.Context, id, key string, changes []reachChange) error {
	b.mu.Lock()
	k := b.known[id]
	delete(b.known, id)
	b.mu.Unlock()
	for range casAttempts {
		if k == nil {
			k = &knownSet{}
			e, err := b.reach.Get(ctx, key)
			switch {
			case errors.Is(err, jetstream.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				k.rev = e.Revision()
				if err := json.Unmarshal(e.Value(), &k.set); err != nil {
					return fmt.Errorf("%s %s is corrupt: %w", b.reach.Bucket(), key, err)
				}
			}
		}
		if !applyReach(&k.set, changes) {
			b.remember(id, k)
			return nil
		}
		data, err := json.Marshal(k.set)
		if err != nil {
			return err
		}
		if k.rev == 0 {
			k.rev, err = b.reach.Create(ctx, key, data)
		} else {
			k.rev, err = b.reach.Update(ctx, key, data, k.rev)
		}
		if err == nil {
			b.remember(id, k)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongRevision(err) {
			return err
		}
		k = nil
	}
	return fmt.Errorf("%s %s: too much contention", b.reach.Bucket(), key)
}

// remember keeps k as own key id's last written value.
func (b *reachBatcher) remember(id string, k *knownSet) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.known) >= knownMax {
		clear(b.known)
	}
	b.known[id] = k
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
