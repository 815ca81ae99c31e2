package testwait

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatal records a Fatalf instead of ending the test.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}

func (f *fatal) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	took := For(t, 5*time.Second, "the third call", func() error {
		if n++; n < 3 {
			return fmt.Errorf("call %d", n)
		}
		return nil
	})
	if n != 3 || took <= 0 || took > time.Second {
		t.Fatalf("%d calls in %v", n, took)
	}
}

func TestForSaysWhatWasAwaitedAndTheLastError(t *testing.T) {
	f := &fatal{TB: t}
	n := 0
	start := time.Now()
	For(f, 100*time.Millisecond, "the answer", func() error { n++; return fmt.Errorf("answer %d", n) })
	if want := fmt.Sprintf("the answer: not within 100ms: answer %d", n); f.msg != want {
		t.Fatalf("failed with %q, want %q", f.msg, want)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second || n < 3 {
		t.Fatalf("%d calls in %v", n, d)
	}
}

func TestTrueNamesOnlyWhatWasAwaited(t *testing.T) {
	f := &fatal{TB: t}
	For(f, 30*time.Millisecond, "the flag", True(func() bool { return false }))
	if f.msg != "the flag: not within 30ms" {
		t.Fatalf("failed with %q", f.msg)
	}
	if f.msg = ""; For(f, time.Second, "the flag", True(func() bool { return true })) > time.Second || f.msg != "" {
		t.Fatalf("failed with %q", f.msg)
	}
}

func TestUntilEndsWithTheContext(t *testing.T) {
	f := &fatal{TB: t}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	Until(ctx, f, "the stream", func() error { return errors.New("no responders") })
	if !strings.HasPrefix(f.msg, "the stream: not within ") || !strings.HasSuffix(f.msg, ": no responders") {
		t.Fatalf("failed with %q", f.msg)
	}
	ok, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if f.msg = ""; Until(ok, f, "nothing", func() error { return nil }) > time.Second || f.msg != "" {
		t.Fatalf("failed with %q", f.msg)
	}
}
