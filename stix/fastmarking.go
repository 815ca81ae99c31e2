package stix

import (
	"strings"

	"github.com/tocsin-project/tocsin/tlp"
)

// The fast model of common/marking-definition.json. Unlike the other
// schemas it does not include core.json or properties.json: its own
// properties apply, then exactly one of two branches must hold, the general
// one (a statement or another definition_type) or the TLP 1.0 one.

var markingProps = map[string]check{
	"type":                oneOf("marking-definition"),
	"spec_version":        oneOf("2.0", "2.1"),
	"name":                isString,
	"created_by_ref":      identifier(),
	"created":             timestamp,
	"external_references": array(externalReference),
	"object_marking_refs": array(identifier("marking-definition--")),
	"granular_markings":   array(granularMarking),
	"extensions":          extensions(false),
}

// decideMarking decides a marking-definition (no properties.json here).
func decideMarking(obj map[string]any) verdict {
	v := pass
	for k, c := range markingProps {
		if val, ok := obj[k]; ok {
			if v = max(v, c(val)); v == fail {
				return fail
			}
		}
	}
	return max(v, markingBranches(obj))
}

func markingBranches(obj map[string]any) verdict {
	return when(markingGeneral(obj) != markingTLPv1(obj))
}

// markingGeneral is the first branch of marking-definition.json's oneOf.
func markingGeneral(obj map[string]any) bool {
	for _, k := range [...]string{"id", "type", "spec_version", "created"} {
		if _, ok := obj[k]; !ok {
			return false
		}
	}
	if identifier("marking-definition--")(obj["id"]) != pass {
		return false
	}
	dtype, hasType := obj["definition_type"]
	def, hasDef := obj["definition"]
	if _, ext := obj["extensions"]; !ext && (!hasType || !hasDef) {
		return false
	}
	dt, dtOK := dtype.(string)
	defObj, defOK := def.(map[string]any)
	_, statementOK := defObj["statement"].(string)
	statement := hasType && dtOK && dt == "statement" && hasDef && defOK && statementOK
	// ^(statement)|(tlp)$ is an alternation of two halves anchored at one end each.
	other := (!hasType || dtOK && !strings.HasPrefix(dt, "statement") && !strings.HasSuffix(dt, "tlp")) &&
		(!hasDef || defOK)
	return statement != other
}

// tlpV1 are the four definitions of the TLP 1.0 branch, by id.
var tlpV1 = map[string][2]string{
	tlp.MarkingV1White: {"TLP:WHITE", "white"},
	tlp.MarkingV1Green: {"TLP:GREEN", "green"},
	tlp.MarkingV1Amber: {"TLP:AMBER", "amber"},
	tlp.MarkingV1Red:   {"TLP:RED", "red"},
}

// markingTLPv1 is the second branch: exactly one of the four TLP 1.0
// marking-definitions, with no other property.
func markingTLPv1(obj map[string]any) bool {
	if len(obj) != 7 {
		return false
	}
	id, _ := obj["id"].(string)
	want, ok := tlpV1[id]
	if !ok || obj["type"] != "marking-definition" || obj["spec_version"] != "2.1" ||
		obj["created"] != "2017-01-20T00:00:00.000Z" || obj["name"] != want[0] || obj["definition_type"] != "tlp" {
		return false
	}
	def, ok := obj["definition"].(map[string]any)
	if !ok {
		return false
	}
	name, has := def["tlp"]
	return !has || name == want[1]
}
