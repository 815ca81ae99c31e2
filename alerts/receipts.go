package alerts

import (
	"context"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// recordReceipt merges a receipt into the REACH sets of every message it
// covers, in the window's batch of each set (reachbatch.go): each state
// keeps the time it was first reached. An
// acknowledgement or actioned receipt (a person's) must be of a message
// routed to the member; once recorded, data (the envelope the member
// signed) is echoed to the member's own inbox, and its outcome recorded.
func (r *Router) recordReceipt(ctx context.Context, env *tocsinv1.Envelope, data []byte, member *tocsinv1.Member, rc *tocsinv1.Receipt) error {
	refs := append([]string{rc.GetRefId()}, rc.GetMoreRefIds()...)
	if err := checkReceipt(rc, refs); err != nil {
		return err
	}
	rr, err := r.recordsOf(ctx, rc)
	if err != nil {
		return err
	}
	person := rc.GetState() != tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED
	if person {
		if rr, err = r.addressedIn(ctx, rr, member, rc, refs); err != nil {
			return err
		}
	}
	at := env.GetTime().AsTime()
	if rc.GetAt() != nil {
		at = rc.GetAt().AsTime()
	}
	if err := r.fileReceipt(ctx, rr, env, refs, member, rc, at); err != nil {
		return err // a failure has the whole receipt redelivered: merging again changes nothing
	}
	if !person {
		return nil
	}
	// Before the outcome, which tocsin ack waits for: when it returns, every
	// agent and console of the member can see the echo.
	if err := r.echo(ctx, member.GetId(), env.GetId(), data); err != nil {
		return err
	}
	return r.putOutcome(ctx, member.GetId(), &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED})
}

// checkReceipt makes the checks of a receipt that need nothing but the
// receipt: how many messages it covers, their ids, the sender it names and
// the length of who acknowledged.
func checkReceipt(rc *tocsinv1.Receipt, refs []string) error {
	if len(refs) > records.MaxReceiptRefs {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a receipt covers at most %d messages, this one %d; send several", records.MaxReceiptRefs, len(refs))
	}
	for _, id := range refs {
		if !envelope.ValidID(id) {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a receipt names the messages it is for (ref_id, more_ref_ids): %q is not a message id", id)
		}
	}
	if s := rc.GetRefSender(); s != "" && !envelope.ValidMemberID(s) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "ref_sender %q is not a member id (lowercase letters, digits, dashes); leave it empty and the router finds the sender", s)
	}
	if n := len(rc.GetBy()); n > records.MaxReceiptBy {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "who acknowledged (by) is at most %d bytes, this one %d: give a name or a role (\"J. Ortiz, SOC lead\")", records.MaxReceiptBy, n)
	}
	return nil
}

// echo publishes data, a member's accepted acknowledgement as the member
// signed it, to the member's own inbox, once (its message id is the
// receipt's, as a routed copy's).
func (r *Router) echo(ctx context.Context, member, id string, data []byte) error {
	msg := &nats.Msg{Subject: r.in(subjects.Inbox(member)), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(id, "inbox."+member))
	msg.Header.Set(records.HeaderKind, "receipt")
	_, err := r.d.JS.PublishMsg(ctx, msg)
	return err
}

// unroutedGrace is how long after it was sent a receipt of a message with
// no routed outcome is tried again: an agent may send its delivered
// receipt before the router recorded the outcome. Past it, the receipt
// (of something never routed: nobody's reach) is left unrecorded.
const unroutedGrace = time.Minute

