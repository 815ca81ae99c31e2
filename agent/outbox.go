package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// outbox holds the receipts and sightings the agent sends, sealed once,
// on disk until the cluster has acknowledged them: made while the cluster
// is out of reach, they are sent when it is back, in order, each with the
// id it was sealed with (so a re-send is a duplicate the cluster drops).
type outbox struct {
	q      *queue
	js     jetstream.JetStream
	member string
	log    *zap.Logger
	window int

	sent chan struct{} // signalled after each acknowledged window (tests, status)
}

func openOutbox(dir string, js jetstream.JetStream, member string, log *zap.Logger) (*outbox, error) {
	q, err := openQueue(dir, "outbox", false)
	if err != nil {
		return nil, err
	}
	return &outbox{q: q, js: js, member: member, log: log.Named("outbox"), window: 256, sent: make(chan struct{}, 1)}, nil
}

// outboxToken is the ingest subject token of each kind the outbox sends.
var outboxToken = map[tocsinv1.Kind]string{
	tocsinv1.Kind_KIND_RECEIPT:  subjects.KindReceipt,
	tocsinv1.Kind_KIND_SIGHTING: subjects.KindSighting,
}

// add queues sealed envelopes durably.
func (o *outbox) add(envs ...*tocsinv1.Envelope) error {
	items := make([][]byte, 0, len(envs))
	for _, env := range envs {
		if _, ok := outboxToken[env.GetKind()]; !ok {
			return fmt.Errorf("outbox: a %s message is not sent through the outbox", env.GetKind())
		}
		data, err := envelope.Marshal(env)
		if err != nil {
			return err
		}
		items = append(items, data)
	}
	if err := o.q.append(items...); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// run sends the queue in order until ctx ends, a window of asynchronous
// publishes at a time; after a failure it backs off and sends again from
// the first envelope not acknowledged.
func (o *outbox) run(ctx context.Context) {
	b := backoff{min: 100 * time.Millisecond, max: 10 * time.Second}
	for ctx.Err() == nil {
		items, next, err := o.q.peek(o.window)
		if err == nil && len(items) > 0 {
			err = o.publish(ctx, items)
			if err == nil {
				err = o.q.advance(next)
				b.reset()
				select {
				case o.sent <- struct{}{}:
				default:
				}
				continue
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			o.log.Debug("outbox send failed; will retry", zap.Error(err))
			b.wait(ctx)
			continue
		}
		select {
		case <-o.q.wait():
		case <-ctx.Done():
		}
	}
}

// publish sends items and waits for every acknowledgement.
func (o *outbox) publish(ctx context.Context, items [][]byte) error {
	futures := make([]jetstream.PubAckFuture, 0, len(items))
	for _, data := range items {
		env, err := envelope.Decode(data, 0)
		if err != nil {
			// Written by this agent: only a disk fault gets here. Skipping
			// it is better than blocking every later receipt behind it.
			o.log.Error("an outbox entry does not decode; skipped", zap.Error(err))
			continue
		}
		msg := nats.NewMsg(subjects.Ingest(outboxToken[env.GetKind()], o.member))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, env.GetId())
		f, err := o.js.PublishMsgAsync(msg)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures { // a lost PubAck fails after jsctx.AsyncPubAckTimeout
		if err := jsctx.AwaitPubAck(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// pending returns the bytes still to send.
func (o *outbox) pending() int64 { return o.q.pending() }

func (o *outbox) close() error { return o.q.close() }

// backoff is an exponential wait between retries.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

// next returns the next wait: min, then doubling up to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

// wait sleeps for the next wait or until ctx ends.
func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
