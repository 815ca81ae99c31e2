package keyed

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Items of one key run in order, one at a time; keys run in parallel up to
// the limit, and never beyond it.
func TestOrderPerKeyAndParallelismAcrossKeys(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int{}
	var running, peak, perKey atomic.Int32
	busy := map[string]*atomic.Int32{}
	for k := range 10 {
		busy[fmt.Sprint(k)] = new(atomic.Int32)
	}
	type item struct {
		key string
		n   int
	}
	e := New(4, func(it item) {
		if busy[it.key].Add(1) > 1 {
			perKey.Add(1)
		}
		now := running.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		seen[it.key] = append(seen[it.key], it.n)
		mu.Unlock()
		running.Add(-1)
		busy[it.key].Add(-1)
	})
	for n := range 50 {
		for k := range 10 {
			e.Submit(fmt.Sprint(k), item{fmt.Sprint(k), n})
		}
	}
	e.Wait()
	for k, ns := range seen {
		if len(ns) != 50 {
			t.Fatalf("key %s ran %d items, want 50", k, len(ns))
		}
		for i, n := range ns {
			if n != i {
				t.Fatalf("key %s ran item %d at position %d: order lost", k, n, i)
			}
		}
	}
	if perKey.Load() != 0 {
		t.Fatalf("items of one key ran at the same time %d times", perKey.Load())
	}
	if p := peak.Load(); p < 2 || p > 4 {
		t.Fatalf("peak parallelism %d, want 2..4 (limit 4)", p)
	}
}
