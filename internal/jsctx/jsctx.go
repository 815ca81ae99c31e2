// Package jsctx is the JetStream context every Tocsin service and client
// uses, and the one wait on an asynchronous publish. It links no server
// code, so a member's client can use it.
package jsctx

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AsyncPubAckTimeout is how long an asynchronous publish of Tocsin's
// services and clients waits for its PubAck before its future fails with
// jetstream.ErrAsyncPublishTimeout. Without it a future waits for good: a
// PubAck lost with a node held a routed alert, and every later message of
// its sender on that node, for 96 s in a chaos run. A publish that timed out
// is sent again under the same message id, so a copy already stored is
// dropped as a duplicate.
const AsyncPubAckTimeout = 5 * time.Second

// JetStream is the JetStream context every Tocsin service and client
// uses: nats.go's, with AsyncPubAckTimeout on asynchronous publishes.
func JetStream(nc *nats.Conn, opts ...jetstream.JetStreamOpt) (jetstream.JetStream, error) {
	return jetstream.New(nc, append([]jetstream.JetStreamOpt{jetstream.WithPublishAsyncTimeout(AsyncPubAckTimeout)}, opts...)...)
}

// AwaitPubAck waits for an asynchronous publish's PubAck: nil when the
// stream stored the message, the publish's error (a timeout after
// AsyncPubAckTimeout, a conflict, ...) when it did not, or ctx's error.
func AwaitPubAck(ctx context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
