package alerts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// receiptWriters is how many reach records of one receipt are written at
// once.
const receiptWriters = 16

// recordReceipt merges a receipt into the member's reach record of every
// message it covers: each state keeps the time it was first reached. An
// acknowledgement or actioned receipt (a person's) must be of a message
// routed to the member; once recorded, data (the envelope the member
// signed) is echoed to the member's own inbox, and its outcome recorded.
func (r *Router) recordReceipt(ctx context.Context, env *tocsinv1.Envelope, data []byte, member *tocsinv1.Member, rc *tocsinv1.Receipt) error {
	refs := append([]string{rc.GetRefId()}, rc.GetMoreRefIds()...)
	if err := checkReceipt(rc, refs); err != nil {
		return err
	}
	person := rc.GetState() != tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED
	if person {
		if err := r.checkAddressed(ctx, member, rc.GetRefSender(), refs); err != nil {
			return err
		}
	}
	at := env.GetTime().AsTime()
	if rc.GetAt() != nil {
		at = rc.GetAt().AsTime()
	}
	if err := r.mergeAll(ctx, refs, member.GetId(), rc.GetState(), at, rc.GetBy()); err != nil {
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
	msg := &nats.Msg{Subject: subjects.Inbox(member), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(id, "inbox."+member))
	msg.Header.Set(records.HeaderKind, "receipt")
	_, err := r.d.JS.PublishMsg(ctx, msg)
	return err
}

// mergeAll merges state (and by) into member's reach record of every
// message of refs, receiptWriters at a time.
func (r *Router) mergeAll(ctx context.Context, refs []string, member string, state tocsinv1.ReceiptState, at time.Time, by string) error {
	if len(refs) == 1 {
		return r.mergeReach(ctx, refs[0], member, state, at, by)
	}
	errs := make([]error, len(refs))
	sem := make(chan struct{}, receiptWriters)
	var wg sync.WaitGroup
	for i, id := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = r.mergeReach(ctx, id, member, state, at, by)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkAddressed refuses an acknowledgement (or actioned receipt) of a
// message that was never routed to member: one no outcome in ROUTED
// names, one refused, or one whose sectors and recipients leave member
// out. A person acks from their feed; an id from anywhere else (a typo,
// "ADVISORY_ID" copied from a page) is a mistake the sender must hear
// about, not a silent "acknowledged". Delivered receipts come from
// agents, which only report what their own consumers handed them. With
// refSender (the receipt's ref_sender) the outcome is read under that
// sender's key, from the bucket's leader; without, every sender's outcome
// of the id is read at once.
func (r *Router) checkAddressed(ctx context.Context, member *tocsinv1.Member, refSender string, refs []string) error {
	for _, id := range refs {
		ok, err := r.routedToMember(ctx, member, refSender, id)
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
// empty) was routed to member.
func (r *Router) routedToMember(ctx context.Context, member *tocsinv1.Member, refSender, id string) (bool, error) {
	if refSender != "" {
		o, err := r.Outcome(ctx, refSender, id)
		return err == nil && reaches(o, member), err
	}
	entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), records.BucketRouted, "*."+id)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(entries, func(e kvread.Entry) bool { return routedTo(e.Value, member) }), nil
}

// routedTo reports whether the outcome record data is of a message routed
// to member: through one of its sectors or to its inbox.
func routedTo(data []byte, member *tocsinv1.Member) bool {
	var o tocsinv1.Outcome
	return proto.Unmarshal(data, &o) == nil && reaches(&o, member)
}

// reaches reports whether outcome o (nil: none) is of a message routed to
// member.
func reaches(o *tocsinv1.Outcome, member *tocsinv1.Member) bool {
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return false
	}
	return slices.Contains(o.GetRecipients(), member.GetId()) ||
		slices.ContainsFunc(o.GetSectors(), func(s string) bool { return slices.Contains(member.GetSectors(), s) })
}

// mergeReach merges state, reached at at (and by, who acknowledged), into
// member's reach record of message refID.
func (r *Router) mergeReach(ctx context.Context, refID, member string, state tocsinv1.ReceiptState, at time.Time, by string) error {
	// The first receipt of a member for a message (nearly all of them) is
	// created without a look-up.
	_, _, err := updateJSON(ctx, r.reach, records.ReachKey(refID, member), true,
		func() records.Reach { return records.Reach{Member: member} },
		func(rec *records.Reach) bool { return mergeReceipt(rec, state, at, by) })
	return err
}

// mergeReceipt sets the time of state (and of the states it implies) when
// not yet set, and who acknowledged when not yet known (the first
// acknowledgement or actioned receipt that names one); it reports whether
// anything changed.
func mergeReceipt(rec *records.Reach, state tocsinv1.ReceiptState, at time.Time, by string) bool {
	changed := false
	set := func(t *time.Time) {
		if t.IsZero() {
			*t = at.UTC()
			changed = true
		}
	}
	if by != "" && rec.By == "" && state != tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED {
		rec.By = by
		changed = true
	}
	switch state {
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACTIONED:
		set(&rec.Actioned)
		fallthrough
	case tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED:
		set(&rec.Acknowledged)
		fallthrough
	case tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED:
		set(&rec.Delivered)
	}
	return changed
}
