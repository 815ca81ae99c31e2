// Package inprogress keeps JetStream messages from being redelivered while
// their handling runs longer than usual: consumers can then use a short
// AckWait, so that a message whose handler died (a killed node, a crashed
// agent, an acknowledgement lost on the way) comes back within seconds,
// while a handler that is merely slow (an election, a webhook being
// retried) keeps its messages.
package inprogress

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Keep tells JetStream every `every` that msgs are still being worked on
// (an InProgress acknowledgement, which restarts their AckWait), until the
// returned release is called. Nothing is sent when release comes first, so
// a handler that finishes within `every` costs one timer. every is
// typically a third of the consumer's AckWait; release may be called more
// than once.
func Keep(every time.Duration, msgs ...jetstream.Msg) (release func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock() // the callback waits until t is set
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		for _, m := range msgs {
			_ = m.InProgress()
		}
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
