package alerts

import (
	"cmp"
	"errors"
	"slices"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/csaf"
	"github.com/tocsin-project/tocsin/csafschemas"
	"github.com/tocsin-project/tocsin/members"
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
// warning routes, carried as a warning in the router's outcome.
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

// MaxWarnings is the most warnings a routed CSAF advisory's outcome
// carries: the failed 6.1 tests first, then 6.2 and 6.3, each in the
// order of the tests; the outcome's warning_count says how many there
// were. Each field is cut as a rejection's are (codes.MaxMessageBytes,
// codes.MaxFieldBytes), so an outcome stays far under the max payload.
const MaxWarnings = codes.MaxProblems

// csafResult is what validating an advisory's CSAF document gives the
// routing: the TLP it is routed at and the warnings it is routed with.
type csafResult struct {
	level    tlp.Level
	warnings []*tocsinv1.Warning
	count    int
}

// addTo puts the warnings into the outcome o.
func (c csafResult) addTo(o *tocsinv1.Outcome) {
	o.Warnings, o.WarningCount = c.warnings, uint32(c.count)
}

// checkVendor applies the vendor rule to an advisory from a member that
// is a vendor and not the liaison: it must carry a CSAF document
// (not-permitted otherwise) whose document.publisher.namespace is the one
// registered for the vendor, byte for byte (publisher-mismatch otherwise).
func checkVendor(member *tocsinv1.Member, doc []byte) error {
	if len(doc) == 0 {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED,
			"%q is a vendor: it publishes CSAF advisories only, and this advisory carries no CSAF document; send the vendor's CSAF 2.0 document with 'tocsin csaf publish --file DOC.json'", member.GetId())
	}
	h, _ := csaf.ReadHeader(doc)
	if want := member.GetPublisherNamespace(); want == "" || h.Namespace != want {
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_PUBLISHER_MISMATCH,
			"vendor %q publishes under the namespace %q registered for it; this CSAF document's document.publisher.namespace is %q: publish only your own advisories, under your registered namespace (an admin changes it in the registry)",
			member.GetId(), want, h.Namespace)
	}
	return nil
}

// permitAdvisory says whether member may publish the advisory a: the
// liaison any, a vendor by checkVendor, nobody else.
func permitAdvisory(member *tocsinv1.Member, a *tocsinv1.Advisory) error {
	switch {
	case members.HasRole(member, tocsinv1.Role_ROLE_LIAISON):
		return nil
	case members.HasRole(member, tocsinv1.Role_ROLE_VENDOR):
		return checkVendor(member, a.GetCsafDocument())
	default:
		return refuse(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED,
			"only the liaison may publish advisories, and vendors their own CSAF advisories; %q is neither", member.GetId())
	}
}

// validateCSAF validates an advisory's CSAF document and returns the most
// restrictive of the advisory's level and the document's TLP (the
// advisory's when the document carries none), with the problems it routes
// with as warnings. A schema failure or an unusable test's failure is
// refused, each problem coded schema or invalid-field with its test id
// and JSON pointer, the first of them sent with their count as for STIX.
func (r *Router) validateCSAF(doc []byte, level tlp.Level) (csafResult, error) {
	rep, err := csaf.Validate(doc)
	if errors.Is(err, csafschemas.ErrSchemasMissing) {
		return csafResult{}, refuse(tocsinv1.RejectionCode_REJECTION_CODE_SCHEMAS_MISSING,
			"this node was built without the CSAF schemas and cannot validate CSAF advisories; the operator must run 'make build' and redeploy")
	}
	if err != nil {
		return csafResult{}, err
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
		return csafResult{}, reject{errors.Join(errs...)}
	}
	res := csafResult{level: level}
	res.warnings, res.count = csafWarnings(rep.Problems)
	if failed := rep.Failed(); len(failed) > 0 {
		r.log.Info("csaf advisory routed with failed tests carried as warnings", zap.Strings("failed", failed), zap.Strings("warned", rep.Warned()))
	}
	h, _ := csaf.ReadHeader(doc)
	own, has, err := h.Level()
	if err != nil {
		return csafResult{}, reject{err}
	}
	if has {
		res.level = tlp.Max(level, own)
	}
	return res, nil
}

// csafWarnings are the problems of a document the router routes (none is
// unusable): the failed 6.1 tests first, then the 6.2 and 6.3 warnings,
// each group in the validator's order, at most MaxWarnings of them with
// their fields cut; and how many there were.
func csafWarnings(ps []csaf.Problem) ([]*tocsinv1.Warning, int) {
	ordered := slices.Clone(ps)
	slices.SortStableFunc(ordered, func(a, b csaf.Problem) int {
		return cmp.Compare(a.Severity, b.Severity) // "error" before "warning"
	})
	var out []*tocsinv1.Warning
	for _, p := range ordered[:min(len(ordered), MaxWarnings)] {
		out = append(out, &tocsinv1.Warning{Test: codes.Cut(p.Test, codes.MaxFieldBytes), Path: codes.Cut(p.Path, codes.MaxFieldBytes), Message: codes.Cut(p.Message, codes.MaxMessageBytes)})
	}
	return out, len(ps)
}
