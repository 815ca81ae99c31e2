package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/deadletter"
	"github.com/tocsin-project/tocsin/internal/ingest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// reject is a refusal found while handling a message: it goes back to the
// sender and is recorded; the message is then acked.
type reject struct{ err error }

func (r reject) Error() string { return r.err.Error() }

// rejectCopy is the refusal of a copy (see copyOf), the message at INGEST
// sequence seq: it goes back to the sender and is not recorded.
type rejectCopy struct {
	err error
	seq uint64
}

func (r rejectCopy) Error() string { return r.err.Error() }

// later asks for a message again after a delay: it is judged then.
type later struct{ after time.Duration }

func (l later) Error() string { return fmt.Sprintf("judged again in %s", l.after) }

func refuse(c tocsinv1.RejectionCode, format string, v ...any) error {
	return reject{codes.Errorf(c, format, v...)}
}

// handle processes one ingested message. A nil error means "ack it";
// rejections are sent and recorded here and also return nil. Any other
// error is transient (the cluster, not the message) and the message is
// retried.
func (r *Router) handle(ctx context.Context, m jetstream.Msg) error {
	subject := m.Subject()
	token, sender, ok := ingestSender(subject)
	if !ok {
		r.log.Warn("message on an unexpected subject", zap.String("subject", subject))
		return nil
	}
	env, err := envelope.Decode(m.Data(), r.opts.MaxMessageBytes)
	if err != nil {
		return r.rejectMsg(ctx, sender, subject, nil, err, 0)
	}
	err = r.dispatch(ctx, m, token, env)
	if deadletter.Permanent(err) {
		err = reject{unroutable(err)}
	}
	var rj reject
	if errors.As(err, &rj) {
		return r.rejectMsg(ctx, sender, subject, env, rj.err, 0)
	}
	var rc rejectCopy
	if errors.As(err, &rc) {
		return r.rejectMsg(ctx, sender, subject, env, rc.err, rc.seq)
	}
	return err
}

func (r *Router) dispatch(ctx context.Context, m jetstream.Msg, token string, env *tocsinv1.Envelope) error {
	routes := env.GetKind() == tocsinv1.Kind_KIND_ALERT || env.GetKind() == tocsinv1.Kind_KIND_ADVISORY
	checker := ingest.Checker{Verifier: r.d.Verifier, MaxSkew: r.opts.MaxSkew, FirstDeliveryIsNew: r.firstIsNew}
	var handled *tocsinv1.Outcome
	if routes {
		// An id is routed once, also after the duplicate window.
		checker.Handled = func(ctx context.Context, sender, id string) (bool, error) {
			o, err := r.Outcome(ctx, sender, id)
			handled = o
			return o != nil, err
		}
	}
	v, err := checker.Check(ctx, m, env, func(k tocsinv1.Kind) error {
		if records.TokenCarries(token, k) {
			return nil
		}
		right := "the subject of its kind"
		if t, ok := records.IngestToken(k); ok {
			right = subjects.Ingest(t, env.GetSender())
		}
		return codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED,
			"a %s envelope on the %q ingest subject; publish it on %s", strings.ToLower(strings.TrimPrefix(k.String(), "KIND_")), token, right)
	})
	switch {
	case errors.Is(err, ingest.ErrHandled):
		// A redelivery of the same ingest message (a node died before its
		// ack) sends its copies again, deduplicated by their message ids
		// (the record is written before them: resendCopies). A new ingest message with an id already
		// handled is a replay: its sender is told, the outcome stands. The
		// message that was handled carries its envelope id as message id
		// (the checker refuses any other), so a copy under another message
		// id is told on every delivery, not only the first: a first
		// delivery can fail before the rejection is sent (a lookup timed
		// out while a node was down), and the copies of one rejection are
		// deduplicated by the copy's INGEST sequence.
		meta, merr := m.Metadata()
		if merr != nil {
			return merr
		}
		if meta.NumDelivered == 1 || m.Headers().Get(jetstream.MsgIDHeader) != env.GetId() {
			r.log.Info("replay dropped", zap.String("sender", env.GetSender()), zap.String("id", env.GetId()))
			rej := codes.NewRejection(env, m.Subject(),
				codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_REPLAY, "message %s was already handled; this copy was dropped (its outcome stands)", env.GetId()))
			msgID := subjects.RoutedMsgID(env.GetId(), fmt.Sprintf("replay-%d", meta.Sequence.Stream))
			return r.sendSigned(ctx, r.in(subjects.Rejection(env.GetSender())), msgID, tocsinv1.Kind_KIND_REJECTION, rej)
		}
		return r.resendCopies(ctx, m, env, handled)
	case err != nil && ingest.Refusal(err) && m.Headers().Get(jetstream.MsgIDHeader) != env.GetId():
		return r.copyOf(m, err)
	case err != nil && ingest.Refusal(err):
		return reject{err}
	case err != nil:
		return err
	}
	switch p := v.Payload.(type) {
	case *tocsinv1.Alert:
		return r.routeAlert(ctx, m, env, v.Member, p)
	case *tocsinv1.Advisory:
		return r.routeAdvisory(ctx, m, env, v.Member, p)
	case *tocsinv1.Receipt:
		return r.recordReceipt(ctx, env, m.Data(), v.Member, p)
	case *tocsinv1.Sighting:
		return r.recordSighting(ctx, env, v.Member, p)
	case *tocsinv1.StatusReport:
		return r.recordStatus(ctx, env, v.Member, p)
	}
	return refuse(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED, "kind %s is not routed", env.GetKind())
}

