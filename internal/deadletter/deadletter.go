// Package deadletter is how the services that consume INGEST (the router's
// two consumers, the mutual-aid service) make sure every message gets a
// decision, whatever it contains, and that none is retried for ever or
// dropped.
//
// A handler's error is permanent or transient by what it is (Permanent): a
// write that cannot fit in the max payload, a value that does not marshal,
// an invalid subject can never succeed, and the service refuses the
// message at once with a capped rejection (codes.NewRejection). Anything
// else is the cluster's (a timeout, a lost leader, a missing stream), and
// the message is nak'ed to come back after Policy.Retry's delays. At
// delivery Policy.Decide a message still failing is dead-lettered: a
// record in the DEADLETTER bucket, an alarm on OPS
// (tocsin.ops.dead-letter.<sender>), an error line in the log, the
// tocsin_router_handled_total{result="dead-letter"} metric and the count
// in `tocsin status`. It is not acknowledged and not dropped: it stays in
// INGEST and in its consumer, tried again every Policy.Every (the last
// step of the consumer's BackOff), and its record is purged once it is
// decided.
//
// There is no MaxDeliver: at MaxDeliver JetStream stops delivering a
// message with only an advisory, so an outage longer than the retries
// would lose acknowledged alerts.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// DefaultRetry are the delays after a transient failure of the first,
// second, ... eleventh delivery: quick at first, so that a message caught
// in a leader election or a node's restart goes on within seconds, then
// longer, so that one failing through an outage costs next to nothing. A
// message still failing after 9 minutes (547 s of delays) is dead-lettered
// at its twelfth delivery.
var DefaultRetry = []time.Duration{
	time.Second, time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
}

// DefaultEvery is how often a dead-lettered message is tried again.
const DefaultEvery = 10 * time.Minute

// Policy is how a consumer of INGEST retries and when it decides.
type Policy struct {
	// AckWait is the consumer's ack wait before the decision: how soon a
	// message held by a service that died is delivered again. It is the
	// first step of the consumer's BackOff. Required.
	AckWait time.Duration
	// Retry are the delays before the next delivery after a transient
	// failure of the first, second, ... delivery; the delivery after the
	// last (len(Retry)+1) decides. Default DefaultRetry.
	Retry []time.Duration
	// Every is how often a dead-lettered message is delivered again (the
	// last step of the consumer's BackOff). Default DefaultEvery.
	Every time.Duration
	// Bucket is the bucket of the dead letters' records: a region's
	// (DEADLETTER-<region>) in a supercluster of stream sets
	// (docs/REGIONS.md). Default records.BucketDeadLetter.
	Bucket string
}

// WithDefaults fills in the zero fields.
func (p Policy) WithDefaults() Policy {
	if len(p.Retry) == 0 {
		p.Retry = DefaultRetry
	}
	if p.Every == 0 {
		p.Every = DefaultEvery
	}
	if p.Bucket == "" {
		p.Bucket = records.BucketDeadLetter
	}
	return p
}

// Decide is the delivery at which a message still failing is dead-lettered.
func (p Policy) Decide() uint64 { return uint64(len(p.Retry)) + 1 }

// BackOff is the consumer's BackOff: AckWait for every delivery before the
// decision and Every from it on. JetStream counts a delivery's ack wait
// from BackOff[deliveries-1] (its last step once past the end), and takes
// AckWait as BackOff[0]; a NakWithDelay(d) brings a message back d after
// the nak only where the step is AckWait, which is why the steps before
// the decision are all AckWait and the retries are the router's naks.
// MaxDeliver stays -1 (nats-server accepts a BackOff with it).
func (p Policy) BackOff() []time.Duration {
	b := make([]time.Duration, p.Decide())
	for i := range b {
		b[i] = p.AckWait
	}
	b[len(b)-1] = p.Every
	return b
}

// Apply sets cfg's AckWait, BackOff and MaxDeliver from the policy.
func (p Policy) Apply(cfg *jetstream.ConsumerConfig) {
	cfg.AckWait = p.AckWait
	cfg.BackOff = p.BackOff()
	cfg.MaxDeliver = -1
}

