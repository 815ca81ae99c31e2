package tlp

import (
	"fmt"
	"strings"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// The canonical TLP 2.0 marking-definition ids (DESIGN.md).
const (
	// MarkingClear is the TLP 2.0 CLEAR marking-definition.
	MarkingClear = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	// MarkingGreen is the TLP 2.0 GREEN marking-definition.
	MarkingGreen = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	// MarkingAmber is the TLP 2.0 AMBER marking-definition.
	MarkingAmber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	// MarkingAmberStrict is the TLP 2.0 AMBER+STRICT marking-definition.
	MarkingAmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	// MarkingRed is the TLP 2.0 RED marking-definition.
	MarkingRed = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// The STIX 2.1 TLP 1.0 marking-definition ids; WHITE maps to Clear.
const (
	// MarkingV1White is the STIX 2.1 TLP:WHITE marking-definition (Clear).
	MarkingV1White = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	// MarkingV1Green is the STIX 2.1 TLP:GREEN marking-definition.
	MarkingV1Green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	// MarkingV1Amber is the STIX 2.1 TLP:AMBER marking-definition.
	MarkingV1Amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	// MarkingV1Red is the STIX 2.1 TLP:RED marking-definition.
	MarkingV1Red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
)

// ExtensionTLP2 is the id of the extension-definition that the canonical TLP
// 2.0 marking-definitions use; its "tlp_2_0" property names the level.
const ExtensionTLP2 = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// ErrUnknownMarking is returned for a marking that is neither a canonical TLP
// id nor a marking-definition carried in the same bundle, or that carries a
// TLP name that is not a level. It carries the code UNKNOWN_MARKING
// (codes.Of).
var ErrUnknownMarking = codes.Err(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_MARKING)

var canonical = map[string]Level{
	MarkingClear: Clear, MarkingGreen: Green, MarkingAmber: Amber, MarkingAmberStrict: AmberStrict, MarkingRed: Red,
	MarkingV1White: Clear, MarkingV1Green: Green, MarkingV1Amber: Amber, MarkingV1Red: Red,
}

// MarkingID returns the canonical TLP 2.0 marking-definition id of l, or ""
// for an invalid level.
func MarkingID(l Level) string {
	switch l {
	case Clear:
		return MarkingClear
	case Green:
		return MarkingGreen
	case Amber:
		return MarkingAmber
	case AmberStrict:
		return MarkingAmberStrict
	case Red:
		return MarkingRed
	}
	return ""
}

// FromMarkingID maps a canonical TLP 2.0 or TLP 1.0 marking-definition id to
// its level; ok is false for any other id.
func FromMarkingID(id string) (l Level, ok bool) {
	l, ok = canonical[id]
	return l, ok
}

// FromName maps the TLP name a marking-definition carries to its level:
// TLP 1.0's "white", "green", "amber", "red" (the definition.tlp of
// definition_type "tlp") and TLP 2.0's "clear", "green", "amber",
// "amber+strict", "red" (the tlp_2_0 of ExtensionTLP2), in any case and with
// or without a "TLP:" prefix.
func FromName(name string) (Level, bool) {
	if strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "tlp:") == "white" {
		return Clear, true
	}
	l, err := Parse(name)
	return l, err == nil
}

// Definition is what matters, for TLP, about a marking-definition carried in
// a bundle.
type Definition struct {
	// DefinitionType is the definition_type property ("statement", "tlp",
	// ...); empty for a definition made by an extension.
	DefinitionType string
	// TLP is the TLP name the definition carries (definition.tlp, or the
	// tlp_2_0 property of ExtensionTLP2); empty when it carries none.
	TLP string
}

// Definitions are the marking-definitions carried in a bundle, by id.
type Definitions map[string]Definition

// Resolve returns the level of the marking id and whether it is a TLP
// marking at all. A canonical id has its own level, or the level its
// carried definition names if that is more restrictive (fail closed). A
// carried definition with a TLP name maps by that name; one of
// definition_type "tlp" without a known name is unknown; any other carried
// definition (a statement such as a copyright) is known and TLP-neutral
// (isTLP false). Anything else is an error wrapping ErrUnknownMarking.
func (d Definitions) Resolve(id string) (l Level, isTLP bool, err error) {
	canon, isCanon := FromMarkingID(id)
	def, carried := d[id]
	switch {
	case isCanon:
		if !carried {
			return canon, true, nil
		}
		if named, ok := FromName(def.TLP); ok {
			return max(canon, named), true, nil
		}
		return canon, true, nil
	case !carried:
		return 0, false, fmt.Errorf("%w %s: it is neither a TLP marking nor a marking-definition in the bundle: "+
			"use a TLP 2.0 marking id or include the marking-definition", ErrUnknownMarking, id)
	case def.TLP != "":
		if l, ok := FromName(def.TLP); ok {
			return l, true, nil
		}
		return 0, false, fmt.Errorf("%w %s: its TLP %q is not one of %s", ErrUnknownMarking, id, def.TLP, Accepted)
	case def.DefinitionType == "tlp":
		return 0, false, fmt.Errorf("%w %s: a tlp marking-definition without a TLP name: use a TLP 2.0 marking id", ErrUnknownMarking, id)
	}
	return 0, false, nil
}

// Effective is the most restrictive of the alert's own level and of the TLP
// markings among refs (object-level and granular marking refs). TLP-neutral
// markings leave it unchanged. An invalid alert level is an error wrapping
// ErrUnknownTLP, an unknown marking one wrapping ErrUnknownMarking.
func (d Definitions) Effective(alert Level, refs ...string) (Level, error) {
	if !alert.Valid() {
		return 0, fmt.Errorf("%w: the alert has no TLP: set one of %s", ErrUnknownTLP, Accepted)
	}
	most := alert
	for _, ref := range refs {
		l, isTLP, err := d.Resolve(ref)
		if err != nil {
			return 0, err
		}
		if isTLP {
			most = max(most, l)
		}
	}
	return most, nil
}

// Effective is Definitions.Effective for a bundle that carries no
// marking-definitions: every ref must be a canonical TLP id.
func Effective(alert Level, refs ...string) (Level, error) {
	return Definitions(nil).Effective(alert, refs...)
}
