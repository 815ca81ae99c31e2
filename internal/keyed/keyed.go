// Package keyed runs work for many keys at once while keeping the order of
// each key's items: items of one key run one after another, items of
// different keys run in parallel, at most Limit at a time. The router uses
// it so that each publisher's messages are handled in order while a slow
// publisher never holds up the others.
package keyed

import "sync"

// Executor runs submitted items on up to limit worker goroutines. The
// workers stay for the next item until Wait is called: a worker that
// verified a signature has the stack for the next one, where a goroutine
// per burst grows its stack again each time. Submit never blocks.
type Executor[T any] struct {
	handle func(T)
	limit  int

	mu      sync.Mutex
	work    *sync.Cond
	queues  map[string]*queue[T]
	ready   []*queue[T] // keys with items and no worker on them, oldest first
	workers int         // running worker goroutines
	idle    int         // of which waiting for work
	closing bool        // Wait was called: idle workers leave
	wg      sync.WaitGroup
}

type queue[T any] struct {
	key     string
	items   []T
	running bool // a worker runs one of its items
}

// New returns an executor that runs handle on at most limit items at once
// (at least 1).
func New[T any](limit int, handle func(T)) *Executor[T] {
	e := &Executor[T]{handle: handle, limit: max(1, limit), queues: map[string]*queue[T]{}}
	e.work = sync.NewCond(&e.mu)
	return e
}

// Submit queues item behind the earlier items of key.
func (e *Executor[T]) Submit(key string, item T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, ok := e.queues[key]
	if !ok {
		q = &queue[T]{key: key}
		e.queues[key] = q
	}
	q.items = append(q.items, item)
	if q.running || len(q.items) > 1 {
		return // a worker or the ready list has the key already
	}
	e.ready = append(e.ready, q)
	switch {
	case e.idle > 0:
		e.work.Signal()
	case e.workers < e.limit:
		e.workers++
		e.wg.Add(1)
		go e.worker()
	}
}

// worker runs ready keys' items, one item at a time, each key's in order,
// until there is no work and Wait was called.
func (e *Executor[T]) worker() {
	defer e.wg.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		for len(e.ready) == 0 {
			if e.closing {
				e.workers--
				return
			}
			e.idle++
			e.work.Wait()
			e.idle--
		}
		q := e.ready[0]
		e.ready[0] = nil
		e.ready = e.ready[1:]
		item := q.items[0]
		q.items[0] = *new(T)
		q.items = q.items[1:]
		q.running = true
		e.mu.Unlock()
		e.handle(item)
		e.mu.Lock()
		q.running = false
		if len(q.items) > 0 {
			e.ready = append(e.ready, q) // behind the keys that waited meanwhile
		} else {
			delete(e.queues, q.key)
		}
	}
}

// Wait waits until every submitted item has run and the workers have
// left. Items submitted afterwards still run, each burst on workers that
// leave when it is done.
func (e *Executor[T]) Wait() {
	e.mu.Lock()
	e.closing = true
	e.work.Broadcast()
	e.mu.Unlock()
	e.wg.Wait()
}