// Permanent reports whether err can never go away by retrying: what was to
// be written does not fit in the max payload or a stream's max message
// size, does not marshal (a protobuf string that is not UTF-8), or has an
// invalid subject or key. Everything else is taken as the cluster's
// (timeouts, no responders, a lost leader, a missing stream or bucket):
// transient.
func Permanent(err error) bool {
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) ||
		errors.Is(err, proto.Error) || errors.Is(err, nats.ErrBadSubject) || errors.Is(err, jetstream.ErrInvalidKey) ||
		errors.Is(err, jetstream.ErrInvalidSubject)
}

// ErrDeadLettered marks the error of a message that was dead-lettered
// (errors.Is); observers count it apart from retries.
var ErrDeadLettered = errors.New("dead-lettered")

// Record is the DEADLETTER value of a dead-lettered message.
type Record struct {
	// Consumer is the durable consumer of INGEST that holds it.
	Consumer string `json:"consumer"`
	// Seq is its INGEST sequence (`nats stream get INGEST <seq>`).
	Seq uint64 `json:"seq"`
	// Subject is its ingest subject, which names its sender.
	Subject string `json:"subject"`
	// MsgID is its Nats-Msg-Id, the envelope id of a well-formed message.
	MsgID string `json:"msg_id,omitempty"`
	// Published is when INGEST stored it.
	Published time.Time `json:"published"`
	// Deliveries is how many times it was delivered, at the last attempt.
	Deliveries uint64 `json:"deliveries"`
	// Error is the last attempt's error.
	Error string `json:"error"`
	// Since is when it was dead-lettered; Last the last attempt.
	Since time.Time `json:"since"`
	Last  time.Time `json:"last"`
}

// Key is the DEADLETTER key of the message at INGEST sequence seq held by
// consumer.
func Key(consumer string, seq uint64) string { return consumer + "." + strconv.FormatUint(seq, 10) }

// OpsSubject is the OPS subject of the dead-letter alarms of sender.
func OpsSubject(sender string) string { return subjects.Prefix + ".ops.dead-letter." + sender }

// Letters applies a Policy to one durable consumer of INGEST.
type Letters struct {
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	consumer string
	policy   Policy
	log      *zap.Logger
}

// Open opens the DEADLETTER bucket for the consumer's messages.
func Open(ctx context.Context, js jetstream.JetStream, consumer string, p Policy, log *zap.Logger) (*Letters, error) {
	p = p.WithDefaults()
	kv, err := js.KeyValue(ctx, p.Bucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w (provision the cluster again: 'tocsin node' does it at start)", p.Bucket, err)
	}
	return &Letters{js: js, kv: kv, consumer: consumer, policy: p, log: log}, nil
}

// Policy is the policy applied.
func (l *Letters) Policy() Policy { return l.policy }

// Failed settles a message whose handling failed with cause (not a
// refusal: those are decided). Before the deciding delivery the message is
// nak'ed to come back after its retry delay, and Failed returns cause. From
// it on, and at once for a permanent cause (one that could not even be
// refused), it is dead-lettered and delivered again every Every (the
// consumer's BackOff), and Failed returns cause marked with
// ErrDeadLettered.
func (l *Letters) Failed(ctx context.Context, m jetstream.Msg, cause error) error {
	meta, err := m.Metadata()
	if err != nil {
		_ = m.NakWithDelay(l.policy.Retry[0])
		return cause
	}
	if n := meta.NumDelivered; n < l.policy.Decide() && !Permanent(cause) {
		l.log.Warn("transient failure, will retry", zap.String("subject", m.Subject()), zap.Uint64("delivery", n), zap.Error(cause))
		_ = m.NakWithDelay(l.policy.Retry[n-1])
		return cause
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := l.put(wctx, m, meta, cause); err != nil {
		l.log.Error("could not record a dead letter; the message is kept and tried again", zap.String("subject", m.Subject()),
			zap.Uint64("seq", meta.Sequence.Stream), zap.Error(err))
	}
	if meta.NumDelivered < l.policy.Decide() {
		_ = m.NakWithDelay(l.policy.Every) // permanent: no point in the retries
	}
	return fmt.Errorf("%w after %d deliveries: %w", ErrDeadLettered, meta.NumDelivered, cause)
}

// Decided is told that m was decided (acked): a dead letter's record is
// purged.
func (l *Letters) Decided(ctx context.Context, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil || meta.NumDelivered < l.policy.Decide() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	key := Key(l.consumer, meta.Sequence.Stream)
	if _, err := l.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	l.log.Info("dead letter decided", zap.String("subject", m.Subject()), zap.Uint64("seq", meta.Sequence.Stream), zap.Uint64("deliveries", meta.NumDelivered))
	if err := purge(ctx, l.js, l.policy.Bucket, key); err != nil {
		l.log.Warn("could not purge a decided dead letter's record; delete it with 'nats kv del "+l.policy.Bucket+" "+key+"'", zap.Error(err))
	}
}

// purge removes key's record from the bucket's stream without leaving a
// delete marker, so that the stream's message count is the number of dead
// letters.
func purge(ctx context.Context, js jetstream.JetStream, bucket, key string) error {
	s, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+bucket+"."+key))
}

