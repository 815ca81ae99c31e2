package auth

import (
	"fmt"
	"slices"

	"github.com/nats-io/jwt/v2"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// grant is one line of the permission table: the roles it is given to and
// the subjects it allows, computed for one member.
type grant struct {
	roles []tocsinv1.Role
	pub   func(m *tocsinv1.Member) []string
	sub   func(m *tocsinv1.Member) []string
}

var (
	everyRole = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER, tocsinv1.Role_ROLE_LIAISON, tocsinv1.Role_ROLE_VENDOR, tocsinv1.Role_ROLE_ADMIN}
	// readers are the roles of the healthcare organisations themselves:
	// they report, ask for aid and have sites.
	readers = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER, tocsinv1.Role_ROLE_LIAISON}
	// receivers are the readers and vendors: everyone who is routed its
	// sectors' copies and reads them through consumers of its own.
	receivers = []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER, tocsinv1.Role_ROLE_RESPONDER, tocsinv1.Role_ROLE_LIAISON, tocsinv1.Role_ROLE_VENDOR}
	liaison   = []tocsinv1.Role{tocsinv1.Role_ROLE_LIAISON}
	vendor    = []tocsinv1.Role{tocsinv1.Role_ROLE_VENDOR}
	advisers  = []tocsinv1.Role{tocsinv1.Role_ROLE_LIAISON, tocsinv1.Role_ROLE_VENDOR}
	admin     = []tocsinv1.Role{tocsinv1.Role_ROLE_ADMIN}
)

// permissionTable is what each role may do, one line per grant. Everything
// not granted is refused by the server (allow lists, no deny list). The
// service role is not in it: services are unrestricted in the account.
var permissionTable = []grant{
	// Every role: replies (JetStream API answers, pull batches, PubAcks)
	// come back to its own "_INBOX_<id>." prefix, and it may subscribe
	// nowhere else: not to "_INBOX.>" or any tocsin subject but its live
	// view. Each member has an account of its own (AccountJWTs), so another
	// member's replies are not even in its account; the prefix keeps the
	// stock nats CLI's "--inbox-prefix" habit and one rule for every role.
	{everyRole, nil, ownInbox},
	// member, responder, liaison, vendor: watch live (tocsin tail) what is
	// routed to its own sectors and to its own direct inbox, nothing else.
	{receivers, nil, liveView},
	// member, responder, liaison: publish as itself on
	// tocsin.ingest.{alert,receipt,sighting,aid,status}.<id>. The subject
	// names the sender, and the router checks the envelope's signer against
	// it. A responder's offers are aid messages too (the aid service checks
	// the responder role), so they need no line of their own.
	{readers, ingest(subjects.KindAlert, subjects.KindReceipt, subjects.KindSighting, subjects.KindAid, subjects.KindStatus), nil},
	// vendor: its agent's receipts of what it is routed, as itself. A
	// device maker publishes no alert, sighting, aid or status report: it
	// is not one of the hospitals the sector's board and mutual aid are
	// for.
	{vendor, ingest(subjects.KindReceipt), nil},
	// member, responder, liaison: ask the mutual-aid service and the
	// situation board, as itself (the service answers only what the
	// member may see).
	{readers, func(m *tocsinv1.Member) []string {
		return []string{subjects.SvcAid(m.GetId()), subjects.SvcSituation(m.GetId())}
	}, nil},
	// member, responder, liaison, vendor: fetch the public member
	// directory; ask for one of its own consumers to be re-created from its
	// ack floor (what its agent does).
	{receivers, func(m *tocsinv1.Member) []string {
		return []string{subjects.SvcDirectory, subjects.SvcConsumer(m.GetId())}
	}, nil},
	// member, responder, liaison, vendor: ask the router, as itself, for
	// the receipts of a message it sent (tocsin reach): the router answers
	// only for the asker's own routed messages (and a vendor none of the
	// members' affected answers).
	{receivers, func(m *tocsinv1.Member) []string { return []string{subjects.SvcReach(m.GetId())} }, nil},
	// member, responder, liaison, vendor: look up, pull from and ack its own
	// durable consumers: "<id>-sectors" on SECTORS (one for all its
	// sectors), its inbox on INBOX, its rejections on REJECTIONS (see
	// Consumers). Tocsin creates them
	// (EnsureConsumers); the member may not create or update any consumer,
	// since a consumer's config can send messages anywhere in the account
	// (deliver subject) or make it vanish (inactive threshold). Nothing else
	// of $JS.API: no stream info, purge, delete, restore, other names.
	{receivers, consumerAPI, nil},
	// member, responder, liaison, vendor: direct get of the router's
	// outcome of its own messages (ROUTED keys "<id>.<message id>"), by
	// subject only.
	{receivers, routedOutcomes, nil},
	// liaison: broadcast advisories as itself; vendor: its CSAF advisories
	// (the router refuses a vendor's advisory without a CSAF document or
	// under another publisher namespace than its registered one).
	{advisers, ingest(subjects.KindAdvisory), nil},
	// liaison: read the REACH bucket (receipts by message and member) by
	// direct get, including batch and multi-last gets: it may read all of it.
	{liaison, reachRead, nil},
	// liaison: ask, as itself, for the 24/7 contacts of the members who
	// have not acknowledged its advisory (the registry's; the public
	// directory has none). The agent service answers liaisons only.
	{liaison, func(m *tocsinv1.Member) []string { return []string{subjects.SvcContacts(m.GetId())} }, nil},
	// admin: the member registry bucket MEMBERS (put, get, watch, history);
	// not the right to push account JWTs, which takes a system-account user.
	{admin, registry, nil},
	// admin: the access tokens of the web face, bucket WEBTOKENS (issue,
	// list, revoke: tocsin token), with the same rights as on MEMBERS.
	{admin, webTokens, nil},
	// admin: ask the cluster for its status (request/reply).
	{admin, func(*tocsinv1.Member) []string { return []string{subjects.SvcStatus} }, nil},
}

