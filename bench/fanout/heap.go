package fanout

import (
	"context"
	"math"
	"runtime"
	"strings"
	"time"
)

// heapRate is the heap profile's sampling rate while the fan-out
// benchmark runs: one sample per 4 KiB allocated on average, fine enough
// for per-agent figures of tens of KiB.
const heapRate = 4096

// heapSplit is the live heap split by who allocated it: the broker
// (nats-server's code, whoever called it) and everything else in the
// process (the agents, their NATS clients, the benchmark).
type heapSplit struct{ broker, other int64 }

func (h heapSplit) minus(o heapSplit) heapSplit {
	return heapSplit{broker: h.broker - o.broker, other: h.other - o.other}
}

// liveHeapSplit is the heap in use after full collections, read from the
// runtime's heap profile and scaled for its sampling as pprof scales it.
// The three broker nodes run in the benchmark's process, so the heap
// alone cannot tell the broker's memory from the agents'; the allocating
// stacks can.
func liveHeapSplit() heapSplit {
	for range 3 { // the profile trails the collections
		runtime.GC()
	}
	n, _ := runtime.MemProfile(nil, false)
	var recs []runtime.MemProfileRecord
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	rate := float64(runtime.MemProfileRate)
	broker := map[uintptr]bool{}
	var h heapSplit
	for i := range recs {
		r := &recs[i]
		bytes, objects := r.InUseBytes(), r.InUseObjects()
		if bytes <= 0 || objects <= 0 {
			continue
		}
		scaled := int64(float64(bytes) / (1 - math.Exp(-float64(bytes)/float64(objects)/rate)))
		if fromBroker(r.Stack(), broker) {
			h.broker += scaled
		} else {
			h.other += scaled
		}
	}
	return h
}

// fromBroker reports whether nats-server's code is on the allocating
// stack; known remembers the answer per program counter.
func fromBroker(stack []uintptr, known map[uintptr]bool) bool {
	for _, pc := range stack {
		is, ok := known[pc]
		if !ok {
			f := runtime.FuncForPC(pc - 1)
			is = f != nil && strings.Contains(f.Name(), "nats-io/nats-server/")
			known[pc] = is
		}
		if is {
			return true
		}
	}
	return false
}

// settledHeapSplit is liveHeapSplit once the broker's part stops falling
// (what stopped agents' connections held is released over some seconds),
// or after 30 s.
func settledHeapSplit(ctx context.Context) heapSplit {
	prev := liveHeapSplit()
	for range 30 {
		select {
		case <-ctx.Done():
			return prev
		case <-time.After(time.Second):
		}
		h := liveHeapSplit()
		if h.broker > prev.broker-prev.broker/100 {
			return h
		}
		prev = h
	}
	return prev
}
