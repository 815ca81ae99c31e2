// Package ingest makes the checks every consumer of the INGEST stream makes
// on a member's message before acting on it, in one order, so the router
// and the mutual-aid service cannot drift apart.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// Checker checks ingested messages.
type Checker struct {
	// Verifier checks signatures against the member registry. Required.
	Verifier *envelope.Verifier
	// MaxSkew bounds the envelope time against the stream's timestamp.
	// Default envelope.DefaultMaxSkew.
	MaxSkew time.Duration
	// Handled reports whether the message (sender, id) already has an
	// outcome; nil skips that check.
	Handled func(ctx context.Context, sender, id string) (bool, error)
	// FirstDeliveryIsNew skips Handled on a first delivery whose
	// Nats-Msg-Id is its envelope id: such a message cannot repeat an
	// earlier one when the stream's duplicate window is longer than twice
	// MaxSkew (a second publish of the id inside the window is dropped by
	// the stream, one after it is refused as skewed). Redeliveries and
	// messages with another message id are still checked. Default false.
	FirstDeliveryIsNew bool
	// SiteMaxDelay bounds how long before its arrival a message forwarded
	// by a member's site (SiteStoredHeader) may have been stored there.
	// Default DefaultSiteMaxDelay.
	SiteMaxDelay time.Duration
}

// SiteStoredHeader marks a message forwarded by its member's site
// (`tocsin site`, docs/SITES.md) with the time the site stored it
// (RFC 3339): such a message may have waited in the site's outbox through
// a WAN cut, so its skew is measured from that time, and, since it may
// arrive after INGEST's duplicate window, its id is always looked up.
const SiteStoredHeader = "Tocsin-Site-Stored"

// DefaultSiteMaxDelay is the longest a site's message may have waited:
// a site's outbox keeps messages 30 days, well inside the router's 90-day
// memory of what it handled, so a replay older than that is refused as
// skewed rather than routed again.
const DefaultSiteMaxDelay = 30 * 24 * time.Hour

// Verified is a message that passed every check.
type Verified struct {
	// Env is the decoded envelope.
	Env *tocsinv1.Envelope
	// Member is the sender's registry record.
	Member *tocsinv1.Member
	// Payload is the decoded payload of the envelope's kind.
	Payload proto.Message
}

// ErrHandled is returned when the message already has an outcome: a
// replay or a redelivery, to be acked and dropped.
var ErrHandled = errors.New("already handled")

// Check runs, in order: the envelope's sender must be the ingest subject's
// sender token (the server's permissions bind the token to the
// connection); the kind must be one kindOK accepts; a message already
// handled (looked up unless FirstDeliveryIsNew rules a repeat out) is
// dropped (ErrHandled), whatever else is wrong with the replay;
// the Nats-Msg-Id must equal the envelope id; the time skew against the
// stream's own timestamp (once, here: an agent catching up hours later
// still accepts what was valid then); the signature against the registry.
//
// A refusal is an error carrying a rejection code (codes.Of); any other
// error comes from the cluster, not the message, and is worth a retry.
func (c Checker) Check(ctx context.Context, m jetstream.Msg, env *tocsinv1.Envelope, kindOK func(tocsinv1.Kind) error) (*Verified, error) {
	// A region's ingest subject (docs/REGIONS.md) is checked without its
	// region: only that region's INGEST takes it.
	_, subject := subjects.OutOfRegion(m.Subject())
	if err := envelope.CheckSubjectSender(env, subject, subjects.Prefix+".ingest"); err != nil {
		return nil, err
	}
	if err := kindOK(env.GetKind()); err != nil {
		return nil, err
	}
	if c.Handled != nil && c.mayRepeat(m, env) {
		done, err := c.Handled(ctx, env.GetSender(), env.GetId())
		if err != nil {
			return nil, err
		}
		if done {
			return nil, ErrHandled
		}
	}
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != env.GetId() {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED,
			"the Nats-Msg-Id header %q must equal the envelope id %q; publish with the envelope id as message id", id, env.GetId())
	}
	meta, err := m.Metadata()
	if err != nil {
		return nil, codes.Errorf(tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED, "no jetstream metadata: %v", err)
	}
	skew := c.MaxSkew
	if skew == 0 {
		skew = envelope.DefaultMaxSkew
	}
	if err := envelope.CheckSkew(env, c.reference(m, meta.Timestamp), skew); err != nil {
		return nil, err
	}
	payload, err := envelope.PayloadFor(env.GetKind())
	if err != nil {
		return nil, err
	}
	member, err := c.Verifier.Open(ctx, env, payload)
	if err != nil {
		if !Refusal(err) {
			return nil, fmt.Errorf("verify %s: %w", env.GetId(), err)
		}
		return nil, err
	}
	return &Verified{Env: env, Member: member, Payload: payload}, nil
}

// reference is the time m's envelope is checked against: the stream's
// timestamp, or the time m's site stored it when that is before the
// stream's and at most SiteMaxDelay before it.
func (c Checker) reference(m jetstream.Msg, stream time.Time) time.Time {
	v := m.Headers().Get(SiteStoredHeader)
	if v == "" {
		return stream
	}
	stored, err := time.Parse(time.RFC3339Nano, v)
	limit := c.SiteMaxDelay
	if limit == 0 {
		limit = DefaultSiteMaxDelay
	}
	if err != nil || stored.After(stream) || stream.Sub(stored) > limit {
		return stream
	}
	return stored
}

// mayRepeat reports whether m may repeat a message already handled.
func (c Checker) mayRepeat(m jetstream.Msg, env *tocsinv1.Envelope) bool {
	if !c.FirstDeliveryIsNew || m.Headers().Get(jetstream.MsgIDHeader) != env.GetId() || m.Headers().Get(SiteStoredHeader) != "" {
		return true
	}
	meta, err := m.Metadata()
	return err != nil || meta.NumDelivered > 1
}

// Refusal reports whether err refuses the message (it carries a rejection
// code) rather than coming from the cluster.
func Refusal(err error) bool {
	return codes.Of(err) != tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoStreamResponse)
}
