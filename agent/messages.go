package agent

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// NewReceipt builds a receipt for message id, dated now.
func NewReceipt(id string, state tocsinv1.ReceiptState, note string) *tocsinv1.Receipt {
	return &tocsinv1.Receipt{RefId: id, State: state, At: timestamppb.Now(), Note: note}
}

// ParseReceiptState reads "delivered", "acknowledged" or "actioned".
func ParseReceiptState(s string) (tocsinv1.ReceiptState, error) {
	v, ok := tocsinv1.ReceiptState_value["RECEIPT_STATE_"+strings.ToUpper(strings.TrimSpace(s))]
	if !ok || v == 0 {
		return 0, errors.New("receipt state " + s + ": use delivered, acknowledged or actioned")
	}
	return tocsinv1.ReceiptState(v), nil
}

// CheckSighting checks what a sighting needs before it is sent: an
// indicator id ("indicator--<uuid>") and a count of at least 1 (0 becomes
// 1), and first/last seen times in order (now when unset).
func CheckSighting(s *tocsinv1.Sighting) error {
	if !strings.HasPrefix(s.GetIndicatorId(), "indicator--") || len(s.GetIndicatorId()) > 256 {
		return errors.New("a sighting names the STIX indicator it saw: indicator--<uuid>")
	}
	if s.Count == 0 {
		s.Count = 1
	}
	now := timestamppb.New(time.Now())
	if s.LastSeen == nil {
		s.LastSeen = now
	}
	if s.FirstSeen == nil {
		s.FirstSeen = s.LastSeen
	}
	if s.GetFirstSeen().AsTime().After(s.GetLastSeen().AsTime()) {
		return errors.New("a sighting's first-seen time is after its last-seen time")
	}
	return nil
}

// ReceiptStateName spells a receipt state as on the command line ("actioned").
func ReceiptStateName(s tocsinv1.ReceiptState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RECEIPT_STATE_"))
}
