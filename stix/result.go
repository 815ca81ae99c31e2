package stix

import (
	"errors"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// Reason codes of a Problem: RejectionCode enum names (rejection.proto)
// without the prefix, in kebab-case.
const (
	// CodeInvalidBundle: the bundle envelope is wrong (not JSON, not a bundle,
	// no objects, duplicate keys).
	CodeInvalidBundle = "invalid-bundle"
	// CodeOversized: the bundle exceeds a size, object-count or depth limit.
	CodeOversized = "oversized"
	// CodeSchema: an object fails the official JSON schema of its type.
	CodeSchema = "schema"
	// CodeInvalidPattern: an indicator's STIX pattern does not parse.
	CodeInvalidPattern = "invalid-pattern"
	// CodeInvalidHash: a hash in a pattern has the wrong length for its algorithm.
	CodeInvalidHash = "invalid-hash"
	// CodeUnsupportedPatternType: an indicator's pattern_type is not accepted.
	CodeUnsupportedPatternType = "unsupported-pattern-type"
	// CodeInvalidSpecVersion: spec_version is not "2.1".
	CodeInvalidSpecVersion = "invalid-spec-version"
	// CodeInvalidTimestamp: a timestamp that is not a real date and time.
	CodeInvalidTimestamp = "invalid-timestamp"
	// CodeTimeOrder: modified before created, valid_until not after
	// valid_from, or a last time before its first time.
	CodeTimeOrder = "time-order"
	// CodeBadReference: a reference to an object of a type the property does
	// not allow.
	CodeBadReference = "bad-reference"
	// CodeCustomContent: a custom object or property refused by the policy.
	CodeCustomContent = "custom-content"
	// CodeUnknownMarking: a marking that is neither a canonical TLP id nor a
	// marking-definition carried in the bundle.
	CodeUnknownMarking = "unknown-marking"
	// CodeInvalidField: a value the specification constrains beyond its
	// schema (a lang that is no RFC 5646 tag, a granular-marking selector
	// naming no property of its object).
	CodeInvalidField = "invalid-field"
)

// Problem is one reason a bundle is refused.
type Problem struct {
	// Code is the reason code, one of the Code constants.
	Code string
	// ObjectID is the id of the STIX object concerned, when there is one.
	ObjectID string
	// Path is the JSON pointer of the offending value in the bundle
	// ("/objects/2/pattern").
	Path string
	// Message says what is wrong and what to do.
	Message string
}

// Proto converts p to the wire Problem.
func (p Problem) Proto() *tocsinv1.Problem {
	c, _ := codes.Parse(p.Code) // every Code constant is a RejectionCode (tested)
	return &tocsinv1.Problem{Code: c, ObjectId: p.ObjectID, Path: p.Path, Message: p.Message}
}

// Refusal turns problems into one joined error of coded errors, in order,
// so that every problem reaches the sender (codes.NewRejection carries the
// first of them and their count). A code that is not a RejectionCode is
// sent as invalid-bundle.
func Refusal(ps []Problem) error {
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

// Object is what the router needs to know about one object of a bundle.
type Object struct {
	// Index is the object's position in the bundle's objects array.
	Index int
	// ID, Type and SpecVersion are the object's id, type and spec_version
	// (empty when missing or not a string).
	ID, Type, SpecVersion string
	// ObjectMarkingRefs are the object's object_marking_refs.
	ObjectMarkingRefs []string
	// GranularMarkings are the object's granular_markings.
	GranularMarkings []GranularMarking
}

// GranularMarking is one entry of an object's granular_markings.
type GranularMarking struct {
	// MarkingRef is the marking-definition id.
	MarkingRef string
	// Selectors are the parts of the object the marking applies to.
	Selectors []string
}

// Pattern is an indicator's detection pattern.
type Pattern struct {
	// IndicatorID is the id of the indicator.
	IndicatorID string
	// Pattern and Type are the indicator's pattern and pattern_type.
	Pattern, Type string
	// Path is the JSON pointer of the pattern in the bundle.
	Path string
	// Canonical is the STIX pattern as pattern.Parse prints it (spacing and
	// keyword case made uniform), when the validator parsed it with its
	// default PatternCheck; empty otherwise.
	Canonical string
}

// Result is the outcome of ValidateBundle.
type Result struct {
	// Objects are the bundle's objects, in order (those that are JSON
	// objects at all).
	Objects []Object
	// Patterns are the patterns of the bundle's indicators, in order.
	Patterns []Pattern
	// Problems are every reason found to refuse the bundle; none when it is
	// valid. The first is the main one.
	Problems []Problem
	// TLP is the most restrictive TLP among the bundle's object and granular
	// markings; tlp.Clear when there is none (see TLPMarked). The effective
	// TLP of an alert is tlp.Max of this and the alert's own TLP.
	TLP tlp.Level
	// TLPMarked reports whether any object carries a TLP marking at all.
	TLPMarked bool
}

// Valid reports whether the bundle has no problem.
func (r *Result) Valid() bool { return len(r.Problems) == 0 }

// add records a problem.
func (r *Result) add(code, objectID, path, message string) {
	r.Problems = append(r.Problems, Problem{Code: code, ObjectID: objectID, Path: path, Message: message})
}
