package alerts

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Observer is told about each ingested message a router finished with:
// its ingest kind ("alert", "receipt", ...), how long handling it took, and
// nil when it is done (routed, recorded or refused) or the transient error
// for which it will be retried. It is called from the router's workers and
// must not block. Node metrics use it (web/metrics.Router).
type Observer func(kind string, took time.Duration, err error)

// observe tells Options.Observe, if set, about m.
func (r *Router) observe(m jetstream.Msg, start time.Time, err error) {
	if r.opts.Observe == nil {
		return
	}
	kind, _, _ := ingestSender(m.Subject())
	r.opts.Observe(kind, time.Since(start), err)
}
