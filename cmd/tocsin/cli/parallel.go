package cli

import (
	"context"
	"sync"
)

// parallel runs f(0) ... f(n-1) with at most limit at once and returns
// the first error; after an error (or the end of ctx) no further f is
// started, the ones under way finish.
func parallel(ctx context.Context, limit, n int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, max(limit, 1))
	for i := range n {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			if first == nil {
				first = ctx.Err()
			}
			mu.Unlock()
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}
