package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/internal/jsctx"
	"github.com/tocsin-project/tocsin/subjects"
)

// TestAwaitPubAck: a stored message gives nil, a message no stream takes
// gives the publish's error, and a done context gives its error.
func TestAwaitPubAck(t *testing.T) {
	c := startTestCluster(t)
	nc, err := nats.Connect(c.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jsctx.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	f, err := js.PublishAsync(subjects.Prefix+".ops.test", []byte("stored"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jsctx.AwaitPubAck(ctx, f); err != nil {
		t.Errorf("a message the OPS stream stores: %v", err)
	}

	f, err = js.PublishAsync("no.stream.here", []byte("lost"))
	if err != nil {
		t.Fatal(err)
	}
	if err := jsctx.AwaitPubAck(ctx, f); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("a message no stream takes: %v, want %v", err, jetstream.ErrNoStreamResponse)
	}

	done, stop := context.WithCancel(ctx)
	stop()
	if err := jsctx.AwaitPubAck(done, unanswered{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a PubAck that never comes, context done: %v, want %v", err, context.Canceled)
	}
}

// unanswered is a publish whose PubAck never comes.
type unanswered struct{}

func (unanswered) Ok() <-chan *jetstream.PubAck { return nil }
func (unanswered) Err() <-chan error            { return nil }
func (unanswered) Msg() *nats.Msg               { return nil }
