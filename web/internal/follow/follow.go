// Package follow reads a JetStream stream in order through an ordered
// consumer, or watches a bucket, the way the web face's index, metrics and
// access tokens follow the cluster.
package follow

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
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

// Retry runs f until ctx ends, again each time it returns, waiting first
// (from 100ms, doubling to 5s) and logging why at debug level: how the
// web face keeps following a stream or bucket across node loss.
func Retry(ctx context.Context, log *zap.Logger, name string, f func(context.Context) error) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Debug("following again", zap.String("source", name), zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Bucket watches kv's keys matching filter until ctx ends or the watch
// stops, calling up once the watch is in place and apply for each update.
func Bucket(ctx context.Context, kv jetstream.KeyValue, filter string, up func(), apply func(jetstream.KeyValueEntry), opts ...jetstream.WatchOpt) error {
	w, err := kv.Watch(ctx, filter, opts...)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	up()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch of " + kv.Bucket() + " stopped")
			}
			if e != nil {
				apply(e)
			}
		}
	}
}
