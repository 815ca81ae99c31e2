// Package follow reads a JetStream stream in order through an ordered
// consumer, the way the web face's index and metrics follow the cluster.
package follow

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream reads stream with an ordered consumer of cfg until an error or
// ctx's end, calling up once the consumer is in place and handle for each
// message; an error from handle stops the read.
func Stream(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, up func(), handle func(jetstream.Msg) error) error {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	up()
	for {
		m, err := it.Next()
		if err != nil {
			return err
		}
		if err := handle(m); err != nil {
			return err
		}
	}
}
