package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRetryBoundsEachAttempt: every attempt gets its own bounded context,
// failures are tried again, and a cancelled run stops at once, saying what
// failed.
func TestRetryBoundsEachAttempt(t *testing.T) {
	lost := errors.New("no reply")
	calls := 0
	err := retry(context.Background(), "create stream X", func(ctx context.Context) error {
		calls++
		d, ok := ctx.Deadline()
		if !ok || time.Until(d) > apiAttempt {
			t.Errorf("attempt %d: deadline %v (set %v); want at most %s away", calls, d, ok, apiAttempt)
		}
		if calls < 3 {
			return lost
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("retry = %v after %d calls; want success on the third", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	err = retry(ctx, "create stream Y", func(context.Context) error { cancel(); return lost })
	if !errors.Is(err, lost) || !strings.Contains(err.Error(), "create stream Y") {
		t.Errorf("cancelled retry = %v; want the last error, saying what failed", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("a cancelled retry took %s", time.Since(start))
	}
}
