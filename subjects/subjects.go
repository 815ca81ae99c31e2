// Package subjects names every NATS subject, stream and durable consumer
// Tocsin uses. The server's permissions are derived from these names, so
// they are the one place the layout of the cluster is spelled.
//
//	tocsin.ingest.<kind>.<sender>   what members publish; the router reads it
//	tocsin.sector.<sector>.<lane>   routed alerts and advisories of a sector
//	tocsin.inbox.<member>           a member's direct inbox (RED, AMBER+STRICT, aid, summaries)
//	tocsin.rejection.<member>       why a member's message was refused
//	tocsin.aid.req.<request>.<action>.<id>  the append-only mutual-aid audit trail
//	tocsin.aid.cap.<responder>.<id>         capability registrations (audit)
//	tocsin.ops.<alarm>.<member>     operator alarms (flash cap exceeded)
//	tocsin.svc.aid.<member>.<op>    a member's mutual-aid read requests
//	tocsin.svc.situation.<member>   a member's regional-board requests
package subjects

import "strings"

// Prefix starts every Tocsin subject.
const Prefix = "tocsin"

// Ingest kinds: the third token of an ingest subject.
const (
	KindAlert    = "alert"
	KindAdvisory = "advisory"
	KindReceipt  = "receipt"
	KindSighting = "sighting"
	KindAid      = "aid"
	KindStatus   = "status"
)

// Stream names.
const (
	StreamIngest     = "INGEST"
	StreamSectors    = "SECTORS"
	StreamInbox      = "INBOX"
	StreamRejections = "REJECTIONS"
	StreamAidAudit   = "AID_AUDIT"
	StreamOps        = "OPS"
)

// Ingest is the subject a member publishes a message of kind on.
func Ingest(kind, sender string) string { return Prefix + ".ingest." + kind + "." + sender }

// IngestAll matches every ingest subject.
const IngestAll = Prefix + ".ingest.>"

// IngestSender returns the sender token of an ingest subject and its kind.
func IngestSender(subject string) (kind, sender string, ok bool) {
	t := strings.Split(subject, ".")
	if len(t) != 4 || t[0] != Prefix || t[1] != "ingest" || t[2] == "" || t[3] == "" {
		return "", "", false
	}
	return t[2], t[3], true
}

// Sector is the subject of routed messages for a sector and lane.
func Sector(sector, lane string) string { return Prefix + ".sector." + sector + "." + lane }

// SectorAll matches every lane of a sector.
func SectorAll(sector string) string { return Prefix + ".sector." + sector + ".>" }

// SectorsAll matches every routed sector subject.
const SectorsAll = Prefix + ".sector.>"

// Inbox is a member's direct inbox.
func Inbox(member string) string { return Prefix + ".inbox." + member }

// InboxAll matches every direct inbox.
const InboxAll = Prefix + ".inbox.>"

// Rejection is where a member's refused messages are explained.
func Rejection(member string) string { return Prefix + ".rejection." + member }

// RejectionAll matches every rejection subject.
const RejectionAll = Prefix + ".rejection.>"

// AidAuditAll matches the mutual-aid audit trail.
const AidAuditAll = Prefix + ".aid.>"

// OpsAll matches operator alarms.
const OpsAll = Prefix + ".ops.>"

// RoutedMsgID is the Nats-Msg-Id of a routed copy: JetStream deduplicates
// per stream, so each destination gets its own id.
func RoutedMsgID(id, destination string) string { return id + ":" + destination }

// Service request subjects: a member asks, the services on every node
// answer; the member token is pinned by the member's permissions.
const (
	// SvcAidPrefix starts a member's mutual-aid read requests.
	SvcAidPrefix = Prefix + ".svc.aid."
	// SvcSituationPrefix starts a member's regional-board requests.
	SvcSituationPrefix = Prefix + ".svc.situation."
)

// SvcAid matches member's mutual-aid read requests (any operation).
func SvcAid(member string) string { return SvcAidPrefix + member + ".*" }

// SvcSituation is member's regional-board request subject.
func SvcSituation(member string) string { return SvcSituationPrefix + member }

// SvcStatus is the cluster status request subject: every node answers
// with its Status (admins and operators).
const SvcStatus = Prefix + ".svc.status"

// SvcDirectory is where any member asks for the public member directory.
const SvcDirectory = Prefix + ".svc.directory"

// SvcConsumerPrefix starts a member's request to re-create one of its own
// consumers from its ack floor (the node that held it is gone).
const SvcConsumerPrefix = Prefix + ".svc.consumer."

// SvcConsumer is member's consumer re-creation request subject.
func SvcConsumer(member string) string { return SvcConsumerPrefix + member }

// SvcContactsPrefix starts a liaison's request for members' 24/7 contacts
// (the registry's, never in the public directory).
const SvcContactsPrefix = Prefix + ".svc.contacts."

// SvcContacts is member's contacts request subject (liaisons only).
func SvcContacts(member string) string { return SvcContactsPrefix + member }

// SvcReachPrefix starts a sender's request for the receipts of one of its
// own messages (the router answers, for the message's sender only).
const SvcReachPrefix = Prefix + ".svc.reach."

// SvcReach is member's reach request subject.
func SvcReach(member string) string { return SvcReachPrefix + member }

// SvcSite is answered by a member's site (`tocsin site`) only, never at the
// hub: the site's link to the hub (up or down, since when), its sources'
// lag and its outbox's backlog, as JSON (site.Status).
const SvcSite = Prefix + ".svc.site"
