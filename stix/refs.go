package stix

import (
	"fmt"
	"strconv"
	"strings"
)

// The types a reference may point at, by the id's type part, as the STIX
// 2.1 specification restricts them. The schemas check only some of these.

// Classes of types a reference rule may name besides type names.
const (
	classSDO    = "SDO"
	classSCO    = "SCO"
	classSRO    = "SRO"
	classCustom = "custom"
	classAny    = "any"
)

var sdoTypes = setOf("attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
	"indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
	"observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability")

var scoTypes = setOf("artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message",
	"file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
	"user-account", "windows-registry-key", "x509-certificate")

var sroTypes = setOf("relationship", "sighting")

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// refRules maps "type.property" (or ".property" for every type) to what the
// property may reference.
var refRules = map[string][]string{
	".created_by_ref":      {"identity"},
	".object_marking_refs": {"marking-definition"},

	"relationship.source_ref":                  {classSDO, classSCO, classCustom},
	"relationship.target_ref":                  {classSDO, classSCO, classCustom},
	"sighting.sighting_of_ref":                 {classSDO, classCustom},
	"sighting.observed_data_refs":              {"observed-data"},
	"sighting.where_sighted_refs":              {"identity", "location"},
	"report.object_refs":                       {classAny},
	"note.object_refs":                         {classAny},
	"opinion.object_refs":                      {classAny},
	"grouping.object_refs":                     {classAny},
	"observed-data.object_refs":                {classSCO, classSRO, classCustom},
	"malware.sample_refs":                      {"file", "artifact"},
	"malware.operating_system_refs":            {"software"},
	"malware-analysis.host_vm_ref":             {"software"},
	"malware-analysis.operating_system_ref":    {"software"},
	"malware-analysis.installed_software_refs": {"software"},
	"malware-analysis.analysis_sco_refs":       {classSCO, classCustom},
	"malware-analysis.sample_ref":              {"file", "artifact", "network-traffic"},
	"language-content.object_ref":              {classSDO, classSRO, classSCO, classCustom, "marking-definition", "extension-definition"},

	"directory.contains_refs":               {"file", "directory"},
	"domain-name.resolves_to_refs":          {"ipv4-addr", "ipv6-addr", "domain-name"},
	"email-addr.belongs_to_ref":             {"user-account"},
	"email-message.from_ref":                {"email-addr"},
	"email-message.sender_ref":              {"email-addr"},
	"email-message.to_refs":                 {"email-addr"},
	"email-message.cc_refs":                 {"email-addr"},
	"email-message.bcc_refs":                {"email-addr"},
	"email-message.raw_email_ref":           {"artifact"},
	"file.parent_directory_ref":             {"directory"},
	"file.contains_refs":                    {classSCO, classCustom},
	"file.content_ref":                      {"artifact"},
	"ipv4-addr.resolves_to_refs":            {"mac-addr"},
	"ipv4-addr.belongs_to_refs":             {"autonomous-system"},
	"ipv6-addr.resolves_to_refs":            {"mac-addr"},
	"ipv6-addr.belongs_to_refs":             {"autonomous-system"},
	"network-traffic.src_ref":               {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"},
	"network-traffic.dst_ref":               {"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"},
	"network-traffic.src_payload_ref":       {"artifact"},
	"network-traffic.dst_payload_ref":       {"artifact"},
	"network-traffic.encapsulates_refs":     {"network-traffic"},
	"network-traffic.encapsulated_by_ref":   {"network-traffic"},
	"process.opened_connection_refs":        {"network-traffic"},
	"process.creator_user_ref":              {"user-account"},
	"process.image_ref":                     {"file"},
	"process.parent_ref":                    {"process"},
	"process.child_refs":                    {"process"},
	"windows-registry-key.creator_user_ref": {"user-account"},
}

// allows reports whether a reference to an object of type target is one of
// allowed.
func allows(allowed []string, target string) bool {
	for _, a := range allowed {
		switch {
		case a == target,
			a == classAny && target != "bundle",
			a == classSDO && sdoTypes[target],
			a == classSCO && scoTypes[target],
			a == classSRO && sroTypes[target],
			a == classCustom && strings.HasPrefix(target, "x-"):
			return true
		}
	}
	return false
}

// checkOwnID reports an id whose type part is not exactly the object's type
// (the schemas only check that it starts with the type: "indicator--x--<uuid>"
// passes them).
func checkOwnID(r *Result, base string, o Object) {
	if t := idType(o.ID); t != "" && t != o.Type {
		r.add(CodeBadReference, o.ID, base+"/id", fmt.Sprintf("the id names the type %q but the object is %s %s: use an id \"%s--<uuid>\"",
			t, article(o.Type), o.Type, o.Type))
	}
}

// checkReferences reports the references of obj that point at a type the
// property does not allow ("bad-reference"). It runs on every object of
// every alert: the rule lookups build no strings, and a path is written
// only for a problem.
func checkReferences(r *Result, base, typ, id string, obj map[string]any) {
	var buf [96]byte
	for prop, val := range obj {
		key := append(append(append(buf[:0], typ...), '.'), prop...)
		allowed, ok := refRules[string(key)] // no allocation: Go looks maps up by the bytes
		if !ok {
			allowed, ok = refRules[string(key[len(typ):])]
		}
		if !ok {
			continue
		}
		switch val := val.(type) {
		case string:
			if !refAllowed(val, allowed) {
				badReference(r, base+"/"+prop, id, prop, val, allowed)
			}
		case []any:
			for i, item := range val {
				if s, ok := item.(string); ok && !refAllowed(s, allowed) {
					badReference(r, base+"/"+prop+"/"+strconv.Itoa(i), id, prop, s, allowed)
				}
			}
		}
	}
}

// refAllowed reports whether ref names a type that allowed admits.
func refAllowed(ref string, allowed []string) bool {
	target := idType(ref)
	return target != "" && allows(allowed, target)
}

// badReference reports ref, which refAllowed refused, as a bad reference.
func badReference(r *Result, path, id, prop, ref string, allowed []string) {
	target := idType(ref)
	what := "is not a STIX identifier"
	if target != "" {
		what = "points at " + article(target) + " " + target
	}
	r.add(CodeBadReference, id, path, fmt.Sprintf("%s %q %s: it must reference %s", prop, ref, what, describe(allowed)))
}

func describe(allowed []string) string {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		switch a {
		case classAny:
			names[i] = "any STIX object"
		case classCustom:
			names[i] = "a custom (x-) object"
		case classSDO, classSCO, classSRO:
			names[i] = "an " + a // spelt out, each starts with a vowel sound
		default:
			names[i] = article(a) + " " + a
		}
	}
	return strings.Join(names, " or ")
}

// article picks "a" or "an" for a type name ("a url", "an identity").
func article(word string) string {
	if word != "" && strings.ContainsRune("aeio", rune(word[0])) {
		return "an"
	}
	return "a"
}
