// Package testwait waits, in tests, for something to become true: it polls a
// condition until it holds or a deadline passes, never sleeps a fixed time
// hoping it did, and on failure says what was awaited, for how long, and the
// condition's last word.
//
//	took := testwait.For(t, 10*time.Second, "st-mary's receipt in REACH", func() error {
//		_, err := kv.Get(ctx, key)
//		return err
//	})
//
// A condition reports "not yet" with an error that says what it saw (it ends
// up in the failure message), or, wrapped in True, as false. It may call
// t.Fatal itself when waiting on cannot help (the process exited, the answer
// is wrong rather than late).
//
// The condition is called at once, then after pauses of 10ms, doubling to at
// most 100ms: a condition that holds soon is seen soon, and a costly one (a
// subprocess, a JetStream API call) is not called more than ten times a
// second. Like t.Fatal, For and Until must be called from the test's
// goroutine.
package testwait

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

const (
	firstPause = 10 * time.Millisecond
	maxPause   = 100 * time.Millisecond
)

// For calls cond until it returns nil and returns how long that took. If
// timeout passes first, it fails the test with
// "<what>: not within <timeout>: <cond's last error>".
func For(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	took, err := poll(ctx, cond)
	if err != nil {
		t.Fatalf("%s: not within %v%s", what, timeout, last(err))
	}
	return took
}

// Until is For with ctx's end as the deadline, for a wait that shares its
// budget with the calls cond makes (which should take ctx too). ctx must end:
// give it a deadline. On failure the message is
// "<what>: not within <time waited>: <cond's last error>".
func Until(ctx context.Context, t testing.TB, what string, cond func() error) time.Duration {
	t.Helper()
	took, err := poll(ctx, cond)
	if err != nil {
		t.Fatalf("%s: not within %v%s", what, took.Round(100*time.Millisecond), last(err))
	}
	return took
}

// True makes a condition of a boolean one, for For and Until: false is "not
// yet", and a failure names only what was awaited.
func True(cond func() bool) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errFalse
	}
}

var errFalse = errors.New("still false")

// poll calls cond until it returns nil or ctx ends, and returns the time
// taken and, if ctx ended, cond's last error.
func poll(ctx context.Context, cond func() error) (time.Duration, error) {
	start := time.Now()
	pause := firstPause
	for {
		err := cond()
		if err == nil {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return time.Since(start), err
		}
		select {
		case <-ctx.Done():
			return time.Since(start), err
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// last is ": err" for the failure message, or nothing for a false True.
func last(err error) string {
	if errors.Is(err, errFalse) {
		return ""
	}
	return fmt.Sprintf(": %v", err)
}