// copyOf judges a refused message whose message id is not its envelope's:
// a copy, of a message still in flight (a replay published right after
// its original, which another node's router handles) or of none. The
// envelope id's outcome belongs to the message that carries the id, so a
// copy records none, and it is judged on a delivery an ack wait after its
// first, when its original has been handled (the copy is then a replay,
// and its sender is told so) or the id is nobody's.
func (r *Router) copyOf(m jetstream.Msg, err error) error {
	meta, merr := m.Metadata()
	if merr != nil {
		return merr
	}
	if meta.NumDelivered == 1 {
		return later{r.opts.AckWait}
	}
	return rejectCopy{err, meta.Sequence.Stream}
}

// rejectMsg sends the sender a signed Rejection on its rejection subject
// and then, for alerts, advisories and receipts (tocsin ack waits for
// it), records the REJECTED outcome. In
// that order: a redelivery of a message that has an outcome is dropped
// quietly, so a router that died between the two must have sent the
// rejection already (its redelivery sends it again, deduplicated by
// message id, and records the outcome). A copy (copySeq, its INGEST
// sequence, not 0) records no outcome, and its rejection is deduplicated
// apart from the one of the message that carries its id.
func (r *Router) rejectMsg(ctx context.Context, sender, subject string, env *tocsinv1.Envelope, cause error, copySeq uint64) error {
	rej := codes.NewRejection(env, subject, cause)
	r.log.Info("rejected", zap.String("sender", sender), zap.String("id", env.GetId()),
		zap.String("code", codes.Name(rej.Problems[0].GetCode())), zap.String("reason", rej.Problems[0].GetMessage()),
		zap.Uint32("problems", rej.GetProblemCount()))
	msgID := subjects.RoutedMsgID(env.GetId(), "rejection")
	if copySeq != 0 {
		msgID = subjects.RoutedMsgID(env.GetId(), fmt.Sprintf("rejection-%d", copySeq))
	}
	if env.GetId() == "" {
		msgID = "" // undecodable: nothing to deduplicate on
	}
	if err := r.sendSigned(ctx, r.in(subjects.Rejection(sender)), msgID, tocsinv1.Kind_KIND_REJECTION, rej); err != nil {
		return err
	}
	if copySeq == 0 && env.GetId() != "" && (env.GetKind() == tocsinv1.Kind_KIND_ALERT || env.GetKind() == tocsinv1.Kind_KIND_ADVISORY || env.GetKind() == tocsinv1.Kind_KIND_RECEIPT) {
		o := &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED, Rejection: rej}
		return r.putOutcome(ctx, sender, o)
	}
	return nil
}

// unroutable is the refusal of a message whose handling failed for a
// permanent reason (deadletter.Permanent): what the router must write for
// it does not fit, or is not valid, and never will be.
func unroutable(err error) error {
	c := tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		c = tocsinv1.RejectionCode_REJECTION_CODE_OVERSIZED
	}
	return codes.Errorf(c, "the router cannot write what this message needs (%v), and never will: send it smaller (split the bundle into several alerts) or fix what is not valid", err)
}

// sendSigned seals payload with the router's key and publishes it.
func (r *Router) sendSigned(ctx context.Context, subject, msgID string, kind tocsinv1.Kind, payload proto.Message) error {
	env, err := r.d.Signer.Seal(kind, payload)
	if err != nil {
		return fmt.Errorf("seal %s: %w", kind, err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		return err
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	_, err = r.d.JS.Publish(ctx, subject, data, opts...)
	return err
}

// resendCopies publishes again, on a redelivery of a message recorded
// ROUTED, the copies its outcome names, under the same message ids: the
// router writes the record before the copies, so a router lost between
// the two left them unsent (a copy already stored within the streams'
// duplicate window is dropped by its stream). Any other outcome has no
// copies.
func (r *Router) resendCopies(ctx context.Context, m jetstream.Msg, env *tocsinv1.Envelope, o *tocsinv1.Outcome) error {
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return nil
	}
	level, err := tlp.FromProto(o.GetTlp())
	if err != nil {
		return fmt.Errorf("outcome of %s: %w", env.GetId(), err)
	}
	var lane tocsinv1.Lane
	kind := "alert"
	switch env.GetKind() {
	case tocsinv1.Kind_KIND_ALERT:
		var a tocsinv1.Alert
		if err := proto.Unmarshal(env.GetPayload(), &a); err != nil {
			return fmt.Errorf("alert %s, recorded routed, does not decode: %w", env.GetId(), err)
		}
		lane = a.GetLane()
	case tocsinv1.Kind_KIND_ADVISORY:
		var a tocsinv1.Advisory
		if err := proto.Unmarshal(env.GetPayload(), &a); err != nil {
			return fmt.Errorf("advisory %s, recorded routed, does not decode: %w", env.GetId(), err)
		}
		lane, kind = a.GetLane(), "advisory"
	default:
		return nil
	}
	d := destinations{sectors: o.GetSectors(), inboxes: o.GetRecipients()}
	r.log.Info("copies sent again on a redelivery", zap.String("id", env.GetId()), zap.String("sender", env.GetSender()))
	return r.publishCopies(ctx, m.Data(), env.GetId(), kind, records.LaneName(lane), level, d)
}
