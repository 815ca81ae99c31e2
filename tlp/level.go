// Package tlp implements the Traffic Light Protocol 2.0 as Tocsin enforces it
// (docs: DESIGN.md, "TLP 2.0 (fail closed)"): the ordered levels, their
// spellings, the canonical STIX marking-definition ids, the effective TLP of
// an alert and the delivery rule for each level.
package tlp

import (
	"fmt"
	"strings"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Level is a TLP 2.0 level. Levels are ordered from the least to the most
// restrictive, so the most restrictive of two is the greater. The zero Level
// is not a level: it is what an unset or unknown TLP becomes, and every
// function here refuses it.
type Level uint8

// The TLP 2.0 levels, least restrictive first. Their values equal the
// tocsinv1.TLP enum values.
const (
	// Clear: no limit on disclosure.
	Clear Level = iota + 1
	// Green: the community (every member of the named sectors).
	Green
	// Amber: members of the named sectors or named recipients.
	Amber
	// AmberStrict: only the named recipient organisations.
	AmberStrict
	// Red: only the named recipient organisations, never a sector subject.
	Red
)

// ErrUnknownTLP is returned for a TLP that is missing or not a TLP 2.0 level.
// It carries the code UNKNOWN_TLP (codes.Of).
var ErrUnknownTLP = codes.Err(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP)

// Accepted lists the spellings Parse accepts, least restrictive first.
const Accepted = "clear, green, amber, amber+strict, red"

var names = [...]string{Clear: "clear", Green: "green", Amber: "amber", AmberStrict: "amber+strict", Red: "red"}

// Valid reports whether l is one of the five levels.
func (l Level) Valid() bool { return l >= Clear && l <= Red }

// String returns the command-line spelling ("amber+strict"), or "unknown"
// for an invalid level.
func (l Level) String() string {
	if !l.Valid() {
		return "unknown"
	}
	return names[l]
}

// Label returns the label as TLP 2.0 prints it ("TLP:AMBER+STRICT").
func (l Level) Label() string {
	return "TLP:" + strings.ToUpper(l.String())
}

// Parse reads a level as spelled on the command line: clear, green, amber,
// amber+strict or red, in any case, with or without a "TLP:" prefix. Any other
// spelling (including TLP 1.0's "white") is an error wrapping ErrUnknownTLP.
func Parse(s string) (Level, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	name = strings.TrimPrefix(name, "tlp:")
	for l := Clear; l <= Red; l++ {
		if names[l] == name {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w %q: use one of %s", ErrUnknownTLP, s, Accepted)
}

// FromProto converts the wire enum. TLP_UNSPECIFIED and values outside the
// enum are an error wrapping ErrUnknownTLP: a TLP is never guessed.
func FromProto(t tocsinv1.TLP) (Level, error) {
	if t < tocsinv1.TLP_TLP_CLEAR || t > tocsinv1.TLP_TLP_RED {
		return 0, fmt.Errorf("%w: %v is not a TLP 2.0 level: set the alert's tlp to one of %s", ErrUnknownTLP, t, Accepted)
	}
	return Level(t), nil
}

// Proto converts l to the wire enum; an invalid level becomes TLP_UNSPECIFIED.
func (l Level) Proto() tocsinv1.TLP {
	if !l.Valid() {
		return tocsinv1.TLP_TLP_UNSPECIFIED
	}
	return tocsinv1.TLP(l)
}

// Max returns the most restrictive of the given levels, or 0 when there are
// none or any of them is invalid (fail closed: the caller must reject).
func Max(levels ...Level) Level {
	var most Level
	for _, l := range levels {
		if !l.Valid() {
			return 0
		}
		most = max(most, l)
	}
	return most
}
