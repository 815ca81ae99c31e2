package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Run serves until ctx ends: it loads the AID bucket into the directory
// (matching, listing, expiry), answers read requests, fires expiries and
// consumes the aid ingest subjects.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !s.waitAid(ctx) {
		return nil
	}
	loaded := make(chan struct{})
	wg.Go(func() { s.dir.follow(ctx, s.aid, loaded) })
	select {
	case <-loaded:
	case <-ctx.Done():
		return nil
	}
	if err := s.serveQueries(ctx, &wg); err != nil {
		return err
	}
	wg.Go(func() { s.expireLoop(ctx) })
	return s.consume(ctx)
}

// consume reads the aid ingest subjects through the shared durable
// consumer until ctx ends.
func (s *Service) consume(ctx context.Context) error {
	letters, err := deadletter.Open(ctx, s.d.JS, s.opts.Durable,
		deadletter.Policy{AckWait: s.opts.AckWait, Retry: s.opts.Retry, Every: s.opts.DeadLetterEvery, Bucket: s.bucket(records.BucketDeadLetter)}, s.log)
	if err != nil {
		return fmt.Errorf("mutualaid: consumer: %w", err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       s.opts.Durable,
		Description:   "the mutual-aid service: shared by every node",
		FilterSubject: s.in(subjects.Ingest(subjects.KindAid, "*")),
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	letters.Policy().Apply(&cfg) // AckWait, BackOff, no MaxDeliver
	cons, err := s.d.JS.CreateOrUpdateConsumer(ctx, s.bucket(subjects.StreamIngest), cfg)
	if err != nil {
		return fmt.Errorf("mutualaid: consumer: %w", err)
	}
	queues := make([]chan jetstream.Msg, s.opts.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 256)
		wg.Go(func() {
			for m := range queues[i] {
				s.process(ctx, letters, m)
			}
		})
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_, plain := subjects.OutOfRegion(m.Subject())
		_, sender, _ := subjects.IngestSender(plain)
		h := fnv.New32a()
		h.Write([]byte(sender))
		select {
		case queues[h.Sum32()%uint32(len(queues))] <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(512), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrNoHeartbeat) {
			s.log.Debug("consume", zap.Error(err))
		}
	}))
	if err != nil {
		return fmt.Errorf("mutualaid: consume: %w", err)
	}
	<-ctx.Done()
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(s.opts.AckWait): // the connection is gone: nothing to drain
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return nil
}

// process handles one message and acks it; a transient failure (the
// cluster, not the message) has it delivered again after a delay, and
// dead-lettered past the retries (letters).
func (s *Service) process(ctx context.Context, letters *deadletter.Letters, m jetstream.Msg) {
	// Past AckWait the message goes to another node anyway: stop trying.
	hctx, cancel := context.WithTimeout(ctx, s.opts.AckWait)
	err := s.handle(hctx, m)
	cancel()
	if err == nil {
		if err := m.DoubleAck(ctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && ctx.Err() == nil {
			s.log.Warn("ack", zap.String("subject", m.Subject()), zap.Error(err))
			return
		}
		letters.Decided(ctx, m)
		return
	}
	if ctx.Err() != nil {
		return // shutting down: another node gets it after AckWait
	}
	_ = letters.Failed(ctx, m, err)
}
