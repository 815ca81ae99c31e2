package auth

import (
	"github.com/nats-io/jwt/v2"

	"github.com/tocsin-project/tocsin/subjects"
)

// memberService is one TOCSIN subject the ORGS account imports as a service.
// Together they are everything a member organisation can reach in the
// TOCSIN account, whatever its own allow lists say; the allow lists then
// narrow each to the member's own consumers, subjects and keys.
type memberService struct {
	subject string
	// many: a request may get many responses (a pull batch, a batch get),
	// not one.
	many bool
}

// memberServices is the ORGS → TOCSIN import table.
func memberServices() []memberService {
	out := []memberService{
		// Publishing to ingest; the reply carries the stream's PubAck.
		{subjects.IngestAll, false},
	}
	for _, st := range []string{subjects.StreamSectors, subjects.StreamInbox, subjects.StreamRejections} {
		out = append(out,
			// Looking up a consumer of the stream.
			memberService{jsConsInfo + st + ".*", false},
			// Pulling from a consumer: a batch is many messages. The server
			// maps answers back for 2 minutes (its default response
			// threshold), so a pull must expire sooner (nats.go: 30s).
			memberService{jsConsNext + st + ".*", true},
			// Acking, naking or terminating a delivered message (an ack
			// sync gets one reply).
			memberService{jsAck + st + ".>", false},
		)
	}
	return append(out,
		// Direct get, by subject, of the router's outcomes (ROUTED bucket).
		memberService{jsDirectGet + kvRoutedStream + ".>", false},
		// Direct get of the REACH bucket: by subject, and batch or multi-last
		// (many responses).
		memberService{jsDirectGet + kvReachStream + ".>", false},
		memberService{jsDirectGet + kvReachStream, true},
		// JetStream account info. No member may call it (no allow list names
		// it); it is imported so that the server does not give ORGS, which
		// has no JetStream, its implicit import of all of $JS.API.> from the
		// system account, which would answer in TOCSIN's stead.
		memberService{jsAPI + "INFO", false},
		// The mutual-aid service's read path (requests, offers,
		// capabilities) and the regional situation board: one answer each.
		memberService{subjects.SvcAidPrefix + "*.*", false},
		memberService{subjects.SvcSituationPrefix + "*", false},
		// The public member directory and the re-creation of a member's
		// own consumer (agent service).
		memberService{subjects.SvcDirectory, false},
		memberService{subjects.SvcConsumerPrefix + "*", false},
	)
}

// addExports lists every member service as a public service export of the
// TOCSIN account (only this operator's accounts can import it).
func addExports(ac *jwt.AccountClaims) {
	for _, s := range memberServices() {
		e := &jwt.Export{Name: s.subject, Subject: jwt.Subject(s.subject), Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton}
		if s.many {
			e.ResponseType = jwt.ResponseTypeStream
		}
		ac.Exports.Add(e)
	}
	for _, s := range memberStreams {
		ac.Exports.Add(&jwt.Export{Name: s, Subject: jwt.Subject(s), Type: jwt.Stream})
	}
}

// memberStreams are the routed subjects TOCSIN exports to ORGS as streams,
// for the live view (tocsin tail): each member's allow list then narrows
// them to its own sectors and its own inbox. What was routed before a
// subscription started is read through the member's consumers.
var memberStreams = []string{subjects.SectorsAll, subjects.InboxAll}

// addImports imports every member service from the TOCSIN account under
// the same subject.
func addImports(ac *jwt.AccountClaims, tocsin string) {
	for _, s := range memberServices() {
		ac.Imports.Add(&jwt.Import{Name: s.subject, Subject: jwt.Subject(s.subject), Account: tocsin, Type: jwt.Service})
	}
	for _, s := range memberStreams {
		ac.Imports.Add(&jwt.Import{Name: s, Subject: jwt.Subject(s), Account: tocsin, Type: jwt.Stream})
	}
}
