package stix

import (
	"fmt"
	"sort"
	"strings"
)

// customType applies the policy to an object whose type has no official
// schema, and returns whether to go on checking it.
func (v *Validator) customType(r *Result, base string, o Object) bool {
	if v.opts.Custom == CustomReject {
		r.add(CodeCustomContent, o.ID, base+"/type", fmt.Sprintf("%q is not a STIX 2.1 object type and this node refuses custom objects: "+
			"send only STIX 2.1 types, or ask the operator to allow custom content", o.Type))
		return false
	}
	if !isCustomTypeName(o.Type) {
		r.add(CodeCustomContent, o.ID, base+"/type", fmt.Sprintf("%q is not a STIX 2.1 object type, nor a custom type name: "+
			"a custom type starts with \"x-\" and has 3 to 250 characters of a-z, 0-9 and single hyphens", o.Type))
		return false
	}
	return true
}

// isCustomTypeName is the specification's rule for custom object types,
// with the "x-" prefix.
func isCustomTypeName(t string) bool {
	return len(t) >= 3 && len(t) <= 250 && strings.HasPrefix(t, "x-") && isHyphenatedName(t)
}

// isCustomPropertyName is the specification's rule for custom property
// names: 3 to 250 characters of a-z, 0-9 and underscore.
func isCustomPropertyName(k string) bool {
	return len(k) >= 3 && len(k) <= 250 && allBytes(k, isNameChar)
}

// customProperties applies the policy to the top-level properties that the
// object's schema does not define (defined lists those that it does).
// namesChecked says that the schema applies properties.json, whose refusals
// of a name are already schema problems (marking-definition's does not).
func (v *Validator) customProperties(r *Result, base, id string, obj map[string]any, defined map[string]bool, namesChecked bool) {
	var custom []string
	for k := range obj {
		if _, ok := defined[k]; !ok && (!namesChecked || isPropertyName(k)) {
			custom = append(custom, k)
		}
	}
	sort.Strings(custom)
	for _, k := range custom {
		switch {
		case v.opts.Custom == CustomReject:
			r.add(CodeCustomContent, id, base+"/"+escapeToken(k), fmt.Sprintf("%q is not a property of this STIX 2.1 type and this node refuses custom properties: "+
				"remove it, or ask the operator to allow custom content", k))
		case !isCustomPropertyName(k):
			r.add(CodeCustomContent, id, base+"/"+escapeToken(k), fmt.Sprintf("%q is not a property of this STIX 2.1 type, nor a valid custom property name: "+
				"use 3 to 250 characters of a-z, 0-9 and underscore (for example %q)", k, sanitize(k)))
		}
	}
}

// sanitize suggests a valid custom property name close to k.
func sanitize(k string) string {
	var b strings.Builder
	for i := 0; i < len(k) && b.Len() < 64; i++ {
		c := k[i]
		switch {
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case isNameChar(c):
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() < 3 {
		return "x_" + b.String() + "_"
	}
	return b.String()
}