// fileReceipt adds member's state of every message of refs to the REACH
// sets they belong in, those of rr's region, and, for a delivered receipt that says so, member
// to the affected sets of a liaison's CSAF advisory (an affected flag on
// anything else is ignored: the delivered receipt stands); it returns once
// every write carrying it has landed.
func (r *Router) fileReceipt(ctx context.Context, rr *regionRecords, env *tocsinv1.Envelope, refs []string, member *tocsinv1.Member, rc *tocsinv1.Receipt, at time.Time) error {
	c := reachChange{member: member.GetId(), state: reachState(rc.GetState()), at: at.UTC(), by: rc.GetBy()}
	affected := rc.GetAffected() && c.state == records.ReachDelivered
	var batches []*reachBatch
	for _, id := range refs {
		routed, err := r.routedOf(ctx, rr, rc.GetRefSender(), id)
		if err != nil {
			return err
		}
		if len(routed) == 0 {
			if time.Since(env.GetTime().AsTime()) < unroutedGrace {
				return later{after: time.Second}
			}
			r.log.Debug("receipt of a message never routed, not recorded", zap.String("member", member.GetId()), zap.String("ref", id))
			continue
		}
		for _, m := range routed {
			keys, sectors := r.reachKeys(rr.batch, m, id, member)
			for _, k := range keys {
				batches = append(batches, rr.batch.add(k.key, false, k.own, c))
			}
			if affected {
				for _, s := range sectors {
					batches = append(batches, rr.batch.add(records.AffectedKey(m.sender, id, s), true, false, c))
				}
			}
		}
	}
	return waitBatches(ctx, batches)
}

// reachState is the REACH state of a receipt's.
func reachState(s tocsinv1.ReceiptState) records.ReachState {
	switch s {
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED:
		return records.ReachActioned
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED:
		return records.ReachAcknowledged
	}
	return records.ReachDelivered
}

// checkAddressed refuses an acknowledgement (or actioned receipt) of a
// message that was never routed to member: one no outcome in ROUTED
// names, one refused, or one whose sectors and recipients leave member
// out, in rr's region. A person acks from their feed; an id from anywhere else (a typo,
// "ADVISORY_ID" copied from a page) is a mistake the sender must hear
// about, not a silent "acknowledged". Delivered receipts come from
// agents, which only report what their own consumers handed them. With
// refSender (the receipt's ref_sender) the outcome is read under that
// sender's key, from the bucket's leader; without, every sender's outcome
// of the id is read at once.
func (r *Router) checkAddressed(ctx context.Context, rr *regionRecords, member *tocsinv1.Member, refSender string, refs []string) error {
	for _, id := range refs {
		ok, err := r.routedToMember(ctx, rr, member, refSender, id)
		if err != nil {
			return err // transient: the receipt is tried again
		}
		if ok {
			continue
		}
		if refSender != "" {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE,
				"message %s of %s was never routed to %s: acknowledge a message of your own feed (tocsin tail, the console, the agent's records) and name its sender, or leave ref_sender empty", id, refSender, member.GetId())
		}
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE,
			"message %s was never routed to %s: acknowledge a message of your own feed (tocsin tail, the console, the agent's records)", id, member.GetId())
	}
	return nil
}

// routedToMember reports whether message id (of refSender, when not
// empty) was routed to member by rr's region.
func (r *Router) routedToMember(ctx context.Context, rr *regionRecords, member *tocsinv1.Member, refSender, id string) (bool, error) {
	if refSender != "" {
		o, err := rr.outcome(ctx, refSender, id)
		return err == nil && reaches(o, member), err
	}
	entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), rr.routedBucket, "*."+id)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(entries, func(e kvread.Entry) bool { return routedTo(e.Value, member) }), nil
}

// routedTo reports whether the outcome record data is of a message routed
// to member: through one of its sectors or to its inbox.
func routedTo(data []byte, member *tocsinv1.Member) bool {
	var o tocsinv1.Outcome
	return unmarshalOutcome(data, &o) && reaches(&o, member)
}

// unmarshalOutcome decodes an outcome record into o.
func unmarshalOutcome(data []byte, o *tocsinv1.Outcome) bool { return proto.Unmarshal(data, o) == nil }

// reaches reports whether outcome o (nil: none) is of a message routed to
// member.
func reaches(o *tocsinv1.Outcome, member *tocsinv1.Member) bool {
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return false
	}
	return slices.Contains(o.GetRecipients(), member.GetId()) ||
		slices.ContainsFunc(o.GetSectors(), func(s string) bool { return slices.Contains(member.GetSectors(), s) })
}
