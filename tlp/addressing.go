package tlp

import (
	"fmt"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// ErrNeedsRecipients is returned when an alert's addressing does not allow
// its TLP: AMBER with neither sectors nor recipients, AMBER+STRICT or RED
// without recipients. It carries the code TLP_NEEDS_RECIPIENTS (codes.Of).
var ErrNeedsRecipients = codes.Err(tocsinv1.RejectionCode_REJECTION_CODE_TLP_NEEDS_RECIPIENTS)

// AllowsSectorSubjects reports whether an alert of level l may be delivered
// on sector subjects: CLEAR, GREEN and AMBER may; AMBER+STRICT and RED go
// only to the named recipients' direct inboxes; an invalid level never.
func (l Level) AllowsSectorSubjects() bool {
	return l.Valid() && l <= Amber
}

// CheckAddressing applies the delivery rule of DESIGN.md to an alert's
// effective level and addressing. CLEAR and GREEN need nothing (no sector
// means every sector); AMBER needs at least one sector or recipient;
// AMBER+STRICT and RED need at least one recipient, and their sectors are
// ignored for delivery (AllowsSectorSubjects is false).
func CheckAddressing(l Level, sectors, recipients []string) error {
	switch {
	case !l.Valid():
		return fmt.Errorf("%w: set the alert's tlp to one of %s", ErrUnknownTLP, Accepted)
	case l == Amber && len(sectors) == 0 && len(recipients) == 0:
		return fmt.Errorf("%w: %s goes to members of the named sectors or to named recipients: name at least one", ErrNeedsRecipients, l.Label())
	case l > Amber && len(recipients) == 0:
		return fmt.Errorf("%w: %s goes only to named recipient organisations, never to a sector: name at least one recipient", ErrNeedsRecipients, l.Label())
	}
	return nil
}
