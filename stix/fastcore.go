package stix

// The fast model of common/core.json and of the definitions it refers to.

// coreProps are the properties of core.json, which every SDO and SRO schema
// includes.
func coreProps(typ string) map[string]check {
	return map[string]check{
		"type":                oneOf(typ),
		"spec_version":        oneOf("2.0", "2.1"),
		"id":                  identifier(typ + "--"),
		"created_by_ref":      identifier(),
		"labels":              stringArray,
		"created":             timestampMillis,
		"modified":            timestampMillis,
		"revoked":             isBool,
		"confidence":          integer(0, 100),
		"lang":                isString,
		"external_references": array(externalReference),
		"object_marking_refs": array(identifier()),
		"granular_markings":   array(granularMarking),
		"extensions":          extensions(true),
		"severity":            forbidden,
		"action":              forbidden,
		"username":            forbidden,
		"phone_numbers":       forbidden,
	}
}

// coreRequired are the properties core.json requires.
var coreRequired = []string{"type", "spec_version", "id", "created", "modified"}

// externalReference is common/external-reference.json: its oneOf has a
// branch for CVE, one for CAPEC and one for any other source.
func externalReference(v any) verdict {
	m, ok := v.(map[string]any)
	if !ok {
		return fail
	}
	if d, ok := m["description"]; ok && isString(d) == fail {
		return fail
	}
	if u, ok := m["url"]; ok && isString(u) == fail { // its format is only an annotation
		return fail
	}
	if _, ok := m["hashes"]; ok {
		return unsure
	}
	source, sourceOK := m["source_name"].(string)
	id, hasID := m["external_id"]
	idStr, idOK := id.(string)
	_, hasDescription := m["description"]
	_, hasURL := m["url"]
	cve := sourceOK && source == "cve" && idOK && isCVE(idStr)
	capec := sourceOK && source == "capec" && idOK && isCAPEC(idStr)
	other := sourceOK && source != "cve" && source != "capec" &&
		(!hasID || idOK && !isCVE(idStr) && !isCAPEC(idStr)) &&
		(hasID || hasDescription || hasURL)
	n := 0
	for _, b := range [...]bool{cve, capec, other} {
		if b {
			n++
		}
	}
	return when(n == 1)
}

// granularMarking is common/granular-marking.json.
func granularMarking(v any) verdict {
	m, ok := v.(map[string]any)
	if !ok {
		return fail
	}
	sel, ok := m["selectors"].([]any)
	if !ok || len(sel) == 0 {
		return fail
	}
	for _, x := range sel {
		if s, ok := x.(string); !ok || !isSelector(s) {
			return fail
		}
	}
	if l, ok := m["lang"]; ok && isString(l) == fail {
		return fail
	}
	ref, ok := m["marking_ref"]
	return when(ok && identifier("marking-definition--")(ref) == pass)
}

// extensions is the extensions property of core.json (withExt) or of
// marking-definition.json (only extension-definition keys).
func extensions(withExt bool) check {
	return func(v any) verdict {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return fail
		}
		r := pass
		for k, ext := range m {
			switch {
			case isExtensionDefinitionKey(k):
				r = max(r, extension(ext))
			case withExt && isExtensionKey(k):
				e, ok := ext.(map[string]any)
				if !ok || len(e) == 0 {
					return fail
				}
				r = max(r, properties(e))
			default:
				return fail
			}
			if r == fail {
				return fail
			}
		}
		return r
	}
}

// extension is common/extension.json.
var extensionType = oneOf("new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension")

func extension(v any) verdict {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return fail
	}
	t, ok := m["extension_type"]
	if !ok || extensionType(t) == fail {
		return fail
	}
	return properties(m)
}

// sdo builds the shape of an SDO or SRO schema: core.json plus the type's own
// properties and required properties.
func sdo(typ string, own map[string]check, required ...string) *shape {
	props := coreProps(typ)
	for k, c := range own {
		props[k] = c
	}
	return &shape{props: props, required: append(required, coreRequired...)}
}
