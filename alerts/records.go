package alerts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// receiptWriters is how many reach records of one receipt are written at
// once.
const receiptWriters = 16

// recordReceipt merges a receipt into the member's reach record of every
// message it covers: each state keeps the time it was first reached.
func (r *Router) recordReceipt(ctx context.Context, env *tocsinv1.Envelope, member *tocsinv1.Member, rc *tocsinv1.Receipt) error {
	refs := append([]string{rc.GetRefId()}, rc.GetMoreRefIds()...)
	if len(refs) > records.MaxReceiptRefs {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a receipt covers at most %d messages, this one %d; send several", records.MaxReceiptRefs, len(refs))
	}
	for _, id := range refs {
		if !envelope.ValidID(id) {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a receipt names the messages it is for (ref_id, more_ref_ids): %q is not a message id", id)
		}
	}
	if rc.GetState() != tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED {
		if err := r.checkAddressed(ctx, member, refs); err != nil {
			return err
		}
	}
	at := env.GetTime().AsTime()
	if rc.GetAt() != nil {
		at = rc.GetAt().AsTime()
	}
	if err := r.mergeAll(ctx, refs, member.GetId(), rc.GetState(), at); err != nil {
		return err // a failure has the whole receipt redelivered: merging again changes nothing
	}
	if rc.GetState() == tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED {
		return nil
	}
	// A person's acknowledgement has an outcome, which tocsin ack waits for.
	return r.putOutcome(ctx, member.GetId(), &tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED})
}

// mergeAll merges state into member's reach record of every message of
// refs, receiptWriters at a time.
func (r *Router) mergeAll(ctx context.Context, refs []string, member string, state tocsinv1.ReceiptState, at time.Time) error {
	if len(refs) == 1 {
		return r.mergeReach(ctx, refs[0], member, state, at)
	}
	errs := make([]error, len(refs))
	sem := make(chan struct{}, receiptWriters)
	var wg sync.WaitGroup
	for i, id := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = r.mergeReach(ctx, id, member, state, at)
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
// agents, which only report what their own consumers handed them.
func (r *Router) checkAddressed(ctx context.Context, member *tocsinv1.Member, refs []string) error {
	for _, id := range refs {
		entries, err := kvread.LastOf(ctx, r.d.JS.Conn(), kvread.APIPrefix(r.d.JS.Options()), records.BucketRouted, "*."+id)
		if err != nil {
			return err // transient: the receipt is tried again
		}
		if !slices.ContainsFunc(entries, func(e kvread.Entry) bool { return routedTo(e.Value, member) }) {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_REFERENCE,
				"message %s was never routed to %s: acknowledge a message of your own feed (tocsin tail, the console, the agent's records)", id, member.GetId())
		}
	}
	return nil
}

// routedTo reports whether the outcome record data is of a message routed
// to member: through one of its sectors or to its inbox.
func routedTo(data []byte, member *tocsinv1.Member) bool {
	var o tocsinv1.Outcome
	if proto.Unmarshal(data, &o) != nil || o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return false
	}
	return slices.Contains(o.GetRecipients(), member.GetId()) ||
		slices.ContainsFunc(o.GetSectors(), func(s string) bool { return slices.Contains(member.GetSectors(), s) })
}

// mergeReach merges state, reached at at, into member's reach record of
// message refID.
func (r *Router) mergeReach(ctx context.Context, refID, member string, state tocsinv1.ReceiptState, at time.Time) error {
	// The first receipt of a member for a message (nearly all of them) is
	// created without a look-up.
	_, _, err := updateJSON(ctx, r.reach, records.ReachKey(refID, member), true,
		func() records.Reach { return records.Reach{Member: member} },
		func(rec *records.Reach) bool { return mergeReceipt(rec, state, at) })
	return err
}

// mergeReceipt sets the time of state (and of the states it implies) when
// not yet set; it reports whether anything changed.
func mergeReceipt(rec *records.Reach, state tocsinv1.ReceiptState, at time.Time) bool {
	changed := false
	set := func(t *time.Time) {
		if t.IsZero() {
			*t = at.UTC()
			changed = true
		}
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

// SituationKey is the SITUATION bucket key of a facility's last report.
func SituationKey(region, member string) string { return region + "." + member }

// recordStatus keeps a facility's last status report, as the signed
// envelope itself, so the regional board can show who signed it.
func (r *Router) recordStatus(ctx context.Context, env *tocsinv1.Envelope, member *tocsinv1.Member, s *tocsinv1.StatusReport) error {
	if s.GetState() == tocsinv1.FacilityState_FACILITY_STATE_UNSPECIFIED {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a status report has a state: normal, degraded, diverting or down")
	}
	region := s.GetRegion()
	if region == "" {
		region = member.GetRegion()
	}
	if region == "" || !envelope.ValidMemberID(region) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "region %q is not a region token (lowercase letters, digits, dashes)", region)
	}
	data, err := proto.Marshal(env)
	if err != nil {
		return err
	}
	_, err = r.situation.Put(ctx, SituationKey(region, member.GetId()), data)
	return err
}