// Permissions returns the publish and subscribe allow lists the server
// enforces for m, sorted. A member with the service role gets empty
// permissions, which the server reads as "everything in the account".
func Permissions(m *tocsinv1.Member) (jwt.Permissions, error) {
	if err := CheckMember(m); err != nil {
		return jwt.Permissions{}, err
	}
	var p jwt.Permissions
	if slices.Contains(m.GetRoles(), tocsinv1.Role_ROLE_SERVICE) {
		return p, nil
	}
	for _, g := range permissionTable {
		if !hasAny(m, g.roles) {
			continue
		}
		if g.pub != nil {
			p.Pub.Allow.Add(g.pub(m)...)
		}
		if g.sub != nil {
			p.Sub.Allow.Add(g.sub(m)...)
		}
	}
	slices.Sort(p.Pub.Allow)
	slices.Sort(p.Sub.Allow)
	return p, nil
}

// CheckMember reports whether m can be given permissions: a valid id, valid
// and distinct sectors, and at least one known role.
func CheckMember(m *tocsinv1.Member) error {
	if m == nil {
		return fmt.Errorf("%w: no member record", ErrInvalidMember)
	}
	if err := checkToken("member id", m.GetId()); err != nil {
		return err
	}
	for i, s := range m.GetSectors() {
		if err := checkToken("sector", s); err != nil {
			return fmt.Errorf("member %q: %w", m.GetId(), err)
		}
		if slices.Contains(m.GetSectors()[:i], s) {
			return fmt.Errorf("%w: member %q lists sector %q twice", ErrInvalidMember, m.GetId(), s)
		}
	}
	if err := checkHomeRegion(m); err != nil {
		return err
	}
	if len(m.GetRoles()) == 0 {
		return fmt.Errorf("%w: member %q has no role; grant at least ROLE_MEMBER", ErrInvalidMember, m.GetId())
	}
	for _, r := range m.GetRoles() {
		if _, ok := tocsinv1.Role_name[int32(r)]; !ok || r == tocsinv1.Role_ROLE_UNSPECIFIED {
			return fmt.Errorf("%w: member %q has role %v; use member, responder, liaison, vendor, admin or service", ErrInvalidMember, m.GetId(), r)
		}
	}
	return nil
}

func hasAny(m *tocsinv1.Member, roles []tocsinv1.Role) bool {
	return slices.ContainsFunc(m.GetRoles(), func(r tocsinv1.Role) bool { return slices.Contains(roles, r) })
}

func ownInbox(m *tocsinv1.Member) []string { return []string{InboxPrefix(m.GetId()) + ".>"} }

// liveView is what m's live view (tocsin tail) subscribes to: the router's
// copies to its inbox and its sectors, as they are published; for a
// member homed in a region (of a supercluster of stream sets), every
// region's copies (tocsin.r.*.sector.<sector>.>), as its consumers filter
// them (homeCopies).
func liveView(m *tocsinv1.Member) []string {
	_, filter := homeCopies(m)
	out := []string{filter(subjects.Inbox(m.GetId()))}
	for _, s := range m.GetSectors() {
		out = append(out, filter(subjects.SectorAll(s)))
	}
	return out
}

func ingest(kinds ...string) func(m *tocsinv1.Member) []string {
	return func(m *tocsinv1.Member) []string {
		var out []string
		for _, k := range kinds {
			out = append(out, subjects.Ingest(k, m.GetId()))
		}
		return out
	}
}

// consumerAPI allows, for each of m's consumers, exactly: info, next (pull)
// and acks.
func consumerAPI(m *tocsinv1.Member) []string {
	var out []string
	for _, c := range Consumers(m) {
		sn := c.Stream + "." + c.Name
		out = append(out,
			jsConsInfo+sn,
			jsConsNext+sn,
			jsAck+sn+".>",
		)
	}
	return out
}

func routedOutcomes(m *tocsinv1.Member) []string {
	return []string{RoutedGetSubject(m.GetId(), ">")}
}

func reachRead(*tocsinv1.Member) []string {
	return []string{jsDirectGet + kvReachStream, jsDirectGet + kvReachStream + ".>"}
}

// registry is what a nats.go KeyValue handle on MEMBERS needs without a
// consumer: bind (stream info), put/delete/purge of a key, get (direct or
// message get) and listing by batch direct get (kvread.Scan). Not consumer
// create: a consumer's config may name any deliver subject in TOCSIN, and
// no allow list can pin it, so an admin's watch or key listing would be a
// way to make messages arrive on any member's routed subjects.
func registry(*tocsinv1.Member) []string { return bucketRights(kvMembersStream, kvMembersPrefix) }

// webTokens is what a KeyValue handle on WEBTOKENS needs, as registry.
func webTokens(*tocsinv1.Member) []string { return bucketRights(kvWebTokensStream, kvWebTokensPrefix) }

// bucketRights are the subjects of a KeyValue handle on the bucket behind
// stream, whose keys are under prefix.
func bucketRights(stream, prefix string) []string {
	return []string{
		prefix + ">",
		jsStreamInfo + stream,
		jsDirectGet + stream,
		jsDirectGet + stream + ".>",
		jsMsgGet + stream,
	}
}
