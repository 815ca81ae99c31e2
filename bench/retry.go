package bench

import (
	"context"
	"fmt"
	"time"
)

// apiAttempt bounds one JetStream API call of the benchmark. The reply to
// a request can be lost on a cluster that has just formed (a leader
// moving); without a bound the call would wait for the whole run's
// deadline, which is what `tocsin bench route` once did for minutes.
const apiAttempt = 10 * time.Second

// setupTime is how long a set-up step keeps trying.
const setupTime = time.Minute

// bounded is ctx bounded by apiAttempt, for one call.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, apiAttempt)
}

// retry calls f, each time with a context bounded by apiAttempt, until it
// succeeds, ctx ends or setupTime has passed. f must be safe to call
// again after a failure it cannot see, such as a lost reply: creating a
// stream, bucket or consumer with the same configuration is.
func retry(ctx context.Context, what string, f func(context.Context) error) error {
	deadline := time.Now().Add(setupTime)
	for {
		actx, cancel := bounded(ctx)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
