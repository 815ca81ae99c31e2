// Package records is the contract between Tocsin's services and the
// members' side: the names of the KV buckets, the keys and shapes of the
// records the router writes and others read (outcomes, reach), the
// headers of a routed copy, lane names, the pages of the public member
// directory and which ingest subject token carries which kind. The
// subjects themselves are in package subjects. It
// links no server code and no service: the agent, mutual aid, the console
// and TAXII read the router's records through it, not through the router.
package records

import (
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// KV bucket names.
const (
	// BucketMembers holds the member registry: key = member id, value = a
	// tocsinv1.Member. History 16 keeps the trail of key rotations.
	BucketMembers = "MEMBERS"
	// BucketRouted is the router's own record of every ingested message id
	// (key = "<sender>.<id>", value = a tocsinv1.Outcome). It makes routing
	// idempotent beyond the JetStream duplicate window and answers the
	// publisher's --wait. Kept 90 days: longer than INGEST keeps messages,
	// so no replay of INGEST can route a message twice. Under
	// RouterKeyPrefix it also holds the router's dedupe claims and
	// indicator index, written with the outcome in one atomic batch.
	BucketRouted = "ROUTED"
	// BucketDedupe held the dedupe claims before they moved to ROUTED
	// (RouterKeyPrefix); the router migrates what it finds there and
	// writes nothing to it.
	BucketDedupe = "DEDUPE"
	// BucketSightings keeps per-pattern-set, per-sector sets of
	// organisations that re-published or sighted an indicator (the
	// indicator index, "i.<indicator>", moved to ROUTED: the router
	// migrates it and still reads it when ROUTED has none).
	BucketSightings = "SIGHTINGS"
	// BucketReach keeps receipts: key = "<sender>.<message id>.<sector>" (ReachSetKey), a set per state.
	BucketReach = "REACH"
	// BucketAid keeps mutual-aid requests, offers and responder capacity,
	// updated with compare-and-set on revisions.
	BucketAid = "AID"
	// BucketSituation keeps each facility's last status report.
	BucketSituation = "SITUATION"
	// BucketFlash counts each publisher's flash alerts per window
	// (key = "<sender>.<window start unix>"), for the flash cap. 2h TTL.
	BucketFlash = "FLASH"
	// BucketWebTokens keeps the web face's issued access tokens, hashed
	// (key "<member>.<token id>"); each token carries its own expiry.
	BucketWebTokens = "WEBTOKENS"
	// BucketTAXIIStatus keeps what each TAXII POST submitted, for its
	// status resource (key "<member>.<envelope id>"). 7 days.
	BucketTAXIIStatus = "TAXIISTATUS"
	// BucketDeadLetter keeps a record of each message of INGEST that a
	// service could not decide after its retries (key "<consumer>.<INGEST
	// sequence>", internal/deadletter): the message itself stays in INGEST,
	// unacknowledged, and is tried again every 10 minutes; the record is
	// purged once it is decided. No TTL: an operator sees every one.
	BucketDeadLetter = "DEADLETTER"
)

// Stream is the name of the stream behind bucket ("KV_<bucket>").
func Stream(bucket string) string { return "KV_" + bucket }

// KeyPrefix is the subject prefix of bucket's keys ("$KV.<bucket>.").
func KeyPrefix(bucket string) string { return "$KV." + bucket + "." }

// Headers on routed copies, for readers that want to filter before they
// verify. They are hints: receivers verify the envelope itself.
const (
	// HeaderKind is the envelope's kind ("KIND_ALERT").
	HeaderKind = "Tocsin-Kind"
	// HeaderTLP is the copy's effective TLP ("TLP:AMBER").
	HeaderTLP = "Tocsin-Tlp"
	// HeaderLane is, on the mutual-aid service's copies, the urgency of the
	// request concerned ("flash"): an offer or a decision carries none.
	HeaderLane = "Tocsin-Lane"
	// HeaderExercise is "true" on the mutual-aid service's copies of the
	// steps of an exercise's request.
	HeaderExercise = "Tocsin-Exercise"
)

// LaneName spells a lane as on the command line ("flash").
func LaneName(l tocsinv1.Lane) string {
	return strings.ToLower(strings.TrimPrefix(l.String(), "LANE_"))
}

// ingestToken is the ingest subject token of each kind a member sends:
// the server's permissions bind the token to the sender, the router binds
// the kind to the token.
var ingestToken = map[tocsinv1.Kind]string{
	tocsinv1.Kind_KIND_ALERT:         subjects.KindAlert,
	tocsinv1.Kind_KIND_ADVISORY:      subjects.KindAdvisory,
	tocsinv1.Kind_KIND_RECEIPT:       subjects.KindReceipt,
	tocsinv1.Kind_KIND_SIGHTING:      subjects.KindSighting,
	tocsinv1.Kind_KIND_STATUS_REPORT: subjects.KindStatus,
	tocsinv1.Kind_KIND_AID_REQUEST:   subjects.KindAid,
	tocsinv1.Kind_KIND_AID_OFFER:     subjects.KindAid,
	tocsinv1.Kind_KIND_AID_DECISION:  subjects.KindAid,
	tocsinv1.Kind_KIND_CAPABILITY:    subjects.KindAid,
}

// IngestToken is the ingest subject token ("alert") on which a member
// sends an envelope of kind; false for a kind members do not send.
func IngestToken(kind tocsinv1.Kind) (string, bool) {
	t, ok := ingestToken[kind]
	return t, ok
}

// TokenCarries reports whether the ingest subject token carries envelopes
// of kind.
func TokenCarries(token string, kind tocsinv1.Kind) bool {
	t, ok := ingestToken[kind]
	return ok && t == token
}
