package mutualaid

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// directory is a node's in-memory copy of the AID bucket's requests and
// responder records, kept current by a watcher. It answers what needs a
// scan (matching, listing, expiry); every decision that changes state
// reads the record itself from the stream leader and writes with
// compare-and-set, so the copy being a moment behind costs nothing but a
// moment.
type directory struct {
	log *zap.Logger

	mu         sync.RWMutex
	requests   map[string]*Request
	responders map[string]*responderRecord
}

func newDirectory(log *zap.Logger) *directory {
	return &directory{log: log, requests: map[string]*Request{}, responders: map[string]*responderRecord{}}
}

// follow applies every change of the bucket until ctx ends, closing loaded
// once the initial values are in. A watcher that stops early (connection
// trouble) is started again.
func (d *directory) follow(ctx context.Context, kv jetstream.KeyValue, loaded chan<- struct{}) {
	first := true
	for ctx.Err() == nil {
		w, err := kv.WatchAll(ctx)
		if err != nil {
			d.log.Warn("watch the AID bucket; retrying", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				if first {
					first = false
					close(loaded)
				}
				continue
			}
			d.apply(e)
		}
		_ = w.Stop()
	}
}

// apply puts one change into the copy.
func (d *directory) apply(e jetstream.KeyValueEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := strings.CutPrefix(e.Key(), requestPrefix); ok {
		applyTo(d, d.requests, id, e)
	} else if id, ok := strings.CutPrefix(e.Key(), responderPrefix); ok {
		applyTo(d, d.responders, id, e)
	}
}

// applyTo puts entry e of record id into m (removes it when deleted).
func applyTo[T any](d *directory, m map[string]*T, id string, e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		delete(m, id)
		return
	}
	v, err := decodeJSON[T](e.Key(), e.Value())
	if err != nil {
		d.log.Error("aid record skipped", zap.Error(err))
		return
	}
	m[id] = v
}

// responder returns the copy's record of a responder, nil when none.
func (d *directory) responder(id string) *responderRecord {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.responders[id]
}

// each calls f with every request until f returns false; f must not keep
// or change the request.
func (d *directory) each(f func(*Request) bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, r := range d.requests {
		if !f(r) {
			return
		}
	}
}

// due returns the ids of requests still taking offers whose expiry is at
// or before now.
func (d *directory) due(now time.Time) []string {
	var ids []string
	d.each(func(r *Request) bool {
		if r.State.needsHelp() && !r.ExpiresAt.After(now) {
			ids = append(ids, r.ID)
		}
		return true
	})
	return ids
}
