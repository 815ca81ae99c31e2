// Package bench measures Tocsin against raw JetStream on the same
// in-process cluster, in the same run, so that the figures are ratios a
// noisy machine cannot distort much.
package bench

import (
	"slices"
	"time"
)

// Latency summarises a set of durations.
type Latency struct {
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// summarize sorts ds in place and returns its percentiles.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Latency{P50: at(0.50), P99: at(0.99), Max: ds[len(ds)-1]}
}
