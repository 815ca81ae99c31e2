package cli

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestParallelBoundsAndStopsAtTheFirstError(t *testing.T) {
	var running, peak, done atomic.Int32
	err := parallel(context.Background(), 4, 100, func(i int) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer running.Add(-1)
		done.Add(1)
		return nil
	})
	if err != nil || done.Load() != 100 || peak.Load() > 4 {
		t.Fatalf("err %v, %d done, peak %d (limit 4)", err, done.Load(), peak.Load())
	}
	boom := errors.New("boom")
	done.Store(0)
	err = parallel(context.Background(), 1, 100, func(i int) error {
		done.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || done.Load() > 12 {
		t.Fatalf("err %v after %d calls; want boom, and no more started", err, done.Load())
	}
}
