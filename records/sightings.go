package records

// SightingFloor is the smallest count of organisations a sighting summary
// discloses. The router applies it: below it a summary's organisations is
// 0 ("fewer than 3"), it names no one, and only the first organisation
// counted causes one, so no member, by reading the summaries or counting
// them, learns that exactly one or two organisations saw an indicator (one
// hospital could be named by that). From the floor up each new count is
// sent, with the organisations that agreed to be named.
const SightingFloor = 3

// SightingOrganisations is what a member may be told of a summary's count:
// the count when it is SightingFloor or more, else 0 (fewer than
// SightingFloor; a summary below the floor already carries 0).
func SightingOrganisations(organisations uint32) int {
	if organisations < SightingFloor {
		return 0
	}
	return int(organisations)
}
