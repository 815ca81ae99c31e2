package metrics_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/web/metrics"
)

// A dead-lettered message is counted apart from a retry.
func TestRouterCountsDeadLetters(t *testing.T) {
	r := metrics.NewRouter()
	r.Observe("alert", time.Millisecond, nil)
	r.Observe("alert", time.Millisecond, errors.New("no responders"))
	r.Observe("alert", time.Millisecond, fmt.Errorf("%w after 10 deliveries: %w", deadletter.ErrDeadLettered, errors.New("no responders")))
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := samples(slices.Values(fams))
	for _, result := range []string{"done", "retry", "dead-letter"} {
		if got["tocsin_router_handled_total{kind=alert,result="+result+"}"] != 1 {
			t.Errorf("result %s: %v", result, got)
		}
	}
	if got["tocsin_router_handle_seconds_count{kind=alert}"] != 3 {
		t.Errorf("handle seconds: %v", got)
	}
}
