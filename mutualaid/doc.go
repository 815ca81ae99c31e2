// Package mutualaid is Tocsin's mutual-aid service: capability
// registrations, requests, offers, the lifecycle that books and frees
// responders' capacity, expiry, and the read path through which members see
// aid state and the regional situation boards. It is the router's sibling
// (package alerts): every node runs a Service, the nodes share one durable
// pull consumer on INGEST filtered to tocsin.ingest.aid.*, so each message
// is handled once and a node's loss moves its work to the others.
//
// # Messages
//
// Members publish signed envelopes on their own aid ingest subject:
// KIND_AID_REQUEST (any member), KIND_AID_OFFER and KIND_CAPABILITY
// (responders), KIND_AID_DECISION (accept and decline by the requester;
// withdraw, mobilise, arrive and demobilise by the offer's responder; close
// and cancel by the requester; expire by the service only). The service
// checks them as the router does (subject sender, message id, skew,
// signature), applies them, and records an Outcome in ROUTED under
// "<sender>.<id>", so client.WaitOutcome works for aid messages too; a
// refusal is a signed Rejection on tocsin.rejection.<sender> and a REJECTED
// outcome. An illegal step is ILLEGAL_TRANSITION with the state and the
// steps it allows; an accept beyond the remaining need is OVER_FILL (accept
// part with a quantity); beyond the responder's free units NO_CAPACITY.
//
// # State
//
// The AID bucket holds, as JSON:
//
//	req.<request id>    the Request: needs with accepted units, offers, timeline
//	offer.<offer id>    the request the offer answers (decisions may name the offer only)
//	resp.<responder>    capability registrations and capacity bookings
//
// Every change is a compare-and-set on the revision read from the stream
// leader. An accept (and a demobilise) changes the request and the
// responder's record together, in one JetStream atomic batch
// (AllowAtomicPublish on KV_AID) whose every message carries its key's
// expected last sequence: the leader applies both or neither, so capacity
// is never booked twice, a request never over-filled, and of two nodes
// accepting at once one wins and the other reads again.
//
// Capabilities: the registry's member records are the base (the demo seed
// gives ir-firm and downtime-staffing theirs); a responder's registrations
// are updates over them by capability id: the same id replaces the
// registry's package, a new id adds one, removed hides one. Free units are
// the capacity less the units booked by accepted, mobilising and on-site
// offers; demobilising frees them, and so does the request's end: a close,
// a cancel or an expiry releases every unit the request still books, in
// the same atomic batch, and those offers become released (final), so a
// responder whose requester forgot it is never left booked. An orderly
// end demobilises the responders first, so each departure is signed by
// the responder; an offer never accepted is left to its responder.
//
// # Audit and notices
//
// Every applied step's signed envelope (the member's own) is appended to
// AID_AUDIT on tocsin.aid.req.<request>.<action>.<envelope id>
// (registrations on tocsin.aid.cap.<responder>.<envelope id>), once: each
// subject is unique and published with expected last sequence 0. The
// request's record keeps the timeline (who signed each step, with which
// key, when). Copies of the envelope go to the inboxes of those a step
// concerns: a new request to its audience, an offer's steps to the other
// party, the end of a request to the responders with offers in play. The
// copies are the members' own signed envelopes, as the router forwards
// alerts, so a responder can check who asked.
//
// # TLP
//
// The audience of a request: CLEAR, GREEN and AMBER go to the responders
// with an active capability of a needed type, serving the request's
// region, with free units, and to the organisations named with --to;
// AMBER+STRICT and RED only to the named organisations, even when others
// match. Who may see a request (show, list, offer on it): the requester;
// every member for CLEAR and GREEN; the audience and the liaison for AMBER;
// only the named organisations for AMBER+STRICT and RED. A request one may
// not see and one that does not exist get the same answer. Responders see
// their own offers only.
//
// # Expiry
//
// Every node checks its copy of the bucket (a watcher) each ExpiryCheck
// and publishes, for each request past its expiry, a service-signed expire
// decision on its own aid ingest subject with a message id derived from
// the request, so the copies from several nodes are one; it is handled like
// any decision. The timer is the bucket's state, so it survives any node.
//
// # Regions
//
// On a supercluster whose regions each hold a stream set (Options.Region,
// docs/REGIONS.md), each region's service takes its region's aid ingest
// (INGEST-<region>: its members' home region) and writes outcomes,
// notices and rejections there, but every region's service keeps the
// state in one AID bucket, AID-<aid region>, with the audit trail in
// AID_AUDIT-<aid region> (Options.AidRegion, by default the registry's
// region): an accept's atomic batch books a responder's units with the
// request, and a batch is one stream's. A board merges every region's
// SITUATION-<region> and names the regions it could not read
// (Board.Unreachable).
//
// # Read path
//
// Members cannot read the buckets. They ask on tocsin.svc.aid.<member>.<op>
// (show, list, capabilities) and tocsin.svc.situation.<member> (a region's
// board of status reports, verified); the server lets a member publish only
// on its own token, and the service answers with what that member may see.
// Ask is the client side.
package mutualaid
