package envelope

import tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"

// Short names for the rejection codes this package returns.
const (
	malformed      = tocsinv1.RejectionCode_REJECTION_CODE_MALFORMED
	oversized      = tocsinv1.RejectionCode_REJECTION_CODE_OVERSIZED
	badSignature   = tocsinv1.RejectionCode_REJECTION_CODE_BAD_SIGNATURE
	unknownKey     = tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_KEY
	keyNotValid    = tocsinv1.RejectionCode_REJECTION_CODE_KEY_NOT_VALID
	unknownSender  = tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_SENDER
	senderRevoked  = tocsinv1.RejectionCode_REJECTION_CODE_SENDER_REVOKED
	senderMismatch = tocsinv1.RejectionCode_REJECTION_CODE_SENDER_MISMATCH
	clockSkew      = tocsinv1.RejectionCode_REJECTION_CODE_CLOCK_SKEW
)
