package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// memberService is one TOCSIN subject (a wildcard) exported as a service
// to the members' accounts. Together they are everything any member can
// reach in the TOCSIN account; each member's account imports only the
// literal parts of them its permissions name (addImports).
type memberService struct {
	subject string
	// many: a request may get many responses (a pull batch, a batch get),
	// not one.
	many bool
}

// memberServices is the TOCSIN export table.
func memberServices() []memberService {
	out := []memberService{
		// Publishing to ingest; the reply carries the stream's PubAck.
		{subjects.IngestAll, false},
	}
	// Ingest and the reach requests in a member's home region (homeIngest).
	for _, s := range regionHomeServices {
		out = append(out, memberService{s, false})
	}
	// The consumers of the copies streams, SECTORS, INBOX and REJECTIONS,
	// or a region's (SECTORS-east) for a member homed there: any stream
	// name, since regions are not known here and a subject token cannot
	// end in a wildcard. A member's account imports only its own
	// consumers' literal subjects (consumerAPI), and only the operator
	// signs accounts.
	out = append(out,
		// Looking up a consumer.
		memberService{jsConsInfo + "*.*", false},
		// Pulling from a consumer: a batch is many messages. The server
		// maps answers back for 2 minutes (its default response
		// threshold), so a pull must expire sooner (nats.go: 30s).
		memberService{jsConsNext + "*.*", true},
		// Acking, naking or terminating a delivered message (an ack
		// sync gets one reply).
		memberService{jsAck + "*.>", false},
	)
	out = append(out,
		// Direct get, by subject, of the router's outcomes (ROUTED bucket).
		memberService{jsDirectGet + kvRoutedStream + ".>", false},
		// Direct get of the REACH bucket: by subject, and batch or multi-last
		// (many responses).
		memberService{jsDirectGet + kvReachStream + ".>", false},
		memberService{jsDirectGet + kvReachStream, true},
		// JetStream account info. No member may call it (no allow list names
		// it); every member account imports it so that the server does not
		// give an account without JetStream its implicit import of all of
		// $JS.API.> from the system account, which would answer in TOCSIN's
		// stead.
		memberService{jsAPI + "INFO", false},
		// The mutual-aid service's read path (requests, offers,
		// capabilities) and the regional situation board: one answer each.
		memberService{subjects.SvcAidPrefix + "*.*", false},
		memberService{subjects.SvcSituationPrefix + "*", false},
		// The public member directory and the re-creation of a member's
		// own consumer (agent service).
		memberService{subjects.SvcDirectory, false},
		memberService{subjects.SvcConsumerPrefix + "*", false},
		// The registry's contacts, for liaisons (agent service).
		memberService{subjects.SvcContactsPrefix + "*", false},
		// The receipts of a sender's own message (the router).
		memberService{subjects.SvcReachPrefix + "*", false},
		// Admins: the cluster status request, which every node answers
		// (a singleton export let only the first answer through: on
		// stream sets a witness's, with no stream).
		memberService{subjects.SvcStatus, true},
	)
	// Admins: the registry and the web face's access tokens, as KeyValue
	// buckets read and written without a consumer (bucketRights).
	for _, b := range []struct{ stream, prefix string }{{kvMembersStream, kvMembersPrefix}, {kvWebTokensStream, kvWebTokensPrefix}} {
		out = append(out,
			memberService{b.prefix + ">", false},
			memberService{jsStreamInfo + b.stream, false},
			memberService{jsMsgGet + b.stream, false},
			memberService{jsDirectGet + b.stream + ".>", false},
			memberService{jsDirectGet + b.stream, true},
		)
	}
	return out
}

// memberStreams are the routed subjects TOCSIN exports as streams, for the
// live view (tocsin tail): each member's account imports its own sectors
// and its own inbox. What was routed before a subscription started is read
// through the member's consumers. A member homed in a region watches every
// region's instead (regionStreams).
var memberStreams = []string{subjects.SectorsAll, subjects.InboxAll}

// addExports lists every member service as a public service export of the
// TOCSIN account and the routed subjects as stream exports. Public means
// any account of this operator may import them; only the operator signing
// key signs accounts, and each member's account imports only its own part.
func addExports(ac *jwt.AccountClaims) {
	for _, s := range memberServices() {
		e := &jwt.Export{Name: s.subject, Subject: jwt.Subject(s.subject), Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton}
		if s.many {
			e.ResponseType = jwt.ResponseTypeStream
		}
		ac.Exports.Add(e)
	}
	for _, s := range slices.Concat(memberStreams, regionStreams) {
		ac.Exports.Add(&jwt.Export{Name: s, Subject: jwt.Subject(s), Type: jwt.Stream})
	}
	siteExports(ac)
}

// addImports imports into m's account ac, from the TOCSIN account tocsin,
// what m's permissions name: every subject it may publish to as a service
// (plus JetStream account info, see memberServices), every routed subject
// it may subscribe to as a stream. Nothing else of TOCSIN exists in ac, so
// no allow list has to keep m out of other members' subjects: there are
// none. It fails if an import is not covered by an export (a permission
// without its export line).
func addImports(ac *jwt.AccountClaims, tocsin string, m *tocsinv1.Member) error {
	perms, err := Permissions(m)
	if err != nil {
		return err
	}
	services := append([]string{jsAPI + "INFO"}, perms.Pub.Allow...)
	for _, s := range services {
		if !exported(s, jwt.Service) {
			return fmt.Errorf("%w: member %q may publish to %s, which TOCSIN does not export; add it to memberServices", ErrInvalidMember, m.GetId(), s)
		}
		imp := &jwt.Import{Name: s, Subject: jwt.Subject(s), Account: tocsin, Type: jwt.Service}
		if home, err := homeIngest(m, s); err != nil {
			return err
		} else if home != imp.Subject {
			imp.Subject, imp.LocalSubject = home, jwt.RenamingSubject(s)
		}
		ac.Imports.Add(imp)
	}
	for _, s := range perms.Sub.Allow {
		if strings.HasPrefix(s, "_INBOX") {
			continue // replies, inside the account
		}
		if !exported(s, jwt.Stream) {
			return fmt.Errorf("%w: member %q may subscribe to %s, which TOCSIN does not export; add it to memberStreams", ErrInvalidMember, m.GetId(), s)
		}
		ac.Imports.Add(&jwt.Import{Name: s, Subject: jwt.Subject(s), Account: tocsin, Type: jwt.Stream})
	}
	return nil
}

// exported reports whether subject is inside one of TOCSIN's exports of
// type kind.
func exported(subject string, kind jwt.ExportType) bool {
	var subs []string
	if kind == jwt.Stream {
		subs = slices.Concat(memberStreams, regionStreams)
	} else {
		for _, s := range memberServices() {
			subs = append(subs, s.subject)
		}
	}
	for _, e := range subs {
		if jwt.Subject(subject).IsContainedIn(jwt.Subject(e)) {
			return true
		}
	}
	return false
}
