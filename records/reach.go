package records

import "time"

// Reach is one member's receipts for one message (the REACH bucket value,
// key ReachKey).
type Reach struct {
	Member       string    `json:"member"`
	Delivered    time.Time `json:"delivered,omitzero"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
	// By is who at the member acknowledged, as the first acknowledgement
	// or actioned receipt that named one said it (Receipt.by); empty when
	// none did.
	By string `json:"by,omitempty"`
}

// ReachKey is the REACH bucket key of a member's receipts for a message:
// "<message id>.<member>".
func ReachKey(refID, member string) string { return refID + "." + member }

// MaxReceiptRefs is the most messages one receipt may cover (its ref_id
// and more_ref_ids).
const MaxReceiptRefs = 1024

// MaxReceiptBy is the most bytes a receipt's by (who acknowledged) may
// have.
const MaxReceiptBy = 128