// writeTimeout bounds the writes of one dead letter: they are made while
// the cluster fails, and must not hold a worker longer than that.
const writeTimeout = 10 * time.Second

// maxErrorBytes bounds a record's error text.
const maxErrorBytes = 1024

// put writes m's record; the first time, it raises the OPS alarm.
func (l *Letters) put(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, cause error) error {
	key := Key(l.consumer, meta.Sequence.Stream)
	now := time.Now().UTC()
	rec := Record{Consumer: l.consumer, Seq: meta.Sequence.Stream, Subject: m.Subject(), MsgID: m.Headers().Get(jetstream.MsgIDHeader),
		Published: meta.Timestamp.UTC(), Deliveries: meta.NumDelivered, Error: cause.Error(), Since: now, Last: now}
	if len(rec.Error) > maxErrorBytes {
		rec.Error = rec.Error[:maxErrorBytes]
	}
	e, err := l.kv.Get(ctx, key)
	switch {
	case err == nil:
		var old Record
		if json.Unmarshal(e.Value(), &old) == nil {
			rec.Since = old.Since
		}
		data, _ := json.Marshal(rec)
		_, err = l.kv.Update(ctx, key, data, e.Revision())
		return err
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return err
	}
	_, sender, _ := subjects.IngestSender(m.Subject())
	if sender == "" {
		sender = "unknown"
	}
	l.log.Error("dead letter: a message could not be decided after its retries; it is kept in INGEST and tried again every "+l.policy.Every.String()+"; see 'tocsin status' and docs/RELIABILITY.md",
		zap.String("consumer", l.consumer), zap.String("subject", m.Subject()), zap.Uint64("seq", rec.Seq), zap.Uint64("deliveries", rec.Deliveries), zap.Error(cause))
	data, _ := json.Marshal(rec)
	alarm, _ := json.Marshal(struct {
		Alarm string `json:"alarm"`
		Record
	}{"dead-letter", rec})
	if _, err := l.js.Publish(ctx, OpsSubject(sender), alarm, jetstream.WithMsgID("dead-letter:"+key)); err != nil {
		return err
	}
	_, err = l.kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	return err
}

// Count is the number of dead letters in the cluster: the messages of the
// DEADLETTER bucket's stream (a decided one's record is purged, not
// deleted, so no marker counts).
func Count(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	return CountIn(ctx, js, records.BucketDeadLetter)
}

// CountIn is Count of the dead letters in bucket: a region's
// (DEADLETTER-<region>, Policy.Bucket) in a supercluster of stream sets.
func CountIn(ctx context.Context, js jetstream.JetStream, bucket string) (uint64, error) {
	s, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
}

// List returns every dead letter's record.
func List(ctx context.Context, js jetstream.JetStream) ([]Record, error) {
	kv, err := js.KeyValue(ctx, records.BucketDeadLetter)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Record
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // decided meanwhile
		}
		if err != nil {
			_ = keys.Stop()
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			_ = keys.Stop()
			return nil, fmt.Errorf("dead letter %s is corrupt: %w", k, err)
		}
		out = append(out, r)
	}
	return out, nil
}
