package site

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/ingest"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// forwarderName is the site's durable consumer of its outbox.
const forwarderName = "forwarder"

// forwardBatch is how many outbox messages the forwarder has in flight.
const forwardBatch = 256

// forwardTimeout bounds the wait for the hub's PubAck of one message.
const forwardTimeout = 5 * time.Second

// forwarder is the outbox's consumer: explicit acks, every message
// redelivered until the hub has stored it.
func (s *Site) forwarder(ctx context.Context) (jetstream.Consumer, error) {
	return s.js.CreateOrUpdateConsumer(ctx, StreamOutbox, jetstream.ConsumerConfig{
		Durable:       forwarderName,
		Description:   "forwards the outbox to the hub",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: forwardBatch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
}

// forward sends the outbox to the hub while the link is up, in order,
// each message acknowledged in the outbox only once the hub's INGEST
// stored it (a duplicate the hub already has counts as stored). It warns
// when the outbox passes OutboxAlarm of its cap.
func (s *Site) forward() {
	defer s.wg.Done()
	c, err := s.forwarder(s.ctx)
	var st jetstream.Stream
	if err == nil {
		st, err = s.js.Stream(s.ctx, StreamOutbox)
	}
	if err != nil {
		s.log.Error("site forwarder: no consumer on the outbox; nothing is forwarded until the site restarts", zap.Error(err))
		return
	}
	var lastAlarm time.Time
	for s.ctx.Err() == nil {
		if time.Since(lastAlarm) > time.Second {
			lastAlarm = time.Now()
			s.checkOutbox()
		}
		if up, _ := s.Link(); !up {
			s.pause(100 * time.Millisecond)
			continue
		}
		batch, err := c.Fetch(forwardBatch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			s.pause(100 * time.Millisecond)
			continue
		}
		failed := false
		for m := range batch.Messages() {
			if failed {
				_ = m.NakWithDelay(time.Second)
				continue
			}
			if err := s.forwardOne(m); err != nil {
				failed = true
				s.log.Debug("forward: the hub did not store a message; retrying", zap.String("subject", m.Subject()), zap.Error(err))
				_ = m.NakWithDelay(time.Second)
				continue
			}
			s.keepForwardedStatus(m)
			s.forwarded(st, m)
		}
	}
}

// forwarded acknowledges m in the outbox and removes it: the outbox
// holds only what the hub has not stored yet, so its size is the
// backlog and its cap (discard new) is never reached by history.
func (s *Site) forwarded(st jetstream.Stream, m jetstream.Msg) {
	if err := m.DoubleAck(s.ctx); err != nil {
		s.log.Warn("forward: ack in the outbox; the message will be forwarded again (the hub drops the duplicate)", zap.Error(err))
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	if err := st.DeleteMsg(s.ctx, meta.Sequence.Stream); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		s.log.Warn("forward: remove a forwarded message from the outbox", zap.Error(err))
	}
}

// keepForwardedStatus keeps the last status report forwarded in the
// cache: the site's board shows it until the hub's board has it (the
// router records it a moment after the hub stored it), so the board does
// not go back to the report before it in between.
func (s *Site) keepForwardedStatus(m jetstream.Msg) {
	if m.Subject() != subjects.Ingest(subjects.KindStatus, s.id.member) {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, forwardTimeout)
	defer cancel()
	if err := s.keep(ctx, cacheForwardedStatus, m.Data(), nil); err != nil {
		s.log.Debug("forward: keeping the status report forwarded", zap.Error(err))
	}
}

// pause waits d or until the site stops.
func (s *Site) pause(d time.Duration) {
	select {
	case <-s.ctx.Done():
	case <-time.After(d):
	}
}

// forwardOne publishes one outbox message to the hub on its member's
// forwarding subject, with its headers (its Nats-Msg-Id is its envelope
// id) and the time the site stored it, and waits for the hub's PubAck.
func (s *Site) forwardOne(m jetstream.Msg) error {
	tokens := strings.Split(m.Subject(), ".")
	if len(tokens) != 4 || tokens[3] != s.id.member {
		return fmt.Errorf("outbox subject %q is not tocsin.ingest.<kind>.%s", m.Subject(), s.id.member)
	}
	meta, err := m.Metadata()
	if err != nil {
		return err
	}
	out := nats.NewMsg(auth.SiteForward(s.id.member, tokens[2]))
	out.Data = m.Data()
	for k, v := range m.Headers() {
		if !strings.HasPrefix(k, "Nats-Expected") {
			out.Header[k] = v
		}
	}
	out.Header.Set(ingest.SiteStoredHeader, meta.Timestamp.UTC().Format(time.RFC3339Nano))
	// What the outbox holds behind this message: the hub's record of the
	// site reads it (sitewatch).
	out.Header.Set(records.SiteBacklogHeader, strconv.FormatUint(meta.NumPending, 10))
	out.Header.Set(records.SiteOutboxFillHeader, strconv.FormatFloat(math.Float64frombits(s.outboxFill.Load()), 'g', 4, 64))
	out.Header.Set(records.SiteOutboxAlarmHeader, strconv.FormatFloat(s.opts.OutboxAlarm, 'f', -1, 64))
	ctx, cancel := context.WithTimeout(s.ctx, forwardTimeout)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, out)
	if err != nil {
		return err
	}
	if want := subjects.RegionStream(subjects.StreamIngest, s.id.home); ack.Stream != want {
		return fmt.Errorf("stored in %s at %s, not the hub's %s", ack.Stream, ack.Domain, want)
	}
	return nil
}

// checkOutbox keeps the share of its cap the outbox uses (forwarded
// messages carry it to the hub) and warns when it passes OutboxAlarm:
// past the cap, what the member sends is refused (discard new), never
// dropped.
func (s *Site) checkOutbox() {
	st, err := s.js.Stream(s.ctx, StreamOutbox)
	if err != nil {
		return
	}
	info := st.CachedInfo()
	fill := float64(info.State.Bytes) / float64(s.opts.OutboxBytes)
	s.outboxFill.Store(math.Float64bits(fill))
	if fill >= s.opts.OutboxAlarm {
		s.log.Warn("the site's outbox is nearly full: the hub has been unreachable; past its cap the site refuses new messages",
			zap.Uint64("bytes", info.State.Bytes), zap.Int64("cap", s.opts.OutboxBytes), zap.Uint64("messages", info.State.Msgs))
	}
}
