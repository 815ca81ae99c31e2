package metrics

import (
	"context"
	"runtime"
	"time"
)

// LatencyBounds are the delivery latency buckets, in seconds: from a few
// milliseconds (the cluster at rest) to minutes (a backlog).
var LatencyBounds = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// Web are the web face's own metrics.
type Web struct {
	// Requests counts HTTP requests by area (taxii, console, metrics) and
	// status code.
	Requests *Vec
	// Delivery is the time from a message's signature to its routed copy
	// being stored, by kind, lane and destination (sector, inbox).
	Delivery *Vec
	// Streams is the number of open console event streams.
	Streams *Vec
}

// NewWeb returns the web face's metrics.
func NewWeb() *Web {
	return &Web{
		Requests: NewCounter("tocsin_web_requests_total", "HTTP requests served by the web face, by area and status code.", "area", "code"),
		Delivery: NewHistogram("tocsin_delivery_latency_seconds", "Time from a message's signature to its routed copy being stored, by kind, lane and destination (sector or inbox).",
			LatencyBounds, "kind", "lane", "destination"),
		Streams: NewGauge("tocsin_console_streams", "Open console event streams (server-sent events)."),
	}
}

// Collectors are the metrics, with the Go runtime's.
func (w *Web) Collectors() []Collector {
	return []Collector{w.Requests, w.Delivery, w.Streams, CollectorFunc(runtimeFamilies)}
}

// runtimeFamilies are a few figures of the Go runtime.
func runtimeFamilies(context.Context) []Family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []Family{
		{Name: "go_goroutines", Help: "Number of goroutines that currently exist.", Type: Gauge, Samples: []Sample{{Value: float64(runtime.NumGoroutine())}}},
		{Name: "go_memstats_heap_alloc_bytes", Help: "Bytes of allocated heap objects.", Type: Gauge, Samples: []Sample{{Value: float64(ms.HeapAlloc)}}},
	}
}

// Router are the counters a node's router keeps about its own work, for
// the router to increment (alerts.Options.Metrics, to wire): unlike the
// Follower's, they are per node, so sum them across nodes.
type Router struct {
	// Outcomes counts handled messages by kind and outcome state.
	Outcomes *Vec
	// Rejections counts rejections by reason code.
	Rejections *Vec
	// Handling is the time to handle one message, by kind.
	Handling *Vec
}

// NewRouter returns the router's counters.
func NewRouter() *Router {
	return &Router{
		Outcomes:   NewCounter("tocsin_router_outcomes_total", "Messages this node's router decided, by kind and outcome.", "kind", "state"),
		Rejections: NewCounter("tocsin_router_rejections_total", "Messages this node's router refused, by reason code.", "code"),
		Handling: NewHistogram("tocsin_router_handle_seconds", "Time this node's router took to handle one message, by kind.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}, "kind"),
	}
}

// Outcome counts a decided message ("alert", "routed").
func (r *Router) Outcome(kind, state string) { r.Outcomes.Inc(kind, state) }

// Rejected counts a refusal by its reason code ("invalid-bundle").
func (r *Router) Rejected(code string) { r.Rejections.Inc(code) }

// Handled records how long handling one message of kind took.
func (r *Router) Handled(kind string, d time.Duration) { r.Handling.Observe(d.Seconds(), kind) }

// Collectors are the router's metrics.
func (r *Router) Collectors() []Collector { return []Collector{r.Outcomes, r.Rejections, r.Handling} }
