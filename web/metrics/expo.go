// Package metrics exposes Tocsin in the Prometheus text format (version
// 0.0.4) at /metrics: stream and consumer state read from JetStream at
// each scrape, cluster-wide counts followed from the streams and buckets
// (outcomes, rejections by reason, receipts, delivery latency, aid
// requests by state), the web face's own counters, and the counters a
// router may add (Router). It writes the format itself: no dependency.
package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metric types.
const (
	// Counter only goes up.
	Counter = "counter"
	// Gauge goes up and down.
	Gauge = "gauge"
	// Histogram counts observations in buckets.
	Histogram = "histogram"
)

// Family is one metric name with its samples.
type Family struct {
	// Name is the metric name ("tocsin_stream_messages").
	Name string
	// Help says what it measures.
	Help string
	// Type is Counter, Gauge or Histogram.
	Type string
	// Samples are its values, one per label set.
	Samples []Sample
}

// Sample is one label set's value.
type Sample struct {
	// Labels are name, value pairs.
	Labels []string
	// Value is a counter's or gauge's value.
	Value float64
	// Hist is a histogram's state.
	Hist *HistState
}

// HistState is a histogram's cumulative state.
type HistState struct {
	// Bounds are the buckets' upper bounds, ascending, without +Inf.
	Bounds []float64
	// Counts are the observations in each bucket (not cumulative), with
	// one more for +Inf.
	Counts []uint64
	// Sum is the sum of every observation.
	Sum float64
}

// Collector yields families at scrape time.
type Collector interface {
	// Collect returns the collector's families; ctx bounds any I/O.
	Collect(ctx context.Context) []Family
}

// Registry is a set of collectors.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
}

// Register adds collectors.
func (r *Registry) Register(c ...Collector) {
	r.mu.Lock()
	r.collectors = append(r.collectors, c...)
	r.mu.Unlock()
}

// Gather collects every family, merged by name and sorted.
func (r *Registry) Gather(ctx context.Context) []Family {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	byName := map[string]*Family{}
	var names []string
	for _, c := range cs {
		for _, f := range c.Collect(ctx) {
			if cur, ok := byName[f.Name]; ok {
				cur.Samples = append(cur.Samples, f.Samples...)
				continue
			}
			fc := f
			byName[f.Name] = &fc
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	out := make([]Family, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out
}

// ContentType is the text format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the registry; each scrape is bounded by timeout.
func Handler(r *Registry, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		w.Header().Set("Content-Type", ContentType)
		_ = Write(w, r.Gather(ctx))
	})
}

// Write writes families in the text format.
func Write(w io.Writer, fams []Family) error {
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.Name, escapeHelp(f.Help), f.Name, f.Type)
		for _, s := range f.Samples {
			if s.Hist == nil {
				writeLine(bw, f.Name, s.Labels, "", "", s.Value)
				continue
			}
			var cum uint64
			for i, b := range s.Hist.Bounds {
				cum += s.Hist.Counts[i]
				writeLine(bw, f.Name+"_bucket", s.Labels, "le", formatFloat(b), float64(cum))
			}
			cum += s.Hist.Counts[len(s.Hist.Bounds)]
			writeLine(bw, f.Name+"_bucket", s.Labels, "le", "+Inf", float64(cum))
			writeLine(bw, f.Name+"_sum", s.Labels, "", "", s.Hist.Sum)
			writeLine(bw, f.Name+"_count", s.Labels, "", "", float64(cum))
		}
	}
	return bw.Flush()
}

func writeLine(w *bufio.Writer, name string, labels []string, extraName, extraValue string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		w.WriteByte('{')
		sep := ""
		for i := 0; i+1 < len(labels); i += 2 {
			fmt.Fprintf(w, "%s%s=\"%s\"", sep, labels[i], escapeValue(labels[i+1]))
			sep = ","
		}
		if extraName != "" {
			fmt.Fprintf(w, "%s%s=\"%s\"", sep, extraName, extraValue)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeValue(s string) string { return valueEscaper.Replace(s) }
