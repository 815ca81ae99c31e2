package mutualaid

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/jsctx"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// Headers on the copies the service puts in members' inboxes, besides
// records.HeaderKind and records.HeaderTLP. They are hints for filtering:
// receivers verify the envelope itself, which is the member's own.
const (
	// HeaderRequest carries the request id.
	HeaderRequest = "Tocsin-Aid-Request"
	// HeaderEvent carries the action ("offer", "accept").
	HeaderEvent = "Tocsin-Aid-Event"
)

// RequestAudit is the AID_AUDIT subject of one signed step of a request:
// tocsin.aid.req.<request>.<action>.<envelope id>.
func RequestAudit(request string, a Action, id string) string {
	return subjects.Prefix + ".aid.req." + request + "." + string(a) + "." + id
}

// RequestAuditAll matches every audited step of a request.
func RequestAuditAll(request string) string { return subjects.Prefix + ".aid.req." + request + ".>" }

// CapabilityAudit is the AID_AUDIT subject of a capability registration:
// tocsin.aid.cap.<responder>.<envelope id>.
func CapabilityAudit(responder, id string) string {
	return subjects.Prefix + ".aid.cap." + responder + "." + id
}

// effect is what a handled message leads to once its state is written.
type effect struct {
	// request is the request concerned, "" for a capability.
	request string
	// action is the step.
	action Action
	// audit is the AID_AUDIT subject of the signed envelope.
	audit string
	// notify are the members whose inbox gets a copy of the envelope.
	notify []string
	// tlp, lane and exercise are the request's TLP, urgency and exercise
	// mark, for the copies' headers: an offer or a decision carries none of
	// its own, and the member's agent records them (records.HeaderTLP,
	// HeaderLane, HeaderExercise).
	tlp, lane string
	exercise  bool
}

// finish makes a handled message's effect durable: the signed envelope in
// AID_AUDIT (once: its subject is unique and must be empty), copies in the
// notified inboxes (deduplicated by "<id>:inbox.<member>"), then the
// ROUTED outcome the sender waits for. Each step is idempotent, so a
// redelivery after a crash anywhere in between completes the rest.
func (s *Service) finish(ctx context.Context, data []byte, env *tocsinv1.Envelope, eff *effect) error {
	notify := slices.DeleteFunc(slices.Clone(eff.notify), func(id string) bool { return id == env.GetSender() })
	slices.Sort(notify)
	notify = slices.Compact(notify)
	// The audit copy and the notices go out together; the outcome waits
	// for all of them.
	var msgs []*nats.Msg
	if eff.audit != "" {
		m := &nats.Msg{Subject: s.inAid(eff.audit), Data: data, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, env.GetId())
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		msgs = append(msgs, m)
	}
	for _, to := range notify {
		m := &nats.Msg{Subject: s.in(subjects.Inbox(to)), Data: data, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(env.GetId(), "inbox."+to))
		m.Header.Set(records.HeaderKind, strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env.GetKind().String(), "KIND_")), "_", "-"))
		m.Header.Set(HeaderRequest, eff.request)
		m.Header.Set(HeaderEvent, string(eff.action))
		if eff.tlp != "" {
			m.Header.Set(records.HeaderTLP, eff.tlp)
		}
		if eff.lane != "" {
			m.Header.Set(records.HeaderLane, eff.lane)
		}
		if eff.exercise {
			m.Header.Set(records.HeaderExercise, "true")
		}
		msgs = append(msgs, m)
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := s.d.JS.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", m.Subject, err)
		}
		futures[i] = f
	}
	for i, f := range futures {
		err := jsctx.AwaitPubAck(ctx, f)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The audit subject already holding the step is a redelivery.
		if err := casError(err); err != nil && !(i == 0 && eff.audit != "" && errors.Is(err, errConflict)) {
			return fmt.Errorf("publish to %s: %w", msgs[i].Subject, err)
		}
	}
	o := &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, Recipients: notify, Organisations: uint32(len(notify))}
	if err := s.putOutcome(ctx, env.GetSender(), o); err != nil {
		return err
	}
	s.log.Info(string(eff.action), zap.String("id", env.GetId()), zap.String("by", env.GetSender()),
		zap.String("request", eff.request), zap.Strings("notified", notify))
	return nil
}

// outcome reads a message's recorded outcome; nil when there is none.
func (s *Service) outcome(ctx context.Context, sender, id string) (*tocsinv1.Outcome, error) {
	return records.GetOutcome(ctx, s.routed, sender, id)
}

// putOutcome records o under its sender and id; the first outcome of an
// id stands.
func (s *Service) putOutcome(ctx context.Context, sender string, o *tocsinv1.Outcome) error {
	o.At = timestamppb.New(time.Now())
	data, err := proto.Marshal(o)
	if err != nil {
		return err
	}
	_, err = s.routed.Create(ctx, records.OutcomeKey(sender, o.GetRefId()), data)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("record outcome of %s: %w", o.GetRefId(), err)
	}
	return nil
}

// rejectMsg sends the sender a signed Rejection on its rejection subject
// and then records the REJECTED outcome its --wait reads. In that order, as
// the router does: a redelivery of a message that has an outcome is
// dropped quietly, so a service that died between the two must have sent
// the rejection already (its redelivery sends it again, deduplicated by
// message id, and records the outcome).
func (s *Service) rejectMsg(ctx context.Context, sender, subject string, env *tocsinv1.Envelope, cause error) error {
	rej := codes.NewRejection(env, subject, cause)
	s.log.Info("rejected", zap.String("sender", sender), zap.String("id", env.GetId()),
		zap.String("code", codes.Name(rej.Problems[0].GetCode())), zap.String("reason", rej.Problems[0].GetMessage()),
		zap.Uint32("problems", rej.GetProblemCount()))
	sealed, err := s.d.Signer.Seal(tocsinv1.Kind_KIND_REJECTION, rej)
	if err != nil {
		return fmt.Errorf("seal rejection: %w", err)
	}
	data, err := envelope.Marshal(sealed)
	if err != nil {
		return err
	}
	var opts []jetstream.PublishOpt
	if env.GetId() != "" {
		opts = append(opts, jetstream.WithMsgID(subjects.RoutedMsgID(env.GetId(), "rejection")))
	}
	if _, err := s.d.JS.Publish(ctx, s.in(subjects.Rejection(sender)), data, opts...); err != nil {
		return err
	}
	if env.GetId() == "" {
		return nil
	}
	return s.putOutcome(ctx, sender, &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED, Rejection: rej})
}
