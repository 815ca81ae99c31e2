package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/records"
)

// sinks waits until the agents of members hold message id in their JSONL
// feed and STIX folder (withSTIX: it carries a bundle) and their webhook
// receiver has it, and returns when the last of them had it.
func (w *world) sinks(ctx context.Context, id string, members []string, withSTIX bool) (time.Time, error) {
	var last time.Time
	for name, l := range map[string]*ledger{"agents' sinks": w.fleet.written, "webhook receivers": w.hooks.seen} {
		err := l.wait(ctx, func() bool { _, ok := l.last(id, members); return ok })
		if err != nil {
			return last, fmt.Errorf("%s of %s never got %s: %w", name, list(lacking(l, id, members)), id, err)
		}
		t, _ := l.last(id, members)
		if t.After(last) {
			last = t
		}
	}
	if withSTIX {
		for _, m := range members {
			if _, err := os.Stat(filepath.Join(w.fleet.stixDir(m), id+".json")); err != nil {
				return last, fmt.Errorf("%s's STIX folder lacks %s: %w", m, id, err)
			}
		}
	}
	return last, nil
}

// lacking are those of members whose ledger does not have id.
func lacking(l *ledger, id string, members []string) []string {
	var out []string
	for _, m := range members {
		if _, ok := l.get(m, id); !ok {
			out = append(out, m)
		}
	}
	return out
}

// nobodyElse checks that no agent of members has message id.
func (w *world) nobodyElse(id string, members []string) error {
	var got []string
	for _, m := range members {
		if _, ok := w.fleet.written.get(m, id); ok {
			got = append(got, m)
		}
	}
	if len(got) > 0 {
		return fmt.Errorf("%s got %s, which was not for them", list(got), id)
	}
	return nil
}

// receipts waits until the REACH record of every one of members for
// message id satisfies ok.
func (w *world) receipts(ctx context.Context, id string, members []string, what string, ok func(records.Reach) bool) error {
	var short []string
	err := poll(ctx, func() (bool, error) {
		short = short[:0]
		for _, m := range members {
			r, err := w.c.reach(ctx, id, m)
			if err != nil {
				return false, err
			}
			if !ok(r) {
				short = append(short, m)
			}
		}
		return len(short) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("no %s receipt of %s from %s in the REACH bucket: %w", what, id, list(short), err)
	}
	return nil
}

// poll calls f every 50ms until it reports done, fails for good, or ctx
// ends. A transient error is tried again.
func poll(ctx context.Context, f func() (bool, error)) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		done, err := f()
		switch {
		case err != nil && !transient(err):
			return err
		case err == nil && done:
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// settle returns what read returns once it succeeds, trying a transient
// error again until ctx ends.
func settle[T any](ctx context.Context, read func() (T, error)) (T, error) {
	var v T
	err := poll(ctx, func() (bool, error) {
		var err error
		v, err = read()
		return err == nil, err
	})
	return v, err
}

// transient reports the errors of a cluster busy for a moment (a leader
// moving, a request that found no one to answer yet), which a check
// tries again.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, jetstream.ErrNoHeartbeat) || (errors.As(err, &apiErr) && apiErr.Code == 503)
}
