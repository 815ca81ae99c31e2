package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Reach is one member's receipts for one message (the REACH bucket value,
// key "<message id>.<member>").
type Reach struct {
	Member       string    `json:"member"`
	Delivered    time.Time `json:"delivered,omitzero"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
}

// ReachKey is the REACH bucket key of a member's receipts for a message.
func ReachKey(refID, member string) string { return refID + "." + member }

// recordReceipt merges a receipt into the member's reach record: each
// state keeps the time it was first reached.
func (r *Router) recordReceipt(ctx context.Context, env *tocsinv1.Envelope, member *tocsinv1.Member, rc *tocsinv1.Receipt) error {
	if !envelope.ValidID(rc.GetRefId()) {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a receipt names the message it is for (ref_id)")
	}
	at := env.GetTime().AsTime()
	if rc.GetAt() != nil {
		at = rc.GetAt().AsTime()
	}
	key := ReachKey(rc.GetRefId(), member.GetId())
	for range 20 {
		rec := Reach{Member: member.GetId()}
		var rev uint64
		e, err := r.reach.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			rev = e.Revision()
			_ = json.Unmarshal(e.Value(), &rec)
		}
		if !mergeReceipt(&rec, rc.GetState(), at) {
			return nil
		}
		data, _ := json.Marshal(rec)
		if rev == 0 {
			_, err = r.reach.Create(ctx, key, data)
		} else {
			_, err = r.reach.Update(ctx, key, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongRevision(err) {
			return err
		}
	}
	return fmt.Errorf("reach %s: too much contention", key)
}

// mergeReceipt sets the time of state (and of the states it implies) when
// not yet set; it reports whether anything changed.
func mergeReceipt(rec *Reach, state tocsinv1.ReceiptState, at time.Time) bool {
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
