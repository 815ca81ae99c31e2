package stix

// fastShapes models the schemas of the common object types. Types missing
// here (location, malware-analysis, language-content, extension-definition,
// the cyber-observables, custom types) always go to the schema.
func fastShapes() map[string]*shape {
	str, ts, kcps := isString, timestamp, array(killChainPhase)
	named := func(typ string, own map[string]check, required ...string) *shape {
		own["name"], own["description"] = str, str
		return sdo(typ, own, required...)
	}
	shapes := map[string]*shape{
		"attack-pattern":   named("attack-pattern", map[string]check{"aliases": stringArray, "kill_chain_phases": kcps}, "name"),
		"campaign":         named("campaign", map[string]check{"aliases": stringArray, "first_seen": ts, "last_seen": ts, "objective": str}, "name"),
		"course-of-action": named("course-of-action", map[string]check{}, "name"),
		"grouping":         named("grouping", map[string]check{"context": str, "object_refs": array(identifier())}, "context", "object_refs"),
		"identity": named("identity", map[string]check{
			"roles": stringArray, "identity_class": str, "sectors": stringArray, "contact_information": str,
		}, "name"),
		"incident": named("incident", map[string]check{}, "name"),
		"indicator": named("indicator", map[string]check{
			"indicator_types": stringArray, "pattern": str, "pattern_type": str, "pattern_version": str,
			"valid_from": ts, "valid_until": ts, "kill_chain_phases": kcps,
		}, "pattern", "pattern_type", "valid_from"),
		"infrastructure": named("infrastructure", map[string]check{
			"infrastructure_types": stringArray, "aliases": stringArray, "kill_chain_phases": kcps, "first_seen": ts, "last_seen": ts,
		}, "name"),
		"intrusion-set": named("intrusion-set", map[string]check{
			"aliases": stringArray, "first_seen": ts, "last_seen": ts, "goals": stringArray,
			"resource_level": str, "primary_motivation": str, "secondary_motivations": stringArray,
		}, "name"),
		"malware": named("malware", map[string]check{
			"aliases": stringArray, "first_seen": ts, "last_seen": ts, "operating_system_refs": array(identifier("software--")),
			"architecture_execution_envs": stringArray, "implementation_languages": stringArray, "capabilities": stringArray,
			"sample_refs": stringArray, "malware_types": stringArray, "kill_chain_phases": kcps,
		}, "is_family"),
		"note": sdo("note", map[string]check{
			"abstract": str, "content": str, "authors": stringArray, "object_refs": array(identifier()),
		}, "content", "object_refs"),
		"observed-data": sdo("observed-data", map[string]check{
			"first_observed": ts, "last_observed": ts, "number_observed": integer(1, 999999999),
			"objects": func(any) verdict { return unsure }, "object_refs": array(observedRef),
		}, "first_observed", "last_observed", "number_observed"),
		"opinion": sdo("opinion", map[string]check{
			"explanation": str, "authors": stringArray, "object_refs": array(identifier()),
			"opinion": oneOf("strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"),
		}, "object_refs", "opinion"),
		"report": named("report", map[string]check{
			"report_types": stringArray, "published": ts, "object_refs": array(identifier()),
		}, "name", "object_refs", "published"),
		"threat-actor": named("threat-actor", map[string]check{
			"threat_actor_types": stringArray, "aliases": stringArray, "roles": stringArray, "goals": stringArray,
			"first_seen": ts, "last_seen": ts, "sophistication": str, "resource_level": str, "primary_motivation": str,
			"secondary_motivations": stringArray, "personal_motivations": stringArray,
		}, "name"),
		"tool": named("tool", map[string]check{
			"aliases": stringArray, "tool_types": stringArray, "tool_version": str, "kill_chain_phases": kcps,
		}, "name"),
		"vulnerability": named("vulnerability", map[string]check{}, "name"),
		"relationship": sdo("relationship", map[string]check{
			"relationship_type": relationshipType, "description": str,
			"source_ref": relationshipEnd, "target_ref": relationshipEnd, "start_time": ts, "stop_time": ts,
		}, "relationship_type", "source_ref", "target_ref"),
		"sighting": sdo("sighting", map[string]check{
			"description": str, "first_seen": ts, "last_seen": ts, "count": integer(0, 999999999),
			"sighting_of_ref":    identifierNot("sighting--", "relationship--", "bundle--", "marking-definition--", "language-content--"),
			"observed_data_refs": array(identifier("observed-data--")),
			"where_sighted_refs": array(identifier("identity--", "location--")),
			"summary":            isBool,
		}, "sighting_of_ref"),
	}
	shapes["malware"].extra = malwareFamily
	shapes["observed-data"].extra = observedDataContent
	return shapes
}

// relationshipType is ^[a-z0-9\-]+$.
func relationshipType(v any) verdict {
	s, ok := v.(string)
	return when(ok && s != "" && allBytes(s, isLowerDigitHyphen))
}

// relationshipEnd is an identifier that does not match
// ^(relationship|sighting|bundle|marking-definition|language-content)--.+$
var relationshipEnd = identifierNot("relationship--", "sighting--", "bundle--", "marking-definition--", "language-content--")

// malwareFamily is malware.json's oneOf: is_family false, or true with a name.
func malwareFamily(obj map[string]any) verdict {
	family, ok := obj["is_family"].(bool)
	if !ok {
		return fail
	}
	_, named := obj["name"]
	return when(!family || named)
}

// observedDataContent is observed-data.json's oneOf: objects or object_refs,
// not both.
func observedDataContent(obj map[string]any) verdict {
	_, objects := obj["objects"]
	_, refs := obj["object_refs"]
	return when(objects != refs)
}

// sdoPrefixes is the "not" pattern of observed-data's object_refs: a prefix
// match on the SDO type names, without the "--".
var sdoPrefixes = []string{
	"attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
	"infrastructure", "intrusion-set", "location", "malware-analysis", "malware", "note", "observed-data",
	"opinion", "report", "threat-actor", "tool", "vulnerability",
}

// observedRefPrefixes is the second branch of observed-data's object_refs.
var observedRefPrefixes = []string{
	"autonomous-system--", "directory--", "domain-name--", "email-addr--", "email-message--", "file--",
	"ipv4-addr--", "ipv6-addr--", "mac-addr--", "mutex--", "network-traffic--", "process--", "software--",
	"url--", "user-account--", "windows-registry-key--", "x509-certificate--", "relationship--", "sighting--",
}

// observedRef is an item of observed-data's object_refs: a string that is
// either an identifier of no SDO type or starts with an SCO or SRO prefix
// (that branch does not ask for an identifier).
func observedRef(v any) verdict {
	s, ok := v.(string)
	return when(ok && (isIdentifier(s) && !hasPrefix(s, sdoPrefixes...) || hasPrefix(s, observedRefPrefixes...)))
}
