package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/deadletter"
)

// A dead-lettered message is counted apart from a retry.
func TestRouterCountsDeadLetters(t *testing.T) {
	r := NewRouter()
	r.Observe("alert", time.Millisecond, nil)
	r.Observe("alert", time.Millisecond, errors.New("no responders"))
	r.Observe("alert", time.Millisecond, fmt.Errorf("%w after 10 deliveries: %w", deadletter.ErrDeadLettered, errors.New("no responders")))
	got := map[string]float64{}
	for _, f := range r.Handled.Collect(context.Background()) {
		for _, s := range f.Samples {
			got[strings.Join(s.Labels, "=")] = s.Value
		}
	}
	for _, result := range []string{"done", "retry", "dead-letter"} {
		if got["kind=alert=result="+result] != 1 {
			t.Errorf("result %s: %v", result, got)
		}
	}
}
