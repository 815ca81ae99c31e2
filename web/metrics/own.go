package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin-project/tocsin/internal/deadletter"
)

// LatencyBounds are the delivery latency buckets, in seconds: from a few
// milliseconds (the cluster at rest) to minutes (a backlog).
var LatencyBounds = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// Web are the web face's own metrics.
type Web struct {
	// Requests counts HTTP requests by area (taxii, console, metrics) and
	// status code.
	Requests *prometheus.CounterVec
	// Delivery is the time from a message's signature to its routed copy
	// being stored, by kind, lane and destination (sector, inbox).
	Delivery *prometheus.HistogramVec
	// Streams is the number of open console event streams.
	Streams prometheus.Gauge
}

// NewWeb returns the web face's metrics.
func NewWeb() *Web {
	return &Web{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tocsin_web_requests_total", Help: "HTTP requests served by the web face, by area and status code."},
			[]string{"area", "code"}),
		Delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tocsin_delivery_latency_seconds",
			Help:    "Time from a message's signature to its routed copy being stored, by kind, lane and destination (sector or inbox).",
			Buckets: LatencyBounds}, []string{"kind", "lane", "destination"}),
		Streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tocsin_console_streams", Help: "Open console event streams (server-sent events)."}),
	}
}

// Collectors are the metrics, to register.
func (w *Web) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.Requests, w.Delivery, w.Streams}
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
	Handled *prometheus.CounterVec
	// Handling is the time to handle one message, by kind.
	Handling *prometheus.HistogramVec
}

// NewRouter returns the router's metrics.
func NewRouter() *Router {
	return &Router{
		Handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tocsin_router_handled_total",
			Help: "Ingested messages this node's router handled, by kind and result (done; retry after a transient failure; dead-letter past the retries)."},
			[]string{"kind", "result"}),
		Handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tocsin_router_handle_seconds", Help: "Time this node's router took to handle one message, by kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}, []string{"kind"}),
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
	r.Handled.WithLabelValues(kind, result).Inc()
	r.Handling.WithLabelValues(kind).Observe(took.Seconds())
}

// Collectors are the router's metrics, to register.
func (r *Router) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.Handled, r.Handling}
}
