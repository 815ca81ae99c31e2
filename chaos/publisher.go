package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/site"
	"github.com/tocsin-project/tocsin/subjects"
)

// memberConn connects as a member, reconnecting for ever (the nemesis
// kills the node it is connected to). Asynchronous errors (a refused
// reconnect) are not printed: what a publish or a read returns says what
// matters. ca is the hub's CA; "" for a site's plain local listener.
func memberConn(ctx context.Context, urls, creds, ca string) (*client.Client, error) {
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	if ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	return client.Connect(ctx, client.Options{Servers: urls, CredsFile: creds, Name: "tocsin chaos", NATS: opts})
}

// publishInto publishes data on subject with msgID as Nats-Msg-Id into
// stream (INGEST, the member's home region's INGEST-<region>, or a site's
// OUTBOX), and retries (same id, so JetStream keeps one copy) until a
// PubAck arrives, stop is closed and giveUp has passed, or ctx ends.
func publishInto(ctx context.Context, js jetstream.JetStream, stream, subject string, data []byte, msgID string, giveUp time.Duration) (*jetstream.PubAck, int, error) {
	start := time.Now()
	var last error
	for tries := 1; ; tries++ {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ack, err := js.Publish(pctx, subject, data, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(stream))
		cancel()
		if err == nil {
			return ack, tries, nil
		}
		last = err
		if ctx.Err() != nil || time.Since(start) > giveUp {
			return nil, tries, last
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// publisher is one member publishing alerts at a steady rate, one at a
// time, each waiting for its PubAck.
type publisher struct {
	c   *client.Client
	run string
	// ingest is the stream its PubAcks come from at the hub: INGEST, or
	// its home region's INGEST-<region>.
	ingest string
	agents []AgentSpec
	ledger *ledger
	rng    *rand.Rand
	log    *zap.Logger
	n      int
	// via is viaSite when the publisher is connected to its site (its
	// PubAcks come from the site's outbox), "" at the hub.
	via string
	// rate is the alerts a second it publishes.
	rate float64
	// progress gets a line about a publish slower than slowPublish.
	progress func(format string, v ...any)
}

// slowPublish is how long a publish may take before the run's progress
// says so: it holds its publisher (and, at the end, the run) up.
const slowPublish = 10 * time.Second

// loop publishes p.rate alerts a second until stop is closed; an alert in
// flight is finished (acknowledged or given up after giveUp).
func (p *publisher) loop(ctx context.Context, stop <-chan struct{}, giveUp time.Duration) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / p.rate))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.publishOne(ctx, giveUp); err != nil {
			return err
		}
	}
}

// publishOne publishes the publisher's next alert, addressed at random,
// and logs it.
func (p *publisher) publishOne(ctx context.Context, giveUp time.Duration) error {
	_, err := p.publish(ctx, pickSpec(p.rng, p.agents), giveUp)
	return err
}

// publishSpec publishes one alert of spec and fails unless it is
// acknowledged.
func (p *publisher) publishSpec(ctx context.Context, spec Spec, giveUp time.Duration) error {
	sent, err := p.publish(ctx, spec, giveUp)
	if err == nil && !sent.acked {
		err = fmt.Errorf("%s: no PubAck within %s", p.c.Member(), giveUp)
	}
	return err
}

// sent is an alert a publisher published.
type sent struct {
	id    string
	data  []byte
	acked bool
}

// publish publishes the publisher's next alert, of spec, and logs the
// attempt and its ack (or that it gave up).
func (p *publisher) publish(ctx context.Context, spec Spec, giveUp time.Duration) (sent, error) {
	p.n++
	member := p.c.Member()
	a, err := buildAlert(spec, p.run, member, p.n)
	if err != nil {
		return sent{}, err
	}
	env, err := p.c.Signer().Seal(tocsinv1.Kind_KIND_ALERT, a)
	if err != nil {
		return sent{}, err
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return sent{}, err
	}
	s := sent{id: env.GetId(), data: data}
	if err := p.ledger.record(PubEvent{Event: evAttempt, Publisher: member, N: p.n, ID: s.id, At: time.Now(), Spec: &spec, Via: p.via}); err != nil {
		return s, err
	}
	start := time.Now()
	stream := p.ingest
	if p.via == viaSite {
		stream = site.StreamOutbox
	}
	ack, tries, err := publishInto(ctx, p.c.JetStream(), stream, subjects.Ingest(subjects.KindAlert, member), data, s.id, giveUp)
	if took := time.Since(start); took > slowPublish {
		how := "acknowledged"
		if err != nil {
			how = "given up: " + err.Error()
		}
		p.progress("%s #%d (%s): %s after %d tries in %.1fs", member, p.n, s.id, how, tries, took.Seconds())
	}
	if err != nil {
		p.log.Debug("publish given up", zap.String("id", s.id), zap.Int("tries", tries), zap.Error(err))
		return s, p.ledger.record(PubEvent{Event: evGaveUp, Publisher: member, N: p.n, ID: s.id, At: time.Now(), Tries: tries, Err: err.Error()})
	}
	if ack.Stream != stream {
		return s, fmt.Errorf("PubAck of %s from stream %q, not %s", s.id, ack.Stream, stream)
	}
	s.acked = true
	return s, p.ledger.record(PubEvent{Event: evAck, Publisher: member, N: p.n, ID: s.id, At: time.Now(), Seq: ack.Sequence, Duplicate: ack.Duplicate, Tries: tries})
}
