package mutualaid

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
)

// TestAskAsksAgainWhenARequestIsLost: a read request swallowed on its way
// (as one sent to a node going down is) is sent again, and the second
// answer is the result.
func TestAskAsksAgainWhenARequestIsLost(t *testing.T) {
	c := testcluster.Start(t)
	nc := testcluster.Connect(t, c.ClientURL())
	var seen atomic.Int32
	sub, err := nc.Subscribe("tocsin.svc.aid.st-mary.list", func(m *nats.Msg) {
		if seen.Add(1) == 1 {
			return // lost
		}
		res, _ := json.Marshal(ListReply{})
		data, _ := json.Marshal(answer{Result: res})
		_ = m.Respond(data)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out ListReply
	if err := Ask(ctx, nc, QuerySubject("st-mary", OpList), ListQuery{}, &out); err != nil {
		t.Fatalf("the second attempt was not made or not read: %v", err)
	}
	if n := seen.Load(); n != 2 {
		t.Fatalf("the service saw %d requests, want 2", n)
	}
}

// TestAServiceStoppingAnswersWhatItTook: read requests sent while a
// node's service stops are each answered, by it or by another node, or
// refused at once with no responders; none is left to time out.
func TestAServiceStoppingAnswersWhatItTook(t *testing.T) {
	h := newHarness(t, Options{})
	h.svc[1].stop()
	h.svc[2].stop()
	nc := h.node[0].Conn()
	var (
		wg             sync.WaitGroup
		answered, lost atomic.Int32
		stopping       = make(chan struct{})
		stopped        = make(chan struct{})
	)
	for range 8 {
		wg.Go(func() {
			<-stopping
			for {
				select {
				case <-stopped:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := nc.RequestWithContext(ctx, QuerySubject("st-mary", OpList), []byte(`{}`))
				cancel()
				switch {
				case err == nil:
					answered.Add(1)
				case errors.Is(err, nats.ErrNoResponders):
				default:
					lost.Add(1)
				}
			}
		})
	}
	close(stopping)
	testwait.For(t, 10*time.Second, "read requests to be answered", testwait.True(func() bool { return answered.Load() > 0 }))
	h.svc[0].stop()
	close(stopped)
	wg.Wait()
	if n := lost.Load(); n != 0 {
		t.Fatalf("%d read requests taken by the stopping service were never answered (%d answered)", n, answered.Load())
	}
}
