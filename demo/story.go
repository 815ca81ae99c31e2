package demo

// The story's constants: who, and the indicator the hospitals see.
const (
	stMary    = "st-mary"
	lakeside  = "lakeside-childrens"
	riverside = "riverside"
	valley    = "valley-general"
	hilltop   = "hilltop"
	liaison   = "hhs-liaison"
	irFirm    = "ir-firm"
	staffing  = "downtime-staffing"
	// former is the member that left the network and was revoked.
	former = "northshore-clinic"
	// c2 is the indicator of the C2 address 198.51.100.23 in
	// examples/st-mary-ransomware.json.
	c2 = "indicator--7d1b64d9-294c-54e2-9baa-ab83f406625e"
)

// story is every step of ../shared/SCENARIO.md, with the faults on
// purpose, in order.
func story() []step {
	return []step{
		{"before", "North Shore Clinic left the network last month: the admin admitted it once and revoked it", formerMember},
		{"before", "Every member organisation's SOC runs its agent: a JSONL feed for its SIEM, a STIX folder, a webhook", startAgents},
		{"01:50", "Valley General's agent goes offline: its server is rebooted for patching", agentOffline},
		{"02:14", "St. Mary's SOC publishes a flash alert, TLP:AMBER, to patient-care and health-it", publishAlert},
		{"02:14", "Every patient-care and health-it agent writes it to its sinks and sends a delivered receipt", alertDelivered},
		{"02:15", "Lakeside Children's publishes the same indicators a minute later", duplicateAlert},
		{"02:16", "A misconfigured script at Riverside sends a STIX 2.0 export", malformedBundle},
		{"02:20", "The HHS liaison broadcasts a signed advisory to all sectors, lane urgent", advisory},
		{"02:22", "Analysts acknowledge the advisory; the liaison's reach view fills", acknowledge},
		{"02:25", "Node tocsin-3 of the cluster goes down", nodeDown},
		{"02:30", "St. Mary's asks for help: incident response x2, EHR downtime support x1", aidRequest},
		{"02:33", "The two responders whose capabilities match offer", aidOffers},
		{"02:40", "St. Mary's accepts both offers", aidAccept},
		{"02:45", "St. Mary's tells its region it is diverting ambulances", statusReport},
		{"02:50", "Valley General's agent comes back and catches up", agentBack},
		{"02:55", "St. Mary's sends its two responders a TLP:RED note", redNote},
		{"03:00", "Three other hospitals report sightings of the C2 address", sightings},
		{"03:05", "North Shore Clinic's old script publishes with its revoked credentials", revokedRefused},
		{"days on", "The responders demobilise; St. Mary's closes the request", aidClose},
		{"days on", "The liaison's follow-up: who never acknowledged the advisory", followUp},
		{"after", "Nothing lost: every agent's JSONL feed against what the cluster routed to it", nothingLost},
	}
}
