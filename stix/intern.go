package stix

import "github.com/tocsin-project/tocsin/tlp"

// The strings most STIX objects repeat: property names, types, vocabulary
// values, the TLP marking ids. The decoder hands out these strings, boxed
// once, instead of allocating a copy of each (about a third of the
// allocations of decoding an alert's bundle, which the router and every
// agent do for every alert). The values are the same either way.
var interned = internTable()

// internMaxLen bounds the strings looked up: longer ones (descriptions,
// patterns, most ids) are never interned.
const internMaxLen = 64

func internTable() map[string]any {
	common := []string{
		// Properties.
		"type", "spec_version", "id", "created", "modified", "created_by_ref", "revoked", "labels", "confidence",
		"lang", "external_references", "object_marking_refs", "granular_markings", "extensions", "name",
		"description", "pattern", "pattern_type", "pattern_version", "valid_from", "valid_until",
		"indicator_types", "kill_chain_phases", "kill_chain_name", "phase_name", "is_family", "malware_types",
		"aliases", "first_seen", "last_seen", "relationship_type", "source_ref", "target_ref", "sighting_of_ref",
		"count", "where_sighted_refs", "observed_data_refs", "identity_class", "sectors", "contact_information",
		"objects", "object_refs", "published", "report_types", "source_name", "url", "external_id", "hashes",
		"definition_type", "definition", "tlp", "statement", "marking_ref", "selectors", "value", "content",
		"authors", "abstract", "opinion", "explanation", "context", "tool_types", "threat_actor_types", "roles",
		"goals", "resource_level", "primary_motivation", "secondary_motivations", "infrastructure_types",
		"first_observed", "last_observed", "number_observed", "start_time", "stop_time", "x_mitre_version",
		"architecture_execution_envs", "implementation_languages", "capabilities", "sample_refs", "operating_system_refs",
		// Types.
		"bundle", "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
		"infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
		"opinion", "report", "threat-actor", "tool", "vulnerability", "relationship", "sighting",
		"marking-definition", "language-content", "extension-definition", "file", "ipv4-addr", "ipv6-addr",
		"domain-name", "url", "email-addr", "network-traffic", "process", "software",
		// Values.
		"2.1", "stix", "malicious-activity", "anomalous-activity", "attribution", "benign", "compromised", "unknown",
		"ransomware", "trojan", "remote-access-trojan", "backdoor", "dropper", "exploit-kit", "mitre-attack",
		"lockheed-martin-cyber-kill-chain", "indicates", "uses", "targets", "attributed-to", "related-to",
		"variant-of", "delivers", "communicates-with", "organization", "individual", "healthcare", "hospital",
		"command-and-control", "exfiltration", "initial-access", "execution", "persistence", "lateral-movement",
		"impact", "reconnaissance", "privilege-escalation", "defense-evasion", "credential-access", "discovery",
		"collection", "capec", "cve", "mitre-mobile-attack", "threat-report",
		tlp.MarkingClear, tlp.MarkingGreen, tlp.MarkingAmber, tlp.MarkingAmberStrict, tlp.MarkingRed,
		tlp.MarkingV1White, tlp.MarkingV1Green, tlp.MarkingV1Amber, tlp.MarkingV1Red,
	}
	m := make(map[string]any, len(common))
	for _, s := range common {
		m[s] = s // boxed once; a key comes back out with v.(string), which does not allocate
	}
	return m
}

// stringValue reads a string literal as a JSON value; p.i is at its
// opening quote. A common string comes boxed already.
func (p *parser) stringValue() (any, error) {
	start := p.i + 1
	for end := start; end < len(p.data) && end-start <= internMaxLen; end++ {
		c := p.data[end]
		if c == '\\' || c < 0x20 {
			break
		}
		if c == '"' {
			p.i = end + 1
			if v, ok := interned[string(p.data[start:end])]; ok {
				return v, nil
			}
			return string(p.data[start:end]), nil
		}
	}
	return p.string()
}
