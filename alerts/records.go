package alerts

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
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
	at := env.GetTime().AsTime()
	if rc.GetAt() != nil {
		at = rc.GetAt().AsTime()
	}
	if len(refs) == 1 {
		return r.mergeReach(ctx, refs[0], member.GetId(), rc.GetState(), at)
	}
	errs := make([]error, len(refs))
	sem := make(chan struct{}, receiptWriters)
	var wg sync.WaitGroup
	for i, id := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = r.mergeReach(ctx, id, member.GetId(), rc.GetState(), at)
		})
	}
	wg.Wait()
	return errors.Join(errs...) // a failure has the whole receipt redelivered: merging again changes nothing
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
