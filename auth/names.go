package auth

import (
	"fmt"
	"regexp"

	"github.com/tocsin-project/tocsin/subjects"
)

// Names the subjects package does not spell (yet). They must match what
// broker.KVConfigs creates; a test in this package checks that they do.
const (
	// kvMembersStream is the stream behind the MEMBERS bucket.
	kvMembersStream = "KV_MEMBERS"
	// kvMembersPrefix is the subject prefix of MEMBERS keys.
	kvMembersPrefix = "$KV.MEMBERS."
	// kvRoutedStream is the stream behind the ROUTED bucket.
	kvRoutedStream = "KV_ROUTED"
	// kvRoutedPrefix is the subject prefix of ROUTED keys ("<sender>.<id>").
	kvRoutedPrefix = "$KV.ROUTED."
	// kvReachStream is the stream behind the REACH bucket.
	kvReachStream = "KV_REACH"
	// kvWebTokensStream is the stream behind the WEBTOKENS bucket (the web
	// face's issued access tokens, hashed).
	kvWebTokensStream = "KV_WEBTOKENS"
	// kvWebTokensPrefix is the subject prefix of WEBTOKENS keys.
	kvWebTokensPrefix = "$KV.WEBTOKENS."
	// StatusSubject is the cluster status request subject.
	StatusSubject = subjects.Prefix + ".svc.status"
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

// SectorConsumer names the durable pull consumer through which member reads
// sector on stream SECTORS: "<member>-<sector>".
func SectorConsumer(member, sector string) string { return member + "-" + sector }

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
