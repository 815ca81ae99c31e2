// Package keyed runs work for many keys at once while keeping the order of
// each key's items: items of one key run one after another, items of
// different keys run in parallel, at most Limit at a time. The router uses
// it so that each publisher's messages are handled in order while a slow
// publisher never holds up the others.
package keyed

import "sync"

// Executor runs submitted items. Submit never blocks.
type Executor[T any] struct {
	handle func(T)
	sem    chan struct{}
	mu     sync.Mutex
	queues map[string]*queue[T]
	wg     sync.WaitGroup
}

type queue[T any] struct {
	items []T
}

// New returns an executor that runs handle on at most limit items at once
// (at least 1).
func New[T any](limit int, handle func(T)) *Executor[T] {
	return &Executor[T]{handle: handle, sem: make(chan struct{}, max(1, limit)), queues: map[string]*queue[T]{}}
}

// Submit queues item behind the earlier items of key.
func (e *Executor[T]) Submit(key string, item T) {
	e.mu.Lock()
	q, running := e.queues[key]
	if !running {
		q = &queue[T]{}
		e.queues[key] = q
	}
	q.items = append(q.items, item)
	e.mu.Unlock()
	if !running {
		e.wg.Add(1)
		go e.drain(key, q)
	}
}

// drain runs key's items until its queue is empty, then forgets the key.
func (e *Executor[T]) drain(key string, q *queue[T]) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		if len(q.items) == 0 {
			delete(e.queues, key)
			e.mu.Unlock()
			return
		}
		item := q.items[0]
		q.items[0] = *new(T)
		q.items = q.items[1:]
		e.mu.Unlock()
		e.sem <- struct{}{}
		e.handle(item)
		<-e.sem
	}
}

// Wait waits until every submitted item has run.
func (e *Executor[T]) Wait() { e.wg.Wait() }
