package alerts

import (
	"context"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
)

// checkRevocation refuses a revocation that is not what tocsin alert
// revoke seals: the revoked versions of the alert's objects. Its bundle
// holds only revoked versions and marking definitions, and none of its
// indicators was first published by another member (only an object's
// creator may version it).
func (r *Router) checkRevocation(ctx context.Context, sender string, a *tocsinv1.Alert, res *stix.Result) error {
	if a.GetAmends() == "" {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD, "a revocation names the alert it withdraws (amends); tocsin alert revoke ID does")
	}
	if res == nil {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_INVALID_BUNDLE,
			"a revocation carries the revoked versions of the alert's objects, so that TAXII and every sink learn of it; tocsin alert revoke %s --file <the alert's bundle> makes them", a.GetAmends())
	}
	if ps := stix.RevocationProblems(a.GetStixBundle()); len(ps) > 0 {
		return reject{stix.Refusal(ps)}
	}
	for _, p := range res.Patterns {
		first, ok, err := indexOf(ctx, r.routed, r.sightings, p.IndicatorID)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if first.Originator != sender {
			return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_ORIGINAL_SENDER,
				"indicator %s was first published by another member; only an object's creator may revoke it: leave it out", p.IndicatorID)
		}
	}
	return nil
}
