// Package metrics exposes Tocsin to Prometheus at /metrics, with
// client_golang: stream and consumer state read from JetStream at each
// scrape (Streams), cluster-wide counts followed from the streams and
// buckets (outcomes, rejections by reason, receipts, aid requests by
// state: Follower), the web face's own metrics (Web), the counters a
// router adds (Router), and the Go runtime's and the process's (go_*,
// process_*). No metric is registered globally: the owner of a registry
// (NewRegistry) registers each set's Collectors in it.
package metrics

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// NewRegistry returns a registry with the Go runtime's and the process's
// collectors and cs.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	var errs []error
	for _, c := range append([]prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}, cs...) {
		errs = append(errs, reg.Register(c))
	}
	return reg, errors.Join(errs...)
}

// Handler serves what g gathers: the Prometheus text format, or
// OpenMetrics to a scraper that asks for it. A collector's error is
// logged and the rest served.
func Handler(g prometheus.Gatherer, log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          zap.NewStdLog(log.Named("metrics")),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}
