package metrics

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Vec is a counter, gauge or histogram with labels. It is safe for
// concurrent use.
type Vec struct {
	name, help, typ string
	labels          []string
	bounds          []float64

	mu     sync.Mutex
	values map[string]*Sample
	order  []string
}

// NewCounter returns a counter with the given label names.
func NewCounter(name, help string, labels ...string) *Vec {
	return &Vec{name: name, help: help, typ: Counter, labels: labels, values: map[string]*Sample{}}
}

// NewGauge returns a gauge with the given label names.
func NewGauge(name, help string, labels ...string) *Vec {
	return &Vec{name: name, help: help, typ: Gauge, labels: labels, values: map[string]*Sample{}}
}

// NewHistogram returns a histogram with the given bucket bounds
// (ascending) and label names.
func NewHistogram(name, help string, bounds []float64, labels ...string) *Vec {
	return &Vec{name: name, help: help, typ: Histogram, labels: labels, bounds: slices.Clone(bounds), values: map[string]*Sample{}}
}

// sample returns the sample of a label value set, made on first use; the
// caller holds mu.
func (v *Vec) sample(values []string) *Sample {
	key := strings.Join(values, "\xff")
	s, ok := v.values[key]
	if !ok {
		s = &Sample{}
		for i, name := range v.labels {
			val := ""
			if i < len(values) {
				val = values[i]
			}
			s.Labels = append(s.Labels, name, val)
		}
		if v.typ == Histogram {
			s.Hist = &HistState{Bounds: v.bounds, Counts: make([]uint64, len(v.bounds)+1)}
		}
		v.values[key] = s
		v.order = append(v.order, key)
	}
	return s
}

// Add adds delta to the sample of the label values.
func (v *Vec) Add(delta float64, values ...string) {
	v.mu.Lock()
	v.sample(values).Value += delta
	v.mu.Unlock()
}

// Inc adds one.
func (v *Vec) Inc(values ...string) { v.Add(1, values...) }

// Set sets a gauge's sample.
func (v *Vec) Set(value float64, values ...string) {
	v.mu.Lock()
	v.sample(values).Value = value
	v.mu.Unlock()
}

// Reset forgets every sample (a gauge about to be set afresh).
func (v *Vec) Reset() {
	v.mu.Lock()
	clear(v.values)
	v.order = nil
	v.mu.Unlock()
}

// Observe records one observation in a histogram.
func (v *Vec) Observe(x float64, values ...string) {
	v.mu.Lock()
	h := v.sample(values).Hist
	i, _ := slices.BinarySearch(h.Bounds, x)
	h.Counts[i]++
	h.Sum += x
	v.mu.Unlock()
}

// Value returns a counter's or gauge's sample (tests).
func (v *Vec) Value(values ...string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.values[strings.Join(values, "\xff")]; ok {
		return s.Value
	}
	return 0
}

// Collect returns the family with a copy of every sample.
func (v *Vec) Collect(context.Context) []Family {
	v.mu.Lock()
	defer v.mu.Unlock()
	f := Family{Name: v.name, Help: v.help, Type: v.typ}
	for _, key := range v.order {
		s := *v.values[key]
		s.Labels = slices.Clone(s.Labels)
		if s.Hist != nil {
			h := *s.Hist
			h.Counts = slices.Clone(h.Counts)
			s.Hist = &h
		}
		f.Samples = append(f.Samples, s)
	}
	return []Family{f}
}

// CollectorFunc makes a function a Collector.
type CollectorFunc func(ctx context.Context) []Family

// Collect calls f.
func (f CollectorFunc) Collect(ctx context.Context) []Family { return f(ctx) }
