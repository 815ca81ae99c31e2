package reachbench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// sampler asks, about every half second, the liaison's reach (the
// router's reach service, what tocsin reach reads) how many of who are
// delivered, and the routers' receipt consumer how far it is.
type sampler struct {
	js     jetstream.JetStream
	cl     *client.Client
	id     string
	who    []string
	start  time.Time
	before uint64

	mu    sync.Mutex
	curve []Sample
	all   chan struct{}
	once  sync.Once
}

// run samples until the returned stop is called.
func (s *sampler) run(ctx context.Context) (stop func()) {
	s.all = make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			began := time.Now()
			s.sample(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(500*time.Millisecond - time.Since(began)):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// sample takes one point of the curve.
func (s *sampler) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := Sample{Delivered: -1}
	if got, _, err := records.FetchReachAffected(ctx, s.cl.Conn(), s.cl.Member(), s.id, s.who); err == nil {
		n := 0
		for _, r := range got {
			if !r.Delivered.IsZero() {
				n++
			}
		}
		p.Delivered = n
	}
	p.At = time.Since(s.start)
	if c, err := s.js.Consumer(ctx, subjects.StreamIngest, recordsConsumer); err == nil {
		info := c.CachedInfo()
		p.Pending, p.AckPending = info.NumPending, info.NumAckPending
	}
	if w, err := reachWrites(ctx, s.js); err == nil {
		p.ReachWrites = w - s.before
	}
	if p.Delivered < 0 {
		return // the reach service did not answer: no point
	}
	s.mu.Lock()
	s.curve = append(s.curve, p)
	s.mu.Unlock()
	if p.Delivered == len(s.who) {
		s.once.Do(func() { close(s.all) })
	}
}

// waitAll waits until a sample shows every one of n delivered, or wait
// after the start has passed, telling progress every 10 seconds.
func (s *sampler) waitAll(ctx context.Context, n int, wait time.Duration, progress func(string)) {
	end := time.NewTimer(time.Until(s.start.Add(wait)))
	defer end.Stop()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.all:
			return
		case <-end.C:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			s.mu.Lock()
			if len(s.curve) > 0 {
				p := s.curve[len(s.curve)-1]
				progress(fmt.Sprintf("after %s: %d of %d delivered, receipts waiting %d, with a router %d, REACH writes %d",
					p.At.Round(time.Second), p.Delivered, n, p.Pending, p.AckPending, p.ReachWrites))
			}
			s.mu.Unlock()
		}
	}
}

// result is the curve, the most delivered, and when 99% and all of n
// were first seen delivered (0: never).
func (s *sampler) result(n int) (curve []Sample, delivered int, to99, toAll time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.curve {
		delivered = max(delivered, p.Delivered)
		if to99 == 0 && p.Delivered*100 >= n*99 {
			to99 = p.At
		}
		if toAll == 0 && p.Delivered == n {
			toAll = p.At
		}
	}
	return s.curve, delivered, to99, toAll
}
