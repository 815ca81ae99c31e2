package metrics

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/tocsin-project/tocsin/internal/deadletter"
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

// Router are the figures of a node's router about its own work, fed by
// alerts.Options.Observe (Observe): unlike the Follower's, they are per
// node, so sum them across nodes. Outcomes and rejections by reason are
// the Follower's, cluster-wide.
type Router struct {
	// Handled counts the messages handled, by ingest kind and result:
	// "done" (routed, recorded or refused), "retry" (a transient failure
	// of the cluster; the message is delivered again) or "dead-letter" (a
	// failure past the retries: the message is dead-lettered, kept and
	// tried again, internal/deadletter).
	Handled *Vec
	// Handling is the time to handle one message, by kind.
	Handling *Vec
}

// NewRouter returns the router's metrics.
func NewRouter() *Router {
	return &Router{
		Handled: NewCounter("tocsin_router_handled_total", "Ingested messages this node's router handled, by kind and result (done; retry after a transient failure; dead-letter past the retries).", "kind", "result"),
		Handling: NewHistogram("tocsin_router_handle_seconds", "Time this node's router took to handle one message, by kind.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}, "kind"),
	}
}

// Observe records one handled message; it is an alerts.Observer.
func (r *Router) Observe(kind string, took time.Duration, err error) {
	result := "done"
	switch {
	case errors.Is(err, deadletter.ErrDeadLettered):
		result = "dead-letter"
	case err != nil:
		result = "retry"
	}
	r.Handled.Inc(kind, result)
	r.Handling.Observe(took.Seconds(), kind)
}

// Collectors are the router's metrics.
func (r *Router) Collectors() []Collector { return []Collector{r.Handled, r.Handling} }
