package alerts

import (
	"errors"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/csaf"
	"github.com/tocsin-project/tocsin/csafschemas"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// csafUnusable are the tests whose failure makes a CSAF document unusable
// to its recipients, so the router refuses it (docs/CSAF.md, "Routing"):
// the schema, product and group ids that are undefined, defined twice or
// circular (nothing can be matched against an inventory), contradicting
// product status, and CVSS that is invalid, contradicts its vector or
// scores one product twice (nothing can be prioritised). Every other 6.1
// failure (6.1.31 on CISA's "vers:all/*" among them) and every 6.2 and 6.3
// warning routes, carried as a warning in the router's log.
var csafUnusable = map[string]bool{
	csaf.TestSchema: true,
	"6.1.1":         true, // missing definition of product id
	"6.1.2":         true, // multiple definition of product id
	"6.1.3":         true, // circular definition of product id
	"6.1.4":         true, // missing definition of product group id
	"6.1.5":         true, // multiple definition of product group id
	"6.1.6":         true, // contradicting product status
	"6.1.7":         true, // multiple scores with same version per product
	"6.1.8":         true, // invalid CVSS
	"6.1.9":         true, // invalid CVSS computation
	"6.1.10":        true, // inconsistent CVSS
}

// validateCSAF validates an advisory's CSAF document and returns the most
// restrictive of the advisory's level and the document's TLP (the
// advisory's when the document carries none). A schema failure or an unusable test's failure
// is refused, each problem coded schema or invalid-field with its test id
// and JSON pointer, the first of them sent with their count as for STIX.
func (r *Router) validateCSAF(doc []byte, level tlp.Level) (tlp.Level, error) {
	rep, err := csaf.Validate(doc)
	if errors.Is(err, csafschemas.ErrSchemasMissing) {
		return 0, refuse(tocsinv1.RejectionCode_REJECTION_CODE_SCHEMAS_MISSING,
			"this node was built without the CSAF schemas and cannot validate CSAF advisories; the operator must run 'make build' and redeploy")
	}
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, p := range rep.Problems {
		if p.Severity != csaf.Error || !csafUnusable[p.Test] {
			continue
		}
		c := tocsinv1.RejectionCode_REJECTION_CODE_INVALID_FIELD
		if p.Test == csaf.TestSchema {
			c = tocsinv1.RejectionCode_REJECTION_CODE_SCHEMA
		}
		e := codes.Errorf(c, "csaf %s: %s", p.Test, p.Message)
		e.Path = p.Path
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return 0, reject{errors.Join(errs...)}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		r.log.Info("csaf advisory routed with failed tests carried as warnings", zap.Strings("failed", failed), zap.Strings("warned", rep.Warned()))
	}
	h, _ := csaf.ReadHeader(doc)
	own, has, err := h.Level()
	if err != nil {
		return 0, reject{err}
	}
	if has {
		level = tlp.Max(level, own)
	}
	return level, nil
}
