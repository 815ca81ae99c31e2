package auth

import (
	"fmt"
	"regexp"

	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// The buckets members and admins reach, by the names package records
// gives them.
const (
	kvMembersStream   = "KV_" + records.BucketMembers
	kvMembersPrefix   = "$KV." + records.BucketMembers + "."
	kvRoutedStream    = "KV_" + records.BucketRouted
	kvRoutedPrefix    = "$KV." + records.BucketRouted + "."
	kvReachStream     = "KV_" + records.BucketReach
	kvWebTokensStream = "KV_" + records.BucketWebTokens
	kvWebTokensPrefix = "$KV." + records.BucketWebTokens + "."
)

// JetStream API subjects the permissions name.
const (
	jsAPI        = "$JS.API."
	jsConsInfo   = jsAPI + "CONSUMER.INFO."
	jsConsNext   = jsAPI + "CONSUMER.MSG.NEXT."
	jsDirectGet  = jsAPI + "DIRECT.GET."
	jsStreamInfo = jsAPI + "STREAM.INFO."
	jsMsgGet     = jsAPI + "STREAM.MSG.GET."
	jsAck        = "$JS.ACK."
)

// idRE is what a member id or sector name must look like: a single
// subject token that no wildcard, separator or inbox prefix can hide in.
var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// checkToken reports whether s may be used as a member id or sector.
func checkToken(what, s string) error {
	if !idRE.MatchString(s) {
		return fmt.Errorf("%w: %s %q: use 1-63 lowercase letters, digits and dashes, starting with a letter or digit", ErrInvalidMember, what, s)
	}
	return nil
}

// InboxPrefix is the reply-inbox prefix a member's connections must use
// (nats.CustomInboxPrefix(InboxPrefix(id)), or --inbox-prefix with the nats
// CLI): "_INBOX_<member>". The member may subscribe below it and nowhere
// else, so no member can read another's replies.
func InboxPrefix(member string) string { return "_INBOX_" + member }

// SectorsConsumer names the durable pull consumer through which member
// reads all its sectors on stream SECTORS: "<member>-sectors".
func SectorsConsumer(member string) string { return member + "-sectors" }

// SectorConsumer names the consumer through which member reads sector:
// since one consumer reads all of a member's sectors, SectorsConsumer,
// whatever the sector (the per-sector name of earlier versions is
// LegacySectorConsumer).
func SectorConsumer(member, _ string) string { return SectorsConsumer(member) }

// InboxConsumer names the durable pull consumer through which member reads
// its direct inbox on stream INBOX: "<member>-inbox".
func InboxConsumer(member string) string { return member + "-inbox" }

// RejectionsConsumer names the durable pull consumer through which member
// reads its rejections on stream REJECTIONS: "<member>-rejections".
func RejectionsConsumer(member string) string { return member + "-rejections" }

// RoutedGetSubject is the direct-get request subject with which member reads
// the router's outcome for one of its own messages (key "<member>.<id>" of
// the ROUTED bucket). A member may not bind the bucket (stream info would
// list every sender's keys), so it sends this request with an empty body.
func RoutedGetSubject(member, msgID string) string {
	return jsDirectGet + kvRoutedStream + "." + kvRoutedPrefix + member + "." + msgID
}

// routedGetIn is the direct-get request subject of key in region's ROUTED
// bucket, ROUTED-<region> (docs/REGIONS.md).
func routedGetIn(region, key string) string {
	bucket := subjects.RegionStream(records.BucketRouted, region)
	return jsDirectGet + "KV_" + bucket + ".$KV." + bucket + "." + key
}

// The JetStream subjects a site's durable sourcing uses.
const (
	jsConsReset = jsAPI + "CONSUMER.RESET."
	jsFC        = "$JS.FC."
	jsReply     = "$JSC.R."
)
