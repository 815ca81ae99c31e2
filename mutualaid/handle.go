package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/ingest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// reject is a refusal found while handling a message: it goes back to the
// sender and is recorded as its outcome; the message is then acked.
type reject struct{ err error }

func (r reject) Error() string { return r.err.Error() }

func refuse(c tocsinv1.RejectionCode, format string, v ...any) error {
	return reject{codes.Errorf(c, format, v...)}
}

// aidKinds are the envelope kinds the aid ingest subject carries.
var aidKinds = map[tocsinv1.Kind]bool{
	tocsinv1.Kind_KIND_AID_REQUEST: true, tocsinv1.Kind_KIND_AID_OFFER: true,
	tocsinv1.Kind_KIND_AID_DECISION: true, tocsinv1.Kind_KIND_CAPABILITY: true,
}

// handle processes one ingested message. A nil error means "ack it";
// rejections are sent and recorded here and also return nil. Any other
// error is transient (the cluster, not the message) and the message is
// retried, on this node or another: every step below is idempotent.
func (s *Service) handle(ctx context.Context, m jetstream.Msg) error {
	subject := m.Subject()
	_, plain := subjects.OutOfRegion(subject)
	_, sender, ok := subjects.IngestSender(plain)
	if !ok {
		s.log.Warn("message on an unexpected subject", zap.String("subject", subject))
		return nil
	}
	env, err := envelope.Decode(m.Data(), s.opts.MaxMessageBytes)
	if err != nil {
		return s.rejectMsg(ctx, sender, subject, nil, err)
	}
	err = s.dispatch(ctx, m, env)
	if deadletter.Permanent(err) {
		err = reject{codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED,
			"the mutual-aid service cannot write what this message needs (%v), and never will: send it smaller or fix what is not valid", err)}
	}
	var rj reject
	if errors.As(err, &rj) {
		return s.rejectMsg(ctx, sender, subject, env, rj.err)
	}
	return err
}

// dispatch checks the envelope as the router does (subject, kind, id,
// skew, signature) and hands the payload to its handler.
func (s *Service) dispatch(ctx context.Context, m jetstream.Msg, env *tocsinv1.Envelope) error {
	checker := ingest.Checker{Verifier: s.d.Verifier, MaxSkew: s.opts.MaxSkew,
		Handled: func(ctx context.Context, sender, id string) (bool, error) {
			o, err := s.outcome(ctx, sender, id)
			return o != nil, err
		}}
	v, err := checker.Check(ctx, m, env, func(k tocsinv1.Kind) error {
		if aidKinds[k] {
			return nil
		}
		return codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED,
			"a %s envelope on the aid ingest subject, which takes aid requests, offers, decisions and capabilities only",
			strings.ToLower(strings.TrimPrefix(k.String(), "KIND_")))
	})
	switch {
	case errors.Is(err, ingest.ErrHandled):
		s.log.Debug("already handled", zap.String("id", env.GetId()))
		return nil
	case err != nil && ingest.Refusal(err):
		return reject{err}
	case err != nil:
		return err
	}
	member, payload := v.Member, v.Payload
	in := &incoming{env: env, member: member}
	var eff *effect
	switch p := payload.(type) {
	case *tocsinv1.AidRequest:
		eff, err = s.onRequest(ctx, in, p)
	case *tocsinv1.AidOffer:
		eff, err = s.onOffer(ctx, in, p)
	case *tocsinv1.AidDecision:
		eff, err = s.onDecision(ctx, in, p)
	case *tocsinv1.AidCapability:
		eff, err = s.onCapability(ctx, in, p)
	}
	if err != nil {
		return err
	}
	return s.finish(ctx, m.Data(), env, eff)
}

// incoming is a verified message and its sender's record.
type incoming struct {
	env    *tocsinv1.Envelope
	member *tocsinv1.Member
}

// event starts the timeline entry of the message.
func (in *incoming) event(a Action) Event {
	return Event{ID: in.env.GetId(), Action: a, By: in.env.GetSender(), KeyID: in.env.GetKeyId(), At: in.env.GetTime().AsTime().UTC()}
}

// retryConflicts runs attempt until it does not lose a compare-and-set.
func retryConflicts(ctx context.Context, what string, attempt func() (*effect, error)) (*effect, error) {
	for range maxAttempts {
		eff, err := attempt()
		if !errors.Is(err, errConflict) {
			return eff, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("%s: too much contention, will retry", what)
}
