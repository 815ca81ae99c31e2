package keyed

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/testwait"
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

// A key with a backlog takes turns with the keys that arrive behind it
// instead of running its whole backlog first.
func TestKeysTakeTurns(t *testing.T) {
	var order []string
	release := make(chan struct{})
	e := New(1, func(s string) {
		if s == "a1" {
			<-release // b1 is submitted while a1 runs
		}
		order = append(order, s)
	})
	for _, s := range []string{"a1", "a2", "a3"} {
		e.Submit("a", s)
	}
	e.Submit("b", "b1")
	close(release)
	e.Wait()
	if got := fmt.Sprint(order); got != "[a1 b1 a2 a3]" {
		t.Fatalf("ran %s, want [a1 b1 a2 a3]", got)
	}
}

// The workers stay between bursts (a goroutine per burst grows its stack
// again each time), at most limit of them; Wait makes them leave, and an
// item submitted after Wait still runs.
func TestWorkersStayUntilWait(t *testing.T) {
	base := runtime.NumGoroutine()
	var ran atomic.Int32
	e := New(3, func(int) { ran.Add(1) })
	for burst := range 20 {
		for k := range 10 {
			e.Submit(fmt.Sprint(k), burst)
		}
		testwait.For(t, 5*time.Second, fmt.Sprintf("burst %d run", burst), func() error {
			if n := ran.Load(); n != int32(10*(burst+1)) {
				return fmt.Errorf("%d items ran, want %d", n, 10*(burst+1))
			}
			return nil
		})
		if n := runtime.NumGoroutine() - base; n < 1 || n > 3 {
			t.Fatalf("burst %d: %d workers, want 1..3 staying", burst, n)
		}
	}
	e.Wait()
	testwait.For(t, 5*time.Second, "the workers gone after Wait", goroutinesBack(base))
	e.Submit("late", 0)
	e.Wait()
	if ran.Load() != 201 {
		t.Fatalf("%d items ran, want 201", ran.Load())
	}
	testwait.For(t, 5*time.Second, "the workers gone after the late Wait", goroutinesBack(base))
}

// goroutinesBack holds when no more goroutines run than base.
func goroutinesBack(base int) func() error {
	return func() error {
		if n := runtime.NumGoroutine(); n > base {
			return fmt.Errorf("%d goroutines, want at most %d", n, base)
		}
		return nil
	}
}
