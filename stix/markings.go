package stix

import (
	"errors"
	"strconv"

	"github.com/tocsin-project/tocsin/tlp"
)

// markingDefinition extracts what TLP needs from a marking-definition: its
// definition_type and the TLP name it carries, from definition.tlp (TLP 1.0)
// or from the tlp_2_0 property of the TLP 2.0 extension.
func markingDefinition(obj map[string]any) tlp.Definition {
	var d tlp.Definition
	d.DefinitionType, _ = obj["definition_type"].(string)
	if def, ok := obj["definition"].(map[string]any); ok && d.DefinitionType == "tlp" {
		d.TLP, _ = def["tlp"].(string)
	}
	if exts, ok := obj["extensions"].(map[string]any); ok {
		if ext, ok := exts[tlp.ExtensionTLP2].(map[string]any); ok {
			if name, ok := ext["tlp_2_0"].(string); ok {
				d.TLP = name
			} else if d.TLP == "" {
				d.DefinitionType = "tlp" // the TLP extension without a level: unknown
			}
		}
	}
	return d
}

// checkMarkings resolves every object and granular marking of the bundle:
// unknown markings are problems, and the TLP markings set Result.TLP.
func checkMarkings(r *Result, defs tlp.Definitions) {
	for _, o := range r.Objects {
		base := "/objects/" + strconv.Itoa(o.Index)
		for i, ref := range o.ObjectMarkingRefs {
			resolveMarking(r, defs, o.ID, base+"/object_marking_refs/"+strconv.Itoa(i), ref)
		}
		for i, g := range o.GranularMarkings {
			resolveMarking(r, defs, o.ID, base+"/granular_markings/"+strconv.Itoa(i)+"/marking_ref", g.MarkingRef)
		}
	}
}

func resolveMarking(r *Result, defs tlp.Definitions, id, path, ref string) {
	if idType(ref) != "marking-definition" {
		return // a bad-reference or schema problem, reported with the object
	}
	l, isTLP, err := defs.Resolve(ref)
	switch {
	case errors.Is(err, tlp.ErrUnknownMarking):
		r.add(CodeUnknownMarking, id, path, err.Error())
	case isTLP:
		r.TLP = max(r.TLP, l)
		r.TLPMarked = true
	}
}
