package alerts

import (
	"errors"

	"github.com/tocsin-project/tocsin/alerts/stix"
	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// stixProblems turns the validator's problems into one joined error of
// coded errors, so that every problem reaches the sender.
func stixProblems(ps []stix.Problem) error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		c, ok := codes.Parse(p.Code)
		if !ok {
			c = tocsinv1.RejectionCode_REJECTION_CODE_INVALID_BUNDLE
		}
		e := codes.Errorf(c, "%s", p.Message)
		e.ObjectID, e.Path = p.ObjectID, p.Path
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
